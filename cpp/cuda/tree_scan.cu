// Tree scan on the device, rows (B, D, L) with vertices contiguous.
//
// The schedule comes in level form (scan_schedule.cuh). A scan block copies its sample's schedule into
// shared memory and gives each of its channels a group of lanes and a shared-memory
// copy of the channel's rows (x, and decay where room allows; read coalesced). The group runs the leaves→root pass
// level by level — each vertex gathers its children in a fixed order, so no atomics and
// bit-identical results — then the root→leaves pass, and writes the row back coalesced. Levels of
// these trees are narrow (a dozen vertices at 56×56), hence small groups and several channels per
// warp. Rows too long for shared memory live in a global workspace instead.
//
// Passes and the backward formulas are those of the CPU core (cpp/src/tree_scan.cpp).
#include "common.cuh"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

// Sample b's schedule staged in shared memory (kShared), or read straight from the workspace.
template <bool kShared>
__device__ SampleSchedule load_schedule(const Schedule& s, index_t b, int L, int* shared) {
  if constexpr (kShared)
    return stage_schedule(s, b, L, shared);
  else
    return sample_schedule(s, b, L);
}

// A group of `lanes` lanes (8 or 32) scans one channel; a warp holds 32 / lanes channels of the same sample, so the
// lanes of a warp walk the same levels and stay in step at every __syncwarp.
constexpr int kThreadsPerBlock = 256;

struct Group {
  int lanes;    // lanes per channel
  int lane;     // lane within the channel's group
  bool active;  // the block's last groups may have no channel
  index_t row;  // b * D + d
};

__device__ Group channel_group(ChannelShape shape, int channels_per_block, int lanes, index_t& b) {
  const index_t tiles = (shape.channels + channels_per_block - 1) / channels_per_block;
  b = blockIdx.x / tiles;
  const int group = threadIdx.x / lanes;
  const index_t d = (blockIdx.x % tiles) * channels_per_block + group;
  return {lanes, static_cast<int>(threadIdx.x % lanes), group < channels_per_block && d < shape.channels,
          b * shape.channels + d};
}

// A channel's decay row: copied into shared memory next to its values, or read from global
// memory (through L1) when shared memory is better spent on more channels in flight.
template <class T, class A, bool kCopied>
struct DecayRow {
  A* copy;
  const T* source;
  __device__ A operator[](int v) const {
    if constexpr (kCopied) {
      return copy[v];
    } else {
      return detail::load_as<A>(source + v);
    }
  }
};

// values_v += Σ_children w_c values_c, deepest level first, for kRows rows at once.
template <class A, int kRows, class Decay>
__device__ void gather_up(const SampleSchedule& s, A* const (&rows)[kRows], const Decay& w, const Group& g) {
  for (int level = s.levels - 2; level >= 0; --level) {
    if (g.active) {
      for (int k = s.level_start[level] + g.lane; k < s.level_start[level + 1]; k += g.lanes) {
        A sum[kRows] = {};
        for (int c = s.child_start[k]; c < s.child_start[k + 1]; ++c) {
          const int u = s.order[c];
          const A wu = w[u];
#pragma unroll
          for (int r = 0; r < kRows; ++r) sum[r] += wu * rows[r][u];
        }
        const int v = s.order[k];
#pragma unroll
        for (int r = 0; r < kRows; ++r) rows[r][v] += sum[r];
      }
    }
    __syncwarp();
  }
}

// Calls visit(v, parent) for every non-root vertex, shallowest level first.
template <class Visit>
__device__ void walk_down(const SampleSchedule& s, const Group& g, Visit visit) {
  for (int level = 1; level < s.levels; ++level) {
    if (g.active) {
      for (int k = s.level_start[level] + g.lane; k < s.level_start[level + 1]; k += g.lanes) {
        const int v = s.order[k], p = s.parent[v];
        if (p >= 0) visit(v, p);
      }
    }
    __syncwarp();
  }
}

// Where a channel's rows live: after the schedule in shared memory, or in the workspace.
template <bool kShared, class A, int kRows>
__device__ void channel_rows(A* (&rows)[kRows], A* workspace_rows, const Group& g, int L, index_t vertices) {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  A* base;
  if constexpr (kShared) {
    base = reinterpret_cast<A*>(shared_bytes + staged_schedule_bytes<int>(vertices)) +
           std::size_t(threadIdx.x / g.lanes) * kRows * L;
  } else {
    base = workspace_rows + std::size_t(g.row) * kRows * L;
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) rows[r] = base + std::size_t(r) * L;
}

template <class T, bool kShared, bool kCopyDecay>
__global__ void __launch_bounds__(kThreadsPerBlock) scan_forward_kernel(ChannelShape shape, const T* x, const T* decay,
                                                                        Schedule schedule, ScanMode mode, T* y,
                                                                        detail::acc_t<T>* workspace_rows,
                                                                        int channels_per_block, int lanes) {
  using A = detail::acc_t<T>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  const int L = static_cast<int>(shape.vertices);
  index_t b;
  const Group g = channel_group(shape, channels_per_block, lanes, b);
  const SampleSchedule s = load_schedule<kShared>(schedule, b, L, reinterpret_cast<int*>(shared_bytes));
  A* rows[kCopyDecay ? 2 : 1];
  channel_rows<kShared>(rows, workspace_rows, g, L, shape.vertices);
  A* values = rows[0];
  const DecayRow<T, A, kCopyDecay> w{rows[kCopyDecay ? 1 : 0], decay + g.row * L};
  if (g.active) {
    for (int v = g.lane; v < L; v += g.lanes) {
      values[v] = detail::load_as<A>(x + g.row * L + v);
      if constexpr (kCopyDecay) w.copy[v] = detail::load_as<A>(w.source + v);
    }
  }
  __syncwarp();
  A* const up_rows[1] = {values};
  gather_up<A, 1>(s, up_rows, w, g);
  if (mode == ScanMode::all) {
    walk_down(s, g, [&](int v, int p) {
      const A wv = w[v];
      values[v] = values[v] * (A(1) - wv * wv) + wv * values[p];
    });
  }
  if (g.active)
    for (int v = g.lane; v < L; v += g.lanes) y[g.row * L + v] = detail::store_as<T>(values[v]);
}

template <class T, bool kShared, bool kCopyDecay>
__global__ void __launch_bounds__(kThreadsPerBlock) scan_backward_kernel(ChannelShape shape, const T* grad_y,
                                                                         const T* x, const T* decay, Schedule schedule,
                                                                         ScanMode mode, T* grad_x, T* grad_decay,
                                                                         detail::acc_t<T>* workspace_rows,
                                                                         int channels_per_block, int lanes) {
  using A = detail::acc_t<T>;
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  const int L = static_cast<int>(shape.vertices);
  index_t b;
  const Group g = channel_group(shape, channels_per_block, lanes, b);
  const SampleSchedule s = load_schedule<kShared>(schedule, b, L, reinterpret_cast<int*>(shared_bytes));
  A* rows[kCopyDecay ? 3 : 2];
  channel_rows<kShared>(rows, workspace_rows, g, L, shape.vertices);
  A* up = rows[0];  // up(x), then y in mode all
  A* gx = rows[1];  // grad_y, then up(grad_y), then grad_x
  const DecayRow<T, A, kCopyDecay> w{rows[kCopyDecay ? 2 : 0], decay + g.row * L};
  T* grad_w = grad_decay + g.row * L;
  // A copied decay row is overwritten by its gradient (each w_v is read just before) and written
  // out coalesced at the end; otherwise gradients go straight to global memory.
  auto set_grad_w = [&](int v, A value) {
    if constexpr (kCopyDecay) {
      w.copy[v] = value;
    } else {
      grad_w[v] = detail::store_as<T>(value);
    }
  };
  if (g.active) {
    for (int v = g.lane; v < L; v += g.lanes) {
      up[v] = detail::load_as<A>(x + g.row * L + v);
      gx[v] = detail::load_as<A>(grad_y + g.row * L + v);
      if constexpr (kCopyDecay) w.copy[v] = detail::load_as<A>(w.source + v);
    }
  }
  __syncwarp();
  if (mode == ScanMode::all) {
    A* const up_rows[2] = {up, gx};
    gather_up<A, 2>(s, up_rows, w, g);
    walk_down(s, g, [&](int v, int p) {
      const A wv = w[v], up_x = up[v], up_g = gx[v];
      set_grad_w(v, up_g * (up[p] - wv * up_x) + up_x * (gx[p] - wv * up_g));
      up[v] = up_x * (A(1) - wv * wv) + wv * up[p];
      gx[v] = up_g * (A(1) - wv * wv) + wv * gx[p];
    });
  } else {
    A* const up_rows[1] = {up};
    gather_up<A, 1>(s, up_rows, w, g);
    walk_down(s, g, [&](int v, int p) {
      const A wv = w[v];
      set_grad_w(v, gx[p] * up[v]);
      gx[v] += wv * gx[p];
    });
  }
  if (g.active && g.lane == 0) set_grad_w(s.order[0], A(0));  // the root owns no edge
  __syncwarp();
  if (g.active) {
    for (int v = g.lane; v < L; v += g.lanes) {
      grad_x[g.row * L + v] = detail::store_as<T>(gx[v]);
      if constexpr (kCopyDecay) grad_w[v] = detail::store_as<T>(w.copy[v]);
    }
  }
}

int max_shared_bytes() { return detail::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin); }

// How a launch is laid out. The levels are walked one dependent step after another, so speed
// comes from channels in flight and short steps: each block holds its sample's schedule plus the
// rows of as many channels as fit. Preferred, in order: the decay row copied next to the values
// (a shared-memory read per step instead of an L2 round trip) in half the shared memory (two
// blocks per multiprocessor overlap one's loads with the other's walk), then in all of it; then
// the decay read through L1 (half the bytes per channel). The first of these with at least
// kEnoughChannels channels wins, else the one with most; rows too long for even one channel go to
// the workspace. Few channels per block leave threads idle, so each channel then gets a full warp
// (levels of a dozen vertices take one step instead of two).
template <class A>
struct LaunchPlan {
  static constexpr int kMaxChannels = kThreadsPerBlock / 8, kEnoughChannels = 4;
  int rows = 0, channels_per_block = kMaxChannels, lanes = 8;
  bool in_shared = false, copy_decay = false;
  std::size_t shared_bytes = 0;

  LaunchPlan(ChannelShape shape, bool backward) {
    const int value_rows = backward ? 2 : 1;
    const std::size_t schedule = staged_schedule_bytes<int>(shape.vertices);
    const std::size_t full = static_cast<std::size_t>(max_shared_bytes());
    int best = 0;
    for (auto [copy, budget] : {std::pair{true, full / 2}, {true, full}, {false, full / 2}, {false, full}}) {
      const std::size_t per_channel = std::size_t(value_rows + copy) * shape.vertices * sizeof(A);
      const std::size_t room = budget > schedule ? (budget - schedule) / per_channel : 0;
      const int channels = static_cast<int>(std::min<std::size_t>(kMaxChannels, room));
      if (best >= kEnoughChannels || channels <= best) continue;
      best = channels;
      rows = value_rows + copy;
      copy_decay = copy;
      channels_per_block = channels;
      shared_bytes = schedule + channels * per_channel;
    }
    in_shared = best > 0;
    if (!in_shared) {
      // Nothing is shared between a block's channels then, and the few samples of dense
      // prediction (one image of 333×200 vertices at stage 1) have too few channels to fill the
      // GPU 32 at a time: a warp per channel, a channel per block.
      rows = value_rows;
      channels_per_block = 1;
    }
    lanes = channels_per_block * 32 <= kThreadsPerBlock ? 32 : 8;
  }
  std::size_t workspace_rows(ChannelShape shape) const {
    return in_shared ? 0 : std::size_t(shape.batch * shape.channels) * rows * shape.vertices;
  }
  unsigned blocks(ChannelShape shape) const {
    return static_cast<unsigned>(shape.batch * ((shape.channels + channels_per_block - 1) / channels_per_block));
  }
  unsigned threads() const {
    return static_cast<unsigned>((channels_per_block * lanes + 31) / 32 * 32);
  }
  // The kernel variant for this plan: rows in the workspace, in shared memory with the decay
  // copied next to them, or in shared memory without.
  template <class Kernel>
  Kernel pick(Kernel in_workspace, Kernel with_decay, Kernel without_decay) const {
    return !in_shared ? in_workspace : copy_decay ? with_decay : without_decay;
  }
};

// What the forward and the backward share: the schedule built in the workspace, the launch plan
// and, for rows too long for shared memory, their workspace.
template <class A>
struct PreparedScan {
  Schedule schedule;
  LaunchPlan<A> plan;
  A* rows;

  template <class... Params, class... Args>
  void launch(const char* name, void (*kernel)(Params...), ChannelShape shape, cudaStream_t stream,
              Args... args) const {
    detail::allow_dynamic_shared(kernel, plan.shared_bytes);
    kernel<<<plan.blocks(shape), plan.threads(), plan.shared_bytes, stream>>>(args...);
    detail::check_launch(name);
  }
};

template <class T>
PreparedScan<detail::acc_t<T>> prepare_scan(ChannelShape shape, const index_t* order, const index_t* parent,
                                            bool backward, void* workspace, cudaStream_t stream) {
  using A = detail::acc_t<T>;
  detail::WorkspaceLayout w(workspace);
  const Schedule s = build_schedule(w, shape, order, parent, stream);
  const LaunchPlan<A> plan(shape, backward);
  A* rows = w.take<A>(plan.workspace_rows(shape));
  return {s, plan, rows};
}

}  // namespace

template <class T>
std::size_t tree_scan_workspace_bytes(ChannelShape shape, bool backward) {
  detail::WorkspaceLayout w;
  take_schedule(w, shape);
  w.take<detail::acc_t<T>>(LaunchPlan<detail::acc_t<T>>(shape, backward).workspace_rows(shape));
  return w.bytes();
}

template <class T>
void tree_scan_forward(ChannelShape shape, const T* x, const T* decay, const index_t* order, const index_t* parent,
                       ScanMode mode, T* y, void* workspace, cudaStream_t stream) {
  if (shape.numel() == 0) return;
  const auto scan = prepare_scan<T>(shape, order, parent, false, workspace, stream);
  const auto kernel = scan.plan.pick(scan_forward_kernel<T, false, false>, scan_forward_kernel<T, true, true>,
                                     scan_forward_kernel<T, true, false>);
  scan.launch("scan_forward_kernel", kernel, shape, stream, shape, x, decay, scan.schedule, mode, y, scan.rows,
              scan.plan.channels_per_block, scan.plan.lanes);
}

template <class T>
void tree_scan_backward(ChannelShape shape, const T* grad_y, const T* x, const T* decay, const index_t* order,
                        const index_t* parent, ScanMode mode, T* grad_x, T* grad_decay, void* workspace,
                        cudaStream_t stream) {
  if (shape.numel() == 0) return;
  const auto scan = prepare_scan<T>(shape, order, parent, true, workspace, stream);
  const auto kernel = scan.plan.pick(scan_backward_kernel<T, false, false>, scan_backward_kernel<T, true, true>,
                                     scan_backward_kernel<T, true, false>);
  scan.launch("scan_backward_kernel", kernel, shape, stream, shape, grad_y, x, decay, scan.schedule, mode, grad_x,
              grad_decay, scan.rows, scan.plan.channels_per_block, scan.plan.lanes);
}

#define GROOT_INSTANTIATE(T)                                                                                   \
  template std::size_t tree_scan_workspace_bytes<T>(ChannelShape, bool);                                      \
  template void tree_scan_forward<T>(ChannelShape, const T*, const T*, const index_t*, const index_t*, ScanMode, \
                                     T*, void*, cudaStream_t);                                                 \
  template void tree_scan_backward<T>(ChannelShape, const T*, const T*, const T*, const index_t*, const index_t*, \
                                      ScanMode, T*, T*, void*, cudaStream_t);
GROOT_INSTANTIATE(float)
GROOT_INSTANTIATE(double)
GROOT_INSTANTIATE(__half)
GROOT_INSTANTIATE(__nv_bfloat16)
#undef GROOT_INSTANTIATE

}  // namespace groot::cuda
