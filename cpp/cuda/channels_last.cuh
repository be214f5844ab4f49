// What the scan kernels over (B, L, D) rows share: a block takes one sample and 32 of its
// channels, a lane per channel, and keeps its running values in rows of the accumulation type.
#pragma once

#include <type_traits>

#include "common.cuh"
#include "groot/error.hpp"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

// Blocks of the level walk: one per sample and tile of 32 channels.
unsigned level_walk_blocks(ChannelShape shape) {
  return static_cast<unsigned>(shape.batch * ((shape.channels + 31) / 32));
}

// Where the block's lane lives in a (B, L, D) row set: element of vertex v at at(v).
struct Lane {
  index_t base;     // b * L * D + d
  unsigned stride;  // D (a sample holds under 2^32 elements: check_sample_size)
  bool active;      // d < D

  // A 32-bit product: 64-bit index arithmetic took ~7 instructions an address (H100, 128 x 160 x
  // 56x56 forward / backward 0.99 / 1.50 -> 0.96 / 1.44 ms).
  __device__ index_t at(int v) const { return base + static_cast<unsigned>(v) * stride; }
};

// The token-major kernels index a sample's rows with 32 bits.
inline void check_sample_size(ChannelShape shape) {
  GROOT_CHECK(shape.vertices * shape.channels < (index_t(1) << 32), "x: ", shape.vertices, " vertices x ",
              shape.channels, " channels a sample is 2^32 elements or more; the GPU scan of token-major rows indexes ",
              "a sample with 32 bits");
}

__device__ Lane block_lane(ChannelShape shape, index_t& b) {
  const index_t tiles = (shape.channels + 31) / 32;
  b = blockIdx.x / tiles;
  const index_t d = (blockIdx.x % tiles) * 32 + threadIdx.x % 32;
  return {b * shape.vertices * shape.channels + d, static_cast<unsigned>(shape.channels), d < shape.channels};
}

__device__ __forceinline__ void prefetch_to_l2(const void* address) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(address));
}

// Asks L2 for the lines of `rows` at the vertices of `level` (if it exists), so that a walk finds
// the inputs of a level ahead on chip: only the values of the level just done are a true
// dependency of a level step, everything it reads besides can be on its way earlier.
template <class S, class... Rows>
__device__ void prefetch_level(const S& s, const Lane& lane, int level, const Rows*... rows) {
  if (level < 0 || level >= s.levels || !lane.active) return;
  for (int k = s.level_start[level] + threadIdx.x / 32; k < s.level_start[level + 1]; k += blockDim.x / 32) {
    const index_t i = lane.at(s.order[k]);
    (prefetch_to_l2(rows + i), ...);
  }
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

template <class T, class A>
__device__ void store_result(T* out, A* carry, index_t i, A value) {
  carry[i] = value;
  if constexpr (!kAccumulatesInOutput<T>) out[i] = detail::store_as<T>(value);
}

}  // namespace
}  // namespace groot::cuda
