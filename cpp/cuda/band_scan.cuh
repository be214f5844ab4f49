// The `all` scan in depth bands, for deep trees whose few (sample, channel tile) blocks would
// leave the GPU idle (dense prediction: one image, 67 000 vertices, ~1 800 levels).
//
// The level walk of tree_scan_channels_last.cu takes 2 × depth dependent steps. Here the levels
// are cut into bands of K; every band is walked by its own block at once, and only the values
// where bands meet go from band to band, like a chunked scan over a sequence:
//   1. sweep (local): each band's up-sums without the bands below it, and at its bottom
//      `through[v]`, the product of decays from v up to its band's top (excluded): how much of v
//      reaches the top (at a top: how much of it reaches the top of the band above,
//      decay(u)·through(parent(u)));
//   2. up chain: the band tops' up-sums, deepest band first, from the tops of the band below:
//      U(r) += Σ through(u) · U(u) over its descendants u at the next top;
//   3. sweep (final): the rest of each band's up-sums from the final tops, then at its bottom the
//      root→leaves results taken as if the band's top had no parent (`local`);
//   4. down chain: the results at each band's bottom, band after band, from the bottom of the
//      band above: local(v) += through(v) · decay(anchor) · result(parent(anchor));
//   5. finish: each band's results root→leaves from the final bottom of the band above.
// Sequential steps: ~5K + 2 · depth / K instead of 2 · depth; memory moved: about twice the level
// walk's, which a GPU these trees leave idle can spare. Only the positions of a band's top and
// bottom levels link bands (scan_schedule.cuh gives BFS positions, siblings together, so the
// descendants of a top at the next top form one range of positions).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "band_chains.cuh"
#include "bands.cuh"
#include "channels_last.cuh"
#include "common.cuh"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

// What a band kernel's block works on: 32 channels of one sample (a lane for each W of them), the
// sample's schedule (S: in the workspace, or staged in shared memory whole or a band's slice),
// and K.
template <int W, class S>
struct BandBlock {
  LaneOf<W> lane;
  index_t sample;
  S s;
  int K;
};

// One band's part of its sample's schedule, staged in shared memory by the block that walks the
// band: the positions of its levels and of the level below (order and each position's parent
// vertex), the child ranges of its own positions and its level starts. Read as a whole schedule
// is (SampleScheduleOf's accessors), at the positions and levels of the band.
//
// Before, each band block copied its sample's whole schedule where it fit in 48 KB (trees up to
// 6 143 vertices) and read the workspace above that, Mask R-CNN's stages 1-2 included. H100, fp32,
// forward / backward µs a call with launches, whole -> slice, same run: 1 x 160 x 200x336 (a Mask
// R-CNN stage-1 tree) 1 157 / 1 555 -> 1 124 / 1 531 (the sweeps' kernels 489 / 622 -> 429 / 592),
// 1 x 320 x 100x168 601 / 833 -> 559 / 818, 2 x 192 x 200x336 1 691 / 2 526 -> 1 648 / 2 494;
// stage 3 (1 x 640 x 50x84, the whole schedule staged before) 275-295 / 372-406 either way.
struct BandSlice {
  const int* order;        // positions [first, level_start(end + 1))
  const int* parent;       // parent vertex of each of those positions
  const int* child_start;  // positions [first, level_start(end)]
  const int* level_start;  // levels [top, end + 1]
  int first, top, levels;

  __device__ int order_at(int k) const { return order[k - first]; }
  __device__ int parent_at(int k) const { return parent[k - first]; }
  __device__ int child_start_at(int k) const { return child_start[k - first]; }
  __device__ int level_start_at(int level) const { return level_start[level - top]; }
};

// Shared memory of a band block of up to 8 warps, for its slice: 24 KB, the positions of ~2 000
// (a band at Mask R-CNN's stage 1 holds ~1 300); a band too wide reads the workspace. Small enough
// that blocks of 8 warps still fit 8 to a multiprocessor (H100: 228 KB, 1 KB of it reserved a
// block), as they did without it: at 32 KB only 6 fit, and 16 x 192 x 128x128 (1 056 blocks) ran
// in two waves.
constexpr std::size_t kBandSliceBytes = 24 * 1024;

// Blocks of more warps fit fewer to a multiprocessor by their threads alone (2 048 threads: two of
// 32 warps, four of 16), so they may take that much more shared memory at no cost in residency:
// 96 KB slices for blocks of 32 warps hold every band of a 200x336 tree, where 24 KB left 11 of 52
// (random features) to the workspace's schedule and the level pass. H100, fp32, forward / backward
// µs: 1 x 160 x 200x336 677 / 937 -> 534 / 807, 2 x 160 x 200x336 1 036 / 1 723 -> 871 / 1 397.
// The launcher gives no more than the device allows; a block reads what it got.
inline std::size_t band_slice_bytes(unsigned warps) { return kBandSliceBytes * (warps > 8 ? warps / 8 : 1); }

// The dynamic shared memory the running block was launched with.
__device__ inline std::size_t dynamic_shared_bytes() {
  unsigned bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(bytes));
  return bytes;
}

// Calls body(block, top, end) for each band [top, end) the block owns (bands blockIdx.y,
// + gridDim.y, ...), the block's schedule the band's slice staged in shared memory where it fits
// (band_slice_bytes), else the sample's schedule in the workspace. So does a schedule that is no
// BFS, where the band's children may lie outside the slice (child_start never decreases, so the
// children of the band's positions lie between those of its first position and its last).
template <int W, class Body>
__device__ void for_each_band_slice(ChannelShape shape, const Schedule& schedule, const Bands& bands, Body body) {
  extern __shared__ int band_slice[];
  index_t b;
  const LaneOf<W> lane = block_lane<W>(shape, b);
  const SampleSchedule whole = sample_schedule(schedule, b, shape.vertices);
  const int K = bands.levels_per_band;
  for (int top = blockIdx.y * K; top < whole.levels; top += gridDim.y * K) {
    const int end = min(top + K, whole.levels), below = min(end + 1, whole.levels);
    const int first = whole.level_start[top], bottom_end = whole.level_start[end], stop = whole.level_start[below];
    const int positions = stop - first, ranges = bottom_end - first + 1, level_starts = below - top + 1;
    const bool children_in_slice = whole.child_start[first] >= first && whole.child_start[bottom_end] <= stop;
    const std::size_t slice_bytes = std::size_t(2 * positions + ranges + level_starts) * sizeof(int);
    if (!children_in_slice || slice_bytes > dynamic_shared_bytes()) {
      body(BandBlock<W, SampleSchedule>{lane, b, whole, K}, top, end);
      continue;
    }
    int* order = band_slice;
    int* parent = order + positions;
    int* child_start = parent + positions;
    int* level_start = child_start + ranges;
    for (int j = threadIdx.x; j < positions; j += blockDim.x) {
      const int v = whole.order[first + j];
      order[j] = v;
      parent[j] = whole.parent[v];
    }
    for (int j = threadIdx.x; j < ranges; j += blockDim.x) child_start[j] = whole.child_start[first + j];
    for (int j = threadIdx.x; j < level_starts; j += blockDim.x) level_start[j] = whole.level_start[top + j];
    __syncthreads();
    body(BandBlock<W, BandSlice>{lane, b, {order, parent, child_start, level_start, first, top, whole.levels}, K},
         top, end);
    __syncthreads();  // before the next band's slice takes its place
  }
}

// Calls visit(k, level) for the lane's positions of each level in [top + skip, end), deepest
// level first or top first; a barrier after each level.
template <class Block, class Visit>
__device__ void for_each_band_level(const Block& block, int top, int end, bool deepest_first, int skip, Visit visit) {
  const auto& s = block.s;
  for (int i = skip; i < end - top; ++i) {
    const int level = deepest_first ? end - 1 - (i - skip) : top + i;
    for_each_position(block.lane, s.level_start_at(level), s.level_start_at(level + 1),
                      [&](int k) { visit(k, level); });
    __syncthreads();
  }
}

// The root→leaves values of a band are read only at its bottom level (by the chains, and by the
// finish at the next band's top), and each is a product or a sum along its vertex's path up the
// band. So where the bottom level is not much wider than the band's levels on average, a lane walks
// its bottom vertices' paths (parent after parent, from the sample's parent ids) instead of a pass
// over every level of the band: no barrier a level. A broom (a wide bottom under a narrow band)
// would walk its shared path once for every vertex below it, and takes the level pass.
__device__ inline bool bottom_walks_pay(const BandSlice& s, int top, int end) {
  const int bottom_width = s.level_start_at(end) - s.level_start_at(end - 1);
  const int band_width = s.level_start_at(end) - s.level_start_at(top);
  return std::int64_t(bottom_width) * (end - 1 - top) <= 2 * std::int64_t(band_width);
}

// Step 1 at bottom vertex v, `steps` (> 0) levels below the band's top: `through`, the decays'
// product up to the top (excluded), and the slots of v's children at positions [first_child,
// end_child) (the band below's tops): their decay times it.
template <class T, int W>
__device__ void walk_through(const int* parent, const LaneOf<W>& lane, const T* decay, detail::acc_t<T>* through,
                             int v, int steps, const BandSlice& s, int first_child, int end_child) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  V product = V::fill(1);
  for (int u = v; steps > 0 && u >= 0; --steps, u = parent[u])
    product = product * load_vec<A, W>(decay + lane.at(u));
  store_vec(through + lane.at(v), product);
  for (int c = first_child; c < end_child; ++c) {
    const index_t child = lane.at(s.order_at(c));
    store_vec(through + child, load_vec<A, W>(decay + child) * product);
  }
}

// Step 3 at bottom vertex v, `steps` levels below the band's top: `local`, the sum over the path's
// vertices u (v up to the top) of up(u)·(1 − w(u)²) times the decays' product below u (w = 0 at
// the root).
template <class T, int R, int W>
__device__ void walk_local(const int* parent, const LaneOf<W>& lane, const T* decay, const BandRows<T, R>& rows,
                           int v, int steps) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  V local[R], reach = V::fill(1);
#pragma unroll
  for (int r = 0; r < R; ++r) local[r] = V::fill(0);
  for (int u = v; steps >= 0 && u >= 0; --steps) {
    const index_t i = lane.at(u);
    const int next = parent[u];
    const V w = next >= 0 ? load_vec<A, W>(decay + i) : V::fill(0);
    const V keep = reach * (V::fill(1) - w * w);
#pragma unroll
    for (int r = 0; r < R; ++r) local[r] = mul_add(keep, load_vec<A, W>(rows.up[r] + i), local[r]);
    reach = reach * w;
    u = next;
  }
#pragma unroll
  for (int r = 0; r < R; ++r) store_vec(rows.local[r] + lane.at(v), local[r]);
}

// The walks took the single-precision sweeps of one or two channels a lane from 32 registers to
// 43-44, and their blocks of 32 warps from two a multiprocessor to one (the stage 1-2 shapes of
// one image: twice the waves). Those of the forward are held to 32; the backward's (R = 2) were
// over 32 before, or spill at it.
template <class T, int R, int W>
constexpr int kSweepBlocksPerSM = sizeof(detail::acc_t<T>) == 4 && W <= 2 && R == 1 ? 2 : 0;

// Steps 1 and 3: the leaves→root sweep of every band (local: without the band below, and the
// band's top included; final: with the final tops below, the band's top left as it is), then
// the root→leaves values at the band's bottom (local: `through`; final: `local`), by walks or a
// pass over the band's levels. The last band needs neither.
template <class T, int R, bool kFinal, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32, (kSweepBlocksPerSM<T, R, W>))
    band_sweep_kernel(ChannelShape shape, const T* decay, Schedule schedule, Bands bands, BandRows<T, R> rows) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  for_each_band_slice<W>(shape, schedule, bands, [&](const auto& block, int top, int end) {
    const LaneOf<W>& lane = block.lane;
    const auto& s = block.s;
    for_each_band_level(block, top, end, true, kFinal ? 1 : 0, [&](int k, int level) {
      if (!lane.active) return;
      const bool below = kFinal || level + 1 < end;
      const int v = s.order_at(k);
      V sum[R];
#pragma unroll
      for (int r = 0; r < R; ++r) sum[r] = load_vec<A, W>(rows.in[r] + lane.at(v));
      for (int c = below ? s.child_start_at(k) : 0; c < (below ? s.child_start_at(k + 1) : 0); ++c) {
        const index_t u = lane.at(s.order_at(c));
        const V w = load_vec<A, W>(decay + u);
#pragma unroll
        for (int r = 0; r < R; ++r) sum[r] = mul_add(w, load_vec<A, W>(rows.up[r] + u), sum[r]);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) store_vec(rows.up[r] + lane.at(v), sum[r]);
    });
    if (end == s.levels) return;
    // Walks only where the band's slice is staged: a second copy for the workspace's schedule
    // made the kernels spill.
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, BandSlice>) {
      if (bottom_walks_pay(s, top, end)) {
        const int* parent = schedule.parent + block.sample * shape.vertices;
        for_each_position(lane, s.level_start_at(end - 1), s.level_start_at(end), [&](int k) {
          if (!lane.active) return;
          // Bands hold K >= 5 levels (band_plan) but the last, which needs no walks: a bottom
          // always lies below its top.
          if constexpr (kFinal)
            walk_local<T, R, W>(parent, lane, decay, rows, s.order_at(k), end - 1 - top);
          else if (end - 1 > top)
            walk_through<T, W>(parent, lane, decay, rows.through, s.order_at(k), end - 1 - top, s,
                               s.child_start_at(k), s.child_start_at(k + 1));
        });
        return;
      }
    }
    for_each_band_level(block, top, end, false, 0, [&](int k, int level) {
      if (!lane.active) return;
      const int v = s.order_at(k), p = s.parent_at(k);
      const index_t i = lane.at(v);
      const bool has_parent = k > 0 && p >= 0, parent_in_band = has_parent && level > top;
      const V w = has_parent ? load_vec<A, W>(decay + i) : V::fill(0);
      if constexpr (!kFinal) {
        V through = V::fill(1);
        if (parent_in_band) {
          through = level > top + 1 ? w * load_vec<A, W>(rows.through + lane.at(p)) : w;
          store_vec(rows.through + i, through);
        }
        // A top's own slot holds how much of it reaches the band above's top (its chain coefficient).
        if (level == end - 1)
          for (int c = s.child_start_at(k); c < s.child_start_at(k + 1); ++c) {
            const index_t child = lane.at(s.order_at(c));
            store_vec(rows.through + child, load_vec<A, W>(decay + child) * through);
          }
      } else {
#pragma unroll
        for (int r = 0; r < R; ++r) {
          V value = load_vec<A, W>(rows.up[r] + i) * (V::fill(1) - w * w);
          if (parent_in_band) value = mul_add(w, load_vec<A, W>(rows.local[r] + lane.at(p)), value);
          store_vec(rows.local[r] + i, value);
        }
      }
    });
  });
}

// Step 5: calls finish(index, has parent, decay, up values, parent's results) root first in
// every band; a band top reads its parent's result from `local` (final at the band above's
// bottom), other vertices from `up`, where finish has put their parent's result.
template <class T, int R, int W, class Finish>
__device__ void finish_bands(ChannelShape shape, const T* decay, const Schedule& schedule, const Bands& bands,
                             const BandRows<T, R>& rows, Finish finish) {
  using V = Vec<detail::acc_t<T>, W>;
  for_each_band_slice<W>(shape, schedule, bands, [&](const auto& block, int top, int end) {
    const LaneOf<W>& lane = block.lane;
    const auto& s = block.s;
    for_each_band_level(block, top, end, false, 0, [&](int k, int level) {
      if (!lane.active) return;
      const int v = s.order_at(k), p = s.parent_at(k);
      const index_t i = lane.at(v);
      V up[R], parent_result[R];
#pragma unroll
      for (int r = 0; r < R; ++r) up[r] = load_vec<detail::acc_t<T>, W>(rows.up[r] + i);
      if (k == 0 || p < 0) {
        finish(i, false, V::fill(0), up, parent_result);
        return;
      }
#pragma unroll
      for (int r = 0; r < R; ++r)
        parent_result[r] = load_vec<detail::acc_t<T>, W>((level == top ? rows.local[r] : rows.up[r]) + lane.at(p));
      finish(i, true, load_vec<detail::acc_t<T>, W>(decay + i), up, parent_result);
    });
  });
}

template <class T, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32) band_forward_finish_kernel(ChannelShape shape, const T* decay,
                                                                              Schedule schedule, Bands bands,
                                                                              BandRows<T, 1> rows, T* y) {
  using V = Vec<detail::acc_t<T>, W>;
  finish_bands<T, 1, W>(
      shape, decay, schedule, bands, rows,
      [&](index_t i, bool has_parent, const V& w, const V (&up)[1], const V (&yp)[1]) {
        store_result(y, rows.up[0], i, has_parent ? mul_add(w, yp[0], up[0] * (V::fill(1) - w * w)) : up[0]);
      });
}

template <class T, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32) band_backward_finish_kernel(ChannelShape shape, const T* decay,
                                                                               Schedule schedule, Bands bands,
                                                                               BandRows<T, 2> rows, T* grad_x,
                                                                               T* grad_decay) {
  using V = Vec<detail::acc_t<T>, W>;
  finish_bands<T, 2, W>(
      shape, decay, schedule, bands, rows,
      [&](index_t i, bool has_parent, const V& w, const V (&up)[2], const V (&parent)[2]) {
        const V ux = up[0], ug = up[1];
        if (!has_parent) {
          store_vec(grad_decay + i, V::fill(0));  // the root owns no edge
          store_result(grad_x, rows.up[1], i, ug);
          return;
        }
        const V yp = parent[0], gp = parent[1], keep = V::fill(1) - w * w;
        store_vec(grad_decay + i, mul_add(ug, yp - w * ux, ux * (gp - w * ug)));
        store_vec(rows.up[0] + i, mul_add(w, yp, ux * keep));
        store_result(grad_x, rows.up[1], i, mul_add(w, gp, ug * keep));
      });
}

// Channels a lane takes in the sweeps and the finish, given what the rows allow (lane_width,
// allows_width): pairs, but in the backward (R = 2) only with up to 8 warps a block. H100, fp32,
// forward / backward ms, a lane per channel -> per pair, same runs: 2 x 320 x 100x168 1.04-1.07 /
// 1.35-1.36 -> 0.91 / 1.18, 16 x 160 x 128x128 1.98 / 2.75 -> 1.83 / 2.63, 8 x 160 x 56x56
// 0.36 / 0.49 -> 0.33 / 0.45 (8 warps); 1 x 192 x 200x336 1.27 / 1.63 -> 1.26 / 1.73,
// 2 x 192 x 200x336 1.74 / 2.32 -> 1.64 / 2.37 (32 and 16 warps: the backward loses). The chains,
// a few blocks bound by their dependent steps, keep a lane per channel.
//
// Four channels a lane where blocks have up to 16 warps: there many band blocks share each
// multiprocessor, and a sweep is bound by the instructions its warps issue (Nsight Compute at
// 1 x 640 x 50x84: 0.78 instructions a cycle, ~100 a warp for each level step; values staged in
// shared memory instead of global memory changed nothing), which a warp then pays once for four
// positions. H100, µs a call, pairs -> quads, two rounds each, same process: 1 x 640 x 50x84 (Mask
// R-CNN stage 3) 246-264 / 347-370 -> 212-217 / 297-303, 1 x 320 x 100x168 521-561 / 793-846 ->
// 475-483 / 780-789, 1 x 640 x 32x32 114-122 / 140-151 -> 102-108 / 130-133, 8 x 160 x 56x56
// 287-306 / 427-453 -> 266-274 / 419-428; 1 x 1280 x 25x42 lost (125-136 / 182-192 -> 136-139 /
// 190-195: ~720 band blocks, more than the GPU holds at quads' 46 registers). With 32 warps a
// block quads cost residency: 1 x 160 x 200x336 forward 943-984 -> 1 034-1 039.
template <int R>
int band_sweep_width(const BandPlan& plan, int width, bool quads) {
  if (R == 2 && plan.warps > 8) return 1;
  return width == 2 && quads && plan.warps <= 16 ? 4 : width;
}

// Launches a sweep or finish kernel, kernel_of(width), on the plan's band grid, with room for a
// band's slice of the schedule.
template <class KernelOf, class... Args>
void launch_band_sweep(const BandPlan& plan, int width, KernelOf kernel_of, const char* name, cudaStream_t stream,
                       Args... args) {
  const auto kernel = band_kernel_of_width(width, kernel_of);
  const std::size_t bytes = detail::allow_dynamic_shared(kernel, band_slice_bytes(plan.warps));
  kernel<<<plan.sweep, plan.warps * 32, bytes, stream>>>(args...);
  detail::check_launch(name);
}

// Fills the schedule taken from the workspace and the bands' links: in the schedule's own blocks
// where it is built on chip, else by bands_kernel after it. H100, the 11 trees of a Mask R-CNN
// forward at stages 3-4: bands_kernel took ~9 µs a call.
inline void fill_schedule_and_bands(const Schedule& schedule, ChannelShape shape, const index_t* order,
                                    const index_t* parent, const Bands& bands, cudaStream_t stream) {
  if (fill_schedule(schedule, shape, order, parent, stream, BandLinksOnChip{bands})) return;
  bands_kernel<<<dim3(detail::blocks_for(shape.vertices, kBandSetupThreads), static_cast<unsigned>(shape.batch)),
                 kBandSetupThreads, 0, stream>>>(shape, schedule, bands);
  detail::check_launch("bands_kernel");
}

// Runs steps 1-4 (schedule and bands filled: fill_schedule_and_bands; rows' in/up set), the sweeps
// with `width` channels a lane (band_sweep_width); the caller launches step 5 (launch_band_sweep).
template <class T, int R>
void run_band_sweeps(ChannelShape shape, const T* decay, const Schedule& schedule, const BandPlan& plan,
                     const Bands& bands, const BandRows<T, R>& rows, int width, cudaStream_t stream) {
  const auto sweep = [&](auto final) {
    const auto kernel_of = [](auto w) { return band_sweep_kernel<T, R, decltype(final)::value, decltype(w)::value>; };
    launch_band_sweep(plan, width, kernel_of, "band_sweep_kernel", stream, shape, decay, schedule, bands, rows);
  };
  sweep(std::false_type{});
  launch_band_chain(plan, band_up_chain_kernel<T, R>, kUpChainBytes, "band_up_chain_kernel", stream, shape, schedule,
                    bands, rows);
  sweep(std::true_type{});
  launch_band_chain(plan, band_down_chain_kernel<T, R>, kChainListBytes, "band_down_chain_kernel", stream, shape,
                    decay, schedule, bands, rows);
}

}  // namespace
}  // namespace groot::cuda
