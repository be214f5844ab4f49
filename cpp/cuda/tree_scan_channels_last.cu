// Tree scan on the device, rows (B, L, D) with channels contiguous.
//
// A block takes one sample and 32 of its channels, a lane per channel or, where the rows allow,
// per pair of channels (lane_width): every read or write of a vertex's values is then one
// coalesced transaction for the 32 or 16 lanes that share the vertex. The block's warps share out
// the vertices of each level (scan_schedule.cuh) and meet at a barrier between levels. Nothing
// is held on chip between the passes: the leaves→root pass writes the up-sums to global memory
// (into the output when it has the accumulation type, else into the workspace), the
// root→leaves pass reads them back and overwrites them with the results. A level's reads of the
// level below are recent writes of the same block, served by L2. So the values need no shared
// memory (only the sample's schedule goes there, where it fits: stages_schedule), every channel
// of every sample can be in flight at once, and the kernel moves two extra row passes (write and
// read of the up-sums) over the minimum.
//
// Where these blocks are fewer than the multiprocessors (a few images, deep trees), the `all`
// scan runs in depth bands instead (band_scan.cuh): more memory traffic, far fewer dependent steps.
// Where the trees are small (GrootV-T's 7x7 stage), a thread walks each channel with its values
// in shared memory instead (channel_walk.cuh): the minimum traffic, no barriers.
//
// Passes and backward formulas are those of the CPU core (cpp/src/tree_scan.cpp).
#include "band_scan.cuh"
#include "channel_walk.cuh"
#include "channels_last.cuh"
#include "common.cuh"
#include "scan_schedule.cuh"

#include <type_traits>

namespace groot::cuda {
namespace {

// Warps per block: the vertices of a level in flight for the block's 32 channels. Every warp
// walks every level, so warps beyond a tree's typical level width only cost issue slots and
// residency (H200, B = 128: 8 warps best at 56x56, 4 at 28x28, 2 at 14x14 and 7x7). With few
// blocks a multiprocessor (a batch of 16 at 512x512), twice as many pay while every block still
// fits at once (the kernels' ~46 registers leave room for ~40 warps a multiprocessor); H100, ms,
// forward / backward: 16 x 320 x 64x64 0.94 / 1.03 -> 0.77 / 0.85, 16 x 640 x 32x32 0.43 / 0.48
// -> 0.34 / 0.39. Dense prediction is the other extreme: one or two images of tens of thousands
// of vertices, levels dozens wide and too few blocks to fill the GPU; each block then takes all
// the warps it may (the `root` scan there: the `all` scan runs in bands).
constexpr int kMaxWarps = 32;
constexpr index_t kResidentWarps = 40;

int warps_per_block(ChannelShape shape) {
  const index_t L = shape.vertices, blocks = level_walk_blocks(shape);
  const index_t sms = detail::device_attribute(cudaDevAttrMultiProcessorCount);
  if (L >= 16384 && 4 * blocks <= sms) return kMaxWarps;
  const int warps = L >= 2048 ? 8 : L >= 512 ? 4 : 2;
  const index_t blocks_per_sm = (blocks + sms - 1) / sms;
  return L >= 1024 && blocks_per_sm * 2 * warps <= kResidentWarps ? 2 * warps : warps;
}

// Calls ahead(level) and then visit(k) for the lane's positions of every level, deepest first (up
// = true) or root first, a barrier between levels so that each level sees the one visited before
// it complete.
template <int W, class S, class Ahead, class Visit>
__device__ void for_each_level(const S& s, const LaneOf<W>& lane, bool up, Ahead ahead, Visit visit) {
  for (int i = 0; i < s.levels; ++i) {
    const int level = up ? s.levels - 1 - i : i;
    ahead(level);
    for_each_position(lane, s.level_start[level], s.level_start[level + 1], visit);
    __syncthreads();
  }
}

// up_v = x_v + Σ_children w_c up_c for one or more rows (x, up) pairs sharing the decay row.
template <class T, class A, int kRows, int W, class S>
__device__ void gather_up(const S& s, const LaneOf<W>& lane, const T* const (&x)[kRows], const T* decay,
                          A* const (&up)[kRows]) {
  using V = Vec<A, W>;
  // Level l reads x at its own vertices and decay at its children (level l + 1): two steps
  // ahead of level l, level l - 2 will want x at level l - 2 and decay at level l - 1.
  auto ahead = [&](int level) {
    prefetch_level(s, lane, level - 1, decay);
#pragma unroll
    for (int r = 0; r < kRows; ++r) prefetch_level(s, lane, level - 2, x[r]);
  };
  for_each_level(s, lane, true, ahead, [&](int k) {
    if (!lane.active) return;
    const int v = s.order[k];
    V sum[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) sum[r] = load_vec<A, W>(x[r] + lane.at(v));
    for (int c = s.child_start[k]; c < s.child_start[k + 1]; ++c) {
      const index_t u = lane.at(s.order[c]);
      const V w = load_vec<A, W>(decay + u);
#pragma unroll
      for (int r = 0; r < kRows; ++r) sum[r] = mul_add(w, load_vec<A, W>(up[r] + u), sum[r]);
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) store_vec(up[r] + lane.at(v), sum[r]);
  });
}

template <class T, bool kStaged, int W>
__global__ void __launch_bounds__(kMaxWarps * 32) channels_last_forward_kernel(
    ChannelShape shape, const T* x, const T* decay, Schedule schedule, ScanMode mode, T* y,
    detail::acc_t<T>* up) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  index_t b;
  const LaneOf<W> lane = block_lane<W>(shape, b);
  with_schedule<kStaged>(schedule, b, shape.vertices, [&](const auto& s) {
    const T* const xs[1] = {x};
    A* const ups[1] = {up};
    gather_up(s, lane, xs, decay, ups);
    if (mode == ScanMode::root) {
      if constexpr (!kAccumulatesInOutput<T>) {
        if (lane.active)
          for_each_position(lane, 0, static_cast<int>(shape.vertices), [&](int v) {
            store_vec(y + lane.at(v), load_vec<A, W>(up + lane.at(v)));
          });
      }
      return;
    }
    // y_v = up_v (1 - w_v²) + w_v y_parent, root first; the root's y is its up-sum.
    auto ahead = [&](int level) { prefetch_level(s, lane, level + 2, up, decay); };
    for_each_level(s, lane, false, ahead, [&](int k) {
      if (!lane.active) return;
      const int v = s.order[k], p = s.parent[v];
      const index_t i = lane.at(v);
      V value = load_vec<A, W>(up + i);
      if (k > 0 && p >= 0) {
        const V w = load_vec<A, W>(decay + i);
        value = mul_add(w, load_vec<A, W>(up + lane.at(p)), value * (V::fill(1) - w * w));
      }
      store_result(y, up, i, value);
    });
  });
}

template <class T, bool kStaged, int W>
__global__ void __launch_bounds__(kMaxWarps * 32) channels_last_backward_kernel(
    ChannelShape shape, const T* grad_y, const T* x, const T* decay, Schedule schedule, ScanMode mode,
    T* grad_x, T* grad_decay, detail::acc_t<T>* up_x, detail::acc_t<T>* up_g) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  index_t b;
  const LaneOf<W> lane = block_lane<W>(shape, b);
  with_schedule<kStaged>(schedule, b, shape.vertices, [&](const auto& s) {
    if (mode == ScanMode::all) {
      // up(x) and up(grad_y), then, root first, y and grad_x in their place and dL/dw.
      const T* const ins[2] = {x, grad_y};
      A* const ups[2] = {up_x, up_g};
      gather_up(s, lane, ins, decay, ups);
      auto ahead = [&](int level) { prefetch_level(s, lane, level + 2, up_x, up_g, decay); };
      for_each_level(s, lane, false, ahead, [&](int k) {
        if (!lane.active) return;
        const int v = s.order[k], p = s.parent[v];
        const index_t i = lane.at(v);
        const V ux = load_vec<A, W>(up_x + i), ug = load_vec<A, W>(up_g + i);
        if (k == 0 || p < 0) {
          store_vec(grad_decay + i, V::fill(0));  // the root owns no edge
          store_result(grad_x, up_g, i, ug);
          return;
        }
        const index_t ip = lane.at(p);
        const V w = load_vec<A, W>(decay + i), yp = load_vec<A, W>(up_x + ip), gp = load_vec<A, W>(up_g + ip);
        const V keep = V::fill(1) - w * w;
        store_vec(grad_decay + i, mul_add(ug, yp - w * ux, ux * (gp - w * ug)));
        store_vec(up_x + i, mul_add(w, yp, ux * keep));
        store_result(grad_x, up_g, i, mul_add(w, gp, ug * keep));
      });
    } else {
      // up(x), then, root first, grad_x_v = g_v + w_v grad_x_parent and dL/dw_v = grad_x_parent up_v.
      const T* const ins[1] = {x};
      A* const ups[1] = {up_x};
      gather_up(s, lane, ins, decay, ups);
      auto ahead = [&](int level) { prefetch_level(s, lane, level + 2, up_x, grad_y, decay); };
      for_each_level(s, lane, false, ahead, [&](int k) {
        if (!lane.active) return;
        const int v = s.order[k], p = s.parent[v];
        const index_t i = lane.at(v);
        V g = load_vec<A, W>(grad_y + i);
        V gw = V::fill(0);
        if (k > 0 && p >= 0) {
          const V gp = load_vec<A, W>(up_g + lane.at(p));
          gw = gp * load_vec<A, W>(up_x + i);
          g = mul_add(load_vec<A, W>(decay + i), gp, g);
        }
        store_vec(grad_decay + i, gw);
        store_result(grad_x, up_g, i, g);
      });
    }
  });
}

// Whether the level walk's blocks copy their sample's schedule into shared memory first. Every
// level step reads it (level bounds, then positions and child ranges, then the children's vertex
// ids), a chain of dependent loads in front of the values themselves, each an L1 miss or hit in
// global memory and a few dozen cycles in shared memory. As short, so trees under 2^15 vertices,
// and only where the blocks still fit on the GPU at once beside it. H100, fp32, forward /
// backward ms, from the workspace -> staged: 128 x 160 x 56x56 1.20 / 1.54 -> 0.90 / 1.41,
// 128 x 1280 x 7x7 0.146 / 0.184 -> 0.130 / 0.178, 16 x 320 x 64x64 1.17 / 1.25 -> 0.85 / 0.96.
bool stages_schedule(ChannelShape shape) {
  if (!stages_as_short(shape.vertices)) return false;
  const std::size_t bytes = staged_schedule_bytes<short>(shape.vertices);
  const auto sms = static_cast<unsigned>(detail::device_attribute(cudaDevAttrMultiProcessorCount));
  const std::size_t per_sm = (level_walk_blocks(shape) + sms - 1) / sms;
  return bytes <= static_cast<std::size_t>(detail::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin)) &&
         per_sm * (bytes + 1024) <=
             static_cast<std::size_t>(detail::device_attribute(cudaDevAttrMaxSharedMemoryPerMultiprocessor));
}

// Launches the level walk kernel_of(staged, width) over its blocks, the schedule staged where it pays.
template <class KernelOf, class... Args>
void launch_level_walk(ChannelShape shape, int width, KernelOf kernel_of, const char* name, cudaStream_t stream,
                       Args... args) {
  const bool stage = stages_schedule(shape);
  const std::size_t shared = stage ? staged_schedule_bytes<short>(shape.vertices) : 0;
  const auto of_staged = of_width(width, kernel_of);
  const auto kernel = stage ? of_staged(std::true_type{}) : of_staged(std::false_type{});
  if (stage) detail::allow_dynamic_shared(kernel, shared);
  kernel<<<level_walk_blocks(shape), warps_per_block(shape) * 32, shared, stream>>>(args...);
  detail::check_launch(name);
}

}  // namespace

template <class T>
std::size_t tree_scan_channels_last_workspace_bytes(ChannelShape shape, bool backward) {
  check_sample_size(shape);
  // None where the channel walk takes the scan in either mode (it needs more rows in the `all`
  // backward). Else laid out as the launchers below do: the schedule, up(x) in the backward, the
  // carry rows of y or grad_x, then what the band scan adds where it runs.
  if (takes_channel_walk<T>(shape, backward ? 2 : 1)) return 0;
  detail::WorkspaceLayout w;
  take_schedule(w, shape);
  if (backward) w.take<detail::acc_t<T>>(static_cast<std::size_t>(shape.numel()));
  carry_rows<T>(w, shape, nullptr);
  if (band_plan(shape).levels_per_band > 0) {
    take_bands(w, shape, 0);
    if (backward)
      take_band_rows<T, 2>(w, shape);
    else
      take_band_rows<T, 1>(w, shape);
  }
  return w.bytes();
}

template <class T>
void tree_scan_channels_last_forward(ChannelShape shape, const T* x, const T* decay, const index_t* order,
                                     const index_t* parent, ScanMode mode, T* y, void* workspace,
                                     cudaStream_t stream) {
  using A = detail::acc_t<T>;
  if (shape.numel() == 0) return;
  check_sample_size(shape);
  if (channel_walk_forward(shape, x, decay, order, parent, mode, y, stream)) return;
  detail::WorkspaceLayout w(workspace);
  const Schedule s = take_schedule(w, shape);
  A* up = carry_rows(w, shape, y);
  const int width = lane_width(shape, x, decay, y, up);
  if (const BandPlan plan = mode == ScanMode::all ? band_plan(shape) : BandPlan{}; plan.levels_per_band > 0) {
    const Bands bands = take_bands(w, shape, plan.levels_per_band);
    BandRows<T, 1> rows = take_band_rows<T, 1>(w, shape);
    rows.in[0] = x;
    rows.up[0] = up;
    const int band_width =
        band_sweep_width<1>(plan, width, allows_width(shape, 4, x, decay, y, up, rows.through, rows.local[0]));
    fill_schedule_and_bands(s, shape, order, parent, bands, stream);
    run_band_sweeps(shape, decay, s, plan, bands, rows, band_width, stream);
    const auto finish_of = [](auto width) { return band_forward_finish_kernel<T, decltype(width)::value>; };
    launch_band_sweep(plan, band_width, finish_of, "band_forward_finish_kernel", stream, shape, decay, s, bands, rows,
                      y);
    return;
  }
  fill_schedule(s, shape, order, parent, stream);
  const auto kernel_of = [](auto staged, auto width) {
    return channels_last_forward_kernel<T, decltype(staged)::value, decltype(width)::value>;
  };
  launch_level_walk(shape, width, kernel_of, "channels_last_forward_kernel", stream, shape, x, decay, s, mode, y,
                    up);
}

template <class T>
void tree_scan_channels_last_backward(ChannelShape shape, const T* grad_y, const T* x, const T* decay,
                                      const index_t* order, const index_t* parent, ScanMode mode, T* grad_x,
                                      T* grad_decay, void* workspace, cudaStream_t stream) {
  using A = detail::acc_t<T>;
  if (shape.numel() == 0) return;
  check_sample_size(shape);
  if (channel_walk_backward(shape, grad_y, x, decay, order, parent, mode, grad_x, grad_decay, stream)) return;
  detail::WorkspaceLayout w(workspace);
  const Schedule s = take_schedule(w, shape);
  A* up_x = w.take<A>(static_cast<std::size_t>(shape.numel()));
  A* up_g = carry_rows(w, shape, grad_x);
  const int width = lane_width(shape, grad_y, x, decay, grad_x, grad_decay, up_x, up_g);
  if (const BandPlan plan = mode == ScanMode::all ? band_plan(shape) : BandPlan{}; plan.levels_per_band > 0) {
    const Bands bands = take_bands(w, shape, plan.levels_per_band);
    BandRows<T, 2> rows = take_band_rows<T, 2>(w, shape);
    rows.in[0] = x;
    rows.in[1] = grad_y;
    rows.up[0] = up_x;
    rows.up[1] = up_g;
    const bool quads = allows_width(shape, 4, grad_y, x, decay, grad_x, grad_decay, up_x, up_g, rows.through,
                                    rows.local[0], rows.local[1]);
    const int band_width = band_sweep_width<2>(plan, width, quads);
    fill_schedule_and_bands(s, shape, order, parent, bands, stream);
    run_band_sweeps(shape, decay, s, plan, bands, rows, band_width, stream);
    const auto finish_of = [](auto width) { return band_backward_finish_kernel<T, decltype(width)::value>; };
    launch_band_sweep(plan, band_width, finish_of, "band_backward_finish_kernel", stream, shape, decay, s, bands, rows,
                      grad_x, grad_decay);
    return;
  }
  fill_schedule(s, shape, order, parent, stream);
  const auto kernel_of = [](auto staged, auto width) {
    return channels_last_backward_kernel<T, decltype(staged)::value, decltype(width)::value>;
  };
  launch_level_walk(shape, width, kernel_of, "channels_last_backward_kernel", stream, shape, grad_y, x, decay, s,
                    mode, grad_x, grad_decay, up_x, up_g);
}

#define GROOT_INSTANTIATE(T)                                                                                \
  template std::size_t tree_scan_channels_last_workspace_bytes<T>(ChannelShape, bool);                     \
  template void tree_scan_channels_last_forward<T>(ChannelShape, const T*, const T*, const index_t*,        \
                                                   const index_t*, ScanMode, T*, void*, cudaStream_t);      \
  template void tree_scan_channels_last_backward<T>(ChannelShape, const T*, const T*, const T*,             \
                                                    const index_t*, const index_t*, ScanMode, T*, T*, void*, \
                                                    cudaStream_t);
GROOT_INSTANTIATE(float)
GROOT_INSTANTIATE(double)
GROOT_INSTANTIATE(__half)
GROOT_INSTANTIATE(__nv_bfloat16)
#undef GROOT_INSTANTIATE

}  // namespace groot::cuda
