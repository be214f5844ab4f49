// Tree scan of small trees over (B, L, D) rows: a thread per channel walks its sample's BFS
// positions one after another, leaves→root and back, its running values in shared memory.
//
// The level walk (tree_scan_channels_last.cu) keeps nothing on chip and pays for it twice: two
// extra row passes (the up-sums written out and read back) and, at every level, a block barrier
// and a dependent read through L2. Where a tree is small, a channel's values for every vertex fit
// in shared memory beside those of many other channels: 49 vertices (GrootV-T stage 4) take 196
// bytes a channel in float32. Then a thread walks its channel alone: no barrier, each step a few
// shared-memory accesses, and the inputs of the next positions already on their way from DRAM,
// since their addresses are known from the schedule. Each row is read or written once (the decay
// a second time in the root→leaves pass, from L2: the block read it a walk earlier), the floor's
// traffic. Where the values take more shared memory, too few channels fit at once and the level
// walk is faster (takes_channel_walk).
//
// Leaves→root, positions last to first: each position adds its term to its parent's slot, which
// was zero before its first child came. The results equal the level walk's within rounding (the
// children's terms are added in another order), and do not depend on the rows' alignment.
#pragma once

#include "channels_last.cuh"
#include "common.cuh"
#include "lane_vector.cuh"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

// Channels a block walks (a thread each), and how far ahead of its step a thread loads its inputs
// (walk_positions).
constexpr int kWalkThreads = 128;
constexpr int kWalkAhead = 16;

// One sample's schedule as the walk reads it, in shared memory.
struct WalkSchedule {
  const unsigned short* vertex;  // vertex at each position
  const unsigned short* parent;  // position of the parent: kNoParent at the root (and where the input is no BFS)
};
constexpr int kNoParent = 0xffff;

// Shared memory of a block of `threads` channels keeping `arrays` values a vertex each.
template <class A>
__host__ __device__ std::size_t channel_walk_value_bytes(index_t L, int threads, int arrays) {
  return (static_cast<std::size_t>(L) * threads * arrays * sizeof(A) + 15) / 16 * 16;
}
template <class A>
std::size_t channel_walk_shared_bytes(index_t L, int threads, int arrays) {
  return channel_walk_value_bytes<A>(L, threads, arrays) + 2 * static_cast<std::size_t>(L) * sizeof(unsigned short);
}

int channel_walk_threads(ChannelShape shape) {
  return static_cast<int>(std::min<index_t>(kWalkThreads, (shape.channels + 31) / 32 * 32));
}

unsigned channel_walk_blocks(ChannelShape shape, int threads) {
  return static_cast<unsigned>(shape.batch * ((shape.channels + threads - 1) / threads));
}

// Copies sample b's schedule into shared memory: the vertex at each position and the position of
// its parent. `scratch` (L ints) holds each vertex's position meanwhile; it is the values' space,
// free until the walk. Ids out of range become vertex 0 and no parent, and a parent that does not
// come before its child in the order counts as none, so that no input makes the walk leave its
// arrays.
__device__ WalkSchedule stage_walk_schedule(const index_t* order, const index_t* parent, int L, int* scratch,
                                            unsigned short* vertex, unsigned short* parent_position) {
  for (int v = threadIdx.x; v < L; v += blockDim.x) scratch[v] = -1;
  __syncthreads();
  for (int k = threadIdx.x; k < L; k += blockDim.x) {
    const int v = schedule_vertex(order[k], L);
    vertex[k] = static_cast<unsigned short>(v);
    scratch[v] = k;
  }
  __syncthreads();
  for (int k = threadIdx.x; k < L; k += blockDim.x) {
    const int p = schedule_parent(parent[vertex[k]], L);
    const int at = p >= 0 ? scratch[p] : -1;
    parent_position[k] = static_cast<unsigned short>(at >= 0 && at < k ? at : kNoParent);
  }
  __syncthreads();
  return {vertex, parent_position};
}

// Calls visit(k, in) for every position k, last to first (up) or first to last, `in` holding the
// thread's elements of `rows` at position k's vertex. A walk step takes a few dozen cycles and a
// DRAM read ~1 µs, so the elements come through a ring of registers kWalkAhead positions ahead
// (the ring's slots are fixed by unrolling a turn of it).
template <int kRows, class T, class Visit>
__device__ void walk_positions(const WalkSchedule& s, int L, bool up, unsigned base, unsigned stride,
                               const T* const (&rows)[kRows], Visit visit) {
  constexpr int D = kWalkAhead;
  const auto load = [&](int i, T(&into)[kRows]) {
    const unsigned at = base + s.vertex[up ? L - 1 - i : i] * stride;
#pragma unroll
    for (int r = 0; r < kRows; ++r) into[r] = rows[r][at];
  };
  T ring[D][kRows];
#pragma unroll
  for (int j = 0; j < D; ++j)
    if (j < L) load(j, ring[j]);
  for (int first = 0; first < L; first += D) {
#pragma unroll
    for (int j = 0; j < D; ++j) {
      const int i = first + j;
      if (i >= L) break;
      visit(up ? L - 1 - i : i, ring[j]);
      if (i + D < L) load(i + D, ring[j]);
    }
  }
}

// A thread's column of values: slot k at column[k * threads].
template <class A>
struct Column {
  A* first;
  int stride;
  __device__ A& operator[](int k) const { return first[k * stride]; }
};

// Leaves→root over kIn rows sharing the decay: up_k = x_k + Σ_children w_c up_c into slot k of
// each column (where kKeep; the root-mode forward needs only on_up), and on_up(k, up). Slot k
// gathers its children's terms before the walk reaches k, from zero.
template <bool kKeep, int kIn, class T, class A, class OnUp>
__device__ void walk_up(const WalkSchedule& s, int L, unsigned base, unsigned stride, const T* const (&in)[kIn],
                        const T* decay, const Column<A> (&column)[kIn], OnUp on_up) {
  for (int k = 0; k < L; ++k)
#pragma unroll
    for (int r = 0; r < kIn; ++r) column[r][k] = A(0);
  const T* rows[kIn + 1];
#pragma unroll
  for (int r = 0; r < kIn; ++r) rows[r] = in[r];
  rows[kIn] = decay;
  walk_positions(s, L, true, base, stride, rows, [&](int k, const T(&at)[kIn + 1]) {
    const int p = s.parent[k];
    const A w = detail::load_as<A>(&at[kIn]);
    A up[kIn];
#pragma unroll
    for (int r = 0; r < kIn; ++r) {
      up[r] = add_rn(detail::load_as<A>(&at[r]), column[r][k]);
      if constexpr (kKeep) column[r][k] = up[r];
      if (p != kNoParent) column[r][p] = fma_rn(w, up[r], column[r][p]);
    }
    on_up(k, up);
  });
}

// The block's schedule, the offset of its sample's rows, the thread's channel and its columns.
// Threads past D are inactive: they take part in the schedule's barriers only.
template <class A, int kArrays>
struct WalkSetup {
  WalkSchedule schedule;
  index_t sample_offset;  // b * L * D
  unsigned base;          // the thread's channel d; its element of vertex v is base + v * D
  bool active;
  Column<A> column[kArrays];
};

template <class A, int kArrays>
__device__ WalkSetup<A, kArrays> set_up_walk(ChannelShape shape, const index_t* order, const index_t* parent) {
  extern __shared__ __align__(16) unsigned char walk_shared[];
  const int L = static_cast<int>(shape.vertices), threads = static_cast<int>(blockDim.x);
  const index_t tiles = (shape.channels + threads - 1) / threads;
  const index_t b = blockIdx.x / tiles, d = (blockIdx.x % tiles) * threads + threadIdx.x;
  A* values = reinterpret_cast<A*>(walk_shared);
  auto* vertex = reinterpret_cast<unsigned short*>(walk_shared + channel_walk_value_bytes<A>(L, threads, kArrays));
  WalkSetup<A, kArrays> setup;
  setup.schedule = stage_walk_schedule(order + b * L, parent + b * L, L, reinterpret_cast<int*>(values), vertex,
                                       vertex + L);
  setup.sample_offset = b * shape.vertices * shape.channels;
  setup.base = static_cast<unsigned>(d);
  setup.active = d < shape.channels;
#pragma unroll
  for (int a = 0; a < kArrays; ++a) setup.column[a] = {values + a * L * threads + threadIdx.x, threads};
  return setup;
}

// Values a vertex a thread keeps: up(x) and up(grad_y) in the `all` backward, one row otherwise.
template <bool kBackward>
constexpr int walk_arrays(ScanMode mode) {
  return kBackward && mode == ScanMode::all ? 2 : 1;
}

template <class T>
__global__ void __launch_bounds__(kWalkThreads) channel_walk_forward_kernel(ChannelShape shape, const T* x,
                                                                           const T* decay, const index_t* order,
                                                                           const index_t* parent, ScanMode mode,
                                                                           T* y) {
  using A = detail::acc_t<T>;
  const WalkSetup<A, 1> w = set_up_walk<A, 1>(shape, order, parent);
  if (!w.active) return;
  const int L = static_cast<int>(shape.vertices);
  const auto stride = static_cast<unsigned>(shape.channels);
  x += w.sample_offset, decay += w.sample_offset, y += w.sample_offset;
  const T* const in[1] = {x};
  const Column<A> column = w.column[0];
  if (mode == ScanMode::root) {
    walk_up<false>(w.schedule, L, w.base, stride, in, decay, w.column, [&](int k, const A(&up)[1]) {
      y[w.base + static_cast<unsigned>(w.schedule.vertex[k]) * stride] = detail::store_as<T>(up[0]);
    });
    return;
  }
  walk_up<true>(w.schedule, L, w.base, stride, in, decay, w.column, [](int, const A(&)[1]) {});
  // y_k = up_k (1 - w_k²) + w_k y_parent, root first; the root's y is its up-sum.
  const T* const rows[1] = {decay};
  walk_positions(w.schedule, L, false, w.base, stride, rows, [&](int k, const T(&at)[1]) {
    const int p = w.schedule.parent[k];
    A value = column[k];
    if (p != kNoParent) {
      const A wk = detail::load_as<A>(&at[0]);
      value = fma_rn(wk, column[p], mul_rn(value, sub_rn(A(1), mul_rn(wk, wk))));
    }
    column[k] = value;
    y[w.base + static_cast<unsigned>(w.schedule.vertex[k]) * stride] = detail::store_as<T>(value);
  });
}

template <class T, ScanMode kMode>
__global__ void __launch_bounds__(kWalkThreads) channel_walk_backward_kernel(ChannelShape shape, const T* grad_y,
                                                                            const T* x, const T* decay,
                                                                            const index_t* order,
                                                                            const index_t* parent, T* grad_x,
                                                                            T* grad_decay) {
  using A = detail::acc_t<T>;
  const WalkSetup<A, walk_arrays<true>(kMode)> w = set_up_walk<A, walk_arrays<true>(kMode)>(shape, order, parent);
  if (!w.active) return;
  const int L = static_cast<int>(shape.vertices);
  const auto stride = static_cast<unsigned>(shape.channels);
  const index_t offset = w.sample_offset;
  grad_y += offset, x += offset, decay += offset, grad_x += offset, grad_decay += offset;
  const auto store = [&](int k, A gx, A gw) {
    const unsigned i = w.base + static_cast<unsigned>(w.schedule.vertex[k]) * stride;
    grad_x[i] = detail::store_as<T>(gx);
    grad_decay[i] = detail::store_as<T>(gw);
  };
  const Column<A> ux = w.column[0];
  if constexpr (kMode == ScanMode::all) {
    // up(x) and up(grad_y), then, root first, y and grad_x in their slots and dL/dw.
    const Column<A> ug = w.column[1];
    const T* const in[2] = {x, grad_y};
    walk_up<true>(w.schedule, L, w.base, stride, in, decay, w.column, [](int, const A(&)[2]) {});
    const T* const rows[1] = {decay};
    walk_positions(w.schedule, L, false, w.base, stride, rows, [&](int k, const T(&at)[1]) {
      const int p = w.schedule.parent[k];
      const A x_up = ux[k], g_up = ug[k];
      if (p == kNoParent) return store(k, g_up, A(0));  // the root owns no edge
      const A wk = detail::load_as<A>(&at[0]), yp = ux[p], gp = ug[p];
      const A keep = sub_rn(A(1), mul_rn(wk, wk));
      const A gx = fma_rn(wk, gp, mul_rn(g_up, keep));
      ux[k] = fma_rn(wk, yp, mul_rn(x_up, keep));
      ug[k] = gx;
      store(k, gx, fma_rn(g_up, sub_rn(yp, mul_rn(wk, x_up)), mul_rn(x_up, sub_rn(gp, mul_rn(wk, g_up)))));
    });
  } else {
    // up(x), then, root first, grad_x_k = g_k + w_k grad_x_parent and dL/dw_k = grad_x_parent up_k.
    const T* const in[1] = {x};
    walk_up<true>(w.schedule, L, w.base, stride, in, decay, w.column, [](int, const A(&)[1]) {});
    const T* const rows[2] = {grad_y, decay};
    walk_positions(w.schedule, L, false, w.base, stride, rows, [&](int k, const T(&at)[2]) {
      const int p = w.schedule.parent[k];
      A g = detail::load_as<A>(&at[0]), gw = A(0);
      if (p != kNoParent) {
        const A gp = ux[p];
        gw = mul_rn(gp, ux[k]);
        g = fma_rn(detail::load_as<A>(&at[1]), gp, g);
      }
      ux[k] = g;
      store(k, g, gw);
    });
  }
}

// Where the walk takes the scan: where a channel's values (`arrays` a vertex) take at most
// kWalkChannelBytes, so that a multiprocessor holds ~1 000 channels at once (the registers bound
// it beside that). Beyond, too few fit and the level walk is faster. H200, B = 128, fp32, GPU time,
// forward / backward µs, level walk -> this walk: 1280 x 7x7 (196 and 392 bytes a channel)
// 86 / 117 -> 49 / 89; 640 x 14x14 (784 and 1 568 bytes, ~250 and ~125 channels a multiprocessor)
// 139 / 237 -> 166 / 487.
constexpr std::size_t kWalkChannelBytes = 512;

template <class T>
bool takes_channel_walk(ChannelShape shape, int arrays) {
  return static_cast<std::size_t>(shape.vertices) * arrays * sizeof(detail::acc_t<T>) <= kWalkChannelBytes;
}

template <class T, class Kernel, class... Args>
void launch_channel_walk(Kernel* kernel, int arrays, ChannelShape shape, const char* name, cudaStream_t stream,
                         Args... args) {
  const int threads = channel_walk_threads(shape);
  const std::size_t bytes = channel_walk_shared_bytes<detail::acc_t<T>>(shape.vertices, threads, arrays);
  detail::allow_dynamic_shared(kernel, bytes);
  kernel<<<channel_walk_blocks(shape, threads), threads, bytes, stream>>>(shape, args...);
  detail::check_launch(name);
}

// The forward scan by the channel walk, if it takes this shape; returns whether it did.
template <class T>
bool channel_walk_forward(ChannelShape shape, const T* x, const T* decay, const index_t* order,
                          const index_t* parent, ScanMode mode, T* y, cudaStream_t stream) {
  const int arrays = walk_arrays<false>(mode);
  if (!takes_channel_walk<T>(shape, arrays)) return false;
  launch_channel_walk<T>(channel_walk_forward_kernel<T>, arrays, shape, "channel_walk_forward_kernel", stream, x,
                         decay, order, parent, mode, y);
  return true;
}

template <class T>
bool channel_walk_backward(ChannelShape shape, const T* grad_y, const T* x, const T* decay, const index_t* order,
                           const index_t* parent, ScanMode mode, T* grad_x, T* grad_decay, cudaStream_t stream) {
  const int arrays = walk_arrays<true>(mode);
  if (!takes_channel_walk<T>(shape, arrays)) return false;
  const auto kernel = mode == ScanMode::all ? channel_walk_backward_kernel<T, ScanMode::all>
                                            : channel_walk_backward_kernel<T, ScanMode::root>;
  launch_channel_walk<T>(kernel, arrays, shape, "channel_walk_backward_kernel", stream, grad_y, x, decay, order, parent,
                      grad_x, grad_decay);
  return true;
}

}  // namespace
}  // namespace groot::cuda
