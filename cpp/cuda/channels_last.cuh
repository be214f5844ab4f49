// What the scan kernels over (B, L, D) rows share: a block takes one sample and 32 of its
// channels, a lane per channel or per W of them, and keeps its running values in rows of the
// accumulation type.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common.cuh"
#include "groot/error.hpp"
#include "lane_vector.cuh"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

// Blocks of the level walk: one per sample and tile of 32 channels.
unsigned level_walk_blocks(ChannelShape shape) {
  return static_cast<unsigned>(shape.batch * ((shape.channels + 31) / 32));
}

// Where the block's lane lives in a (B, L, D) row set: its W consecutive channels of vertex v
// start at at(v). With W > 1, 32 / W lanes share a vertex and a warp takes W vertices at once, so
// the schedule reads and address arithmetic of a level step are paid once for W vertices (the
// level walk was half bound by the instructions it issued).
template <int W>
struct LaneOf {
  index_t base;     // b * L * D + d
  unsigned stride;  // D (a sample holds under 2^32 elements: check_sample_size)
  bool active;      // d < D (with W > 1 the launcher asks D % W == 0: a lane is all in or all out)
  int slot;         // which of its warp's W vertices the lane takes

  // A 32-bit product: 64-bit index arithmetic took ~7 instructions an address (H100, 128 x 160 x
  // 56x56 forward / backward 0.99 / 1.50 -> 0.96 / 1.44 ms).
  __device__ index_t at(int v) const { return base + static_cast<unsigned>(v) * stride; }
};
using Lane = LaneOf<1>;

// The token-major kernels index a sample's rows with 32 bits.
inline void check_sample_size(ChannelShape shape) {
  GROOT_CHECK(shape.vertices * shape.channels < (index_t(1) << 32), "x: ", shape.vertices, " vertices x ",
              shape.channels, " channels a sample is 2^32 elements or more; the GPU scan of token-major rows indexes ",
              "a sample with 32 bits");
}

// Whether every row allows n channels a lane: D a multiple of n, and each row aligned for n
// elements as one access.
template <class... Rows>
bool allows_width(ChannelShape shape, int n, const Rows*... rows) {
  return shape.channels % n == 0 && ((reinterpret_cast<std::uintptr_t>(rows) % (n * sizeof(Rows)) == 0) && ...);
}

// Channels a lane takes: 2 where D is even and every row is aligned for pairs, else 1. Pairs
// halve a level step's instructions per vertex (schedule reads, address arithmetic); four a lane
// measured no better than two where the blocks are few and slower where they are many (more
// registers, less residency). H100, fp32, level walk, forward / backward ms, a lane per channel ->
// per pair, same runs: 128 x 160 x 56x56 0.85 / 1.36 -> 0.76 / 1.32, 128 x 640 x 14x14
// 0.22 / 0.37 -> 0.20 / 0.36, 64 x 160 x 56x56 0.76 / 0.86 -> 0.62 / 0.80, 32 x 320 x 28x28
// 0.31 / 0.34 -> 0.25 / 0.30; bfloat16 rows no faster. The band scan's sweeps: see
// band_sweep_width.
template <class... Rows>
int lane_width(ChannelShape shape, const Rows*... rows) {
  return allows_width(shape, 2, rows...) ? 2 : 1;
}

template <int W>
using Width = std::integral_constant<int, W>;

// kernel_of(Width<W>) for the width (lane_width) picked at run time.
template <class KernelOf>
auto kernel_of_width(int width, KernelOf kernel_of) {
  return width == 2 ? kernel_of(Width<2>{}) : kernel_of(Width<1>{});
}

// The same for the band sweeps and finish, which may also take four channels a lane
// (band_sweep_width).
template <class KernelOf>
auto band_kernel_of_width(int width, KernelOf kernel_of) {
  return width == 4 ? kernel_of(Width<4>{}) : kernel_of_width(width, kernel_of);
}

// kernel_of(staged, width) as a function of `staged` alone, the width picked at run time: what
// the level walk's launcher takes.
template <class KernelOf>
auto of_width(int width, KernelOf kernel_of) {
  return [=](auto staged) { return kernel_of_width(width, [&](auto w) { return kernel_of(staged, w); }); };
}

template <int W = 1>
__device__ LaneOf<W> block_lane(ChannelShape shape, index_t& b) {
  const index_t tiles = (shape.channels + 31) / 32;
  b = blockIdx.x / tiles;
  const int lane = threadIdx.x % 32;
  const index_t d = (blockIdx.x % tiles) * 32 + lane % (32 / W) * W;
  return {b * shape.vertices * shape.channels + d, static_cast<unsigned>(shape.channels), d < shape.channels,
          lane / (32 / W)};
}

// Calls visit(k) for the lane's positions in [begin, end): the block's warps take W each in turn.
template <int W, class Visit>
__device__ void for_each_position(const LaneOf<W>& lane, int begin, int end, Visit visit) {
  for (int k = begin + static_cast<int>(threadIdx.x / 32) * W + lane.slot; k < end;
       k += static_cast<int>(blockDim.x / 32) * W)
    visit(k);
}

__device__ __forceinline__ void prefetch_to_l2(const void* address) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(address));
}

// Asks L2 for the lines of `rows` at the vertices of `level` (if it exists), so that a walk finds
// the inputs of a level ahead on chip: only the values of the level just done are a true
// dependency of a level step, everything it reads besides can be on its way earlier.
template <int W, class S, class... Rows>
__device__ void prefetch_level(const S& s, const LaneOf<W>& lane, int level, const Rows*... rows) {
  if (level < 0 || level >= s.levels || !lane.active) return;
  for_each_position(lane, s.level_start[level], s.level_start[level + 1], [&](int k) {
    const index_t i = lane.at(s.order[k]);
    (prefetch_to_l2(rows + i), ...);
  });
}

// Rows of up-sums and root→leaves results are kept in the accumulation type: in the output
// itself when it has that type, else in the workspace (and the output is written alongside).
template <class T>
constexpr bool kAccumulatesInOutput = std::is_same_v<T, detail::acc_t<T>>;

// Where the accumulator rows of `output` go: the output itself, or the next rows of workspace.
template <class T>
detail::acc_t<T>* carry_rows(detail::WorkspaceLayout& w, ChannelShape shape, T* output) {
  if constexpr (kAccumulatesInOutput<T>) {
    return output;
  } else {
    return w.take<detail::acc_t<T>>(static_cast<std::size_t>(shape.numel()));
  }
}

template <class T, class A, int W>
__device__ void store_result(T* out, A* carry, index_t i, const Vec<A, W>& value) {
  store_vec(carry + i, value);
  if constexpr (!kAccumulatesInOutput<T>) store_vec(out + i, value);
}

}  // namespace
}  // namespace groot::cuda
