// What the scan kernels over (B, L, D) rows share: a block takes one sample and 32 of its
// channels, a lane per channel, and keeps its running values in rows of the accumulation type.
#pragma once

#include <type_traits>

#include "common.cuh"

namespace groot::cuda {
namespace {

// Where the block's lane lives in a (B, L, D) row set: element of vertex v at at(v).
struct Lane {
  index_t base;     // b * L * D + d
  index_t stride;   // D
  bool active;      // d < D

  __device__ index_t at(int v) const { return base + v * stride; }
};

__device__ Lane block_lane(ChannelShape shape, index_t& b) {
  const index_t tiles = (shape.channels + 31) / 32;
  b = blockIdx.x / tiles;
  const index_t d = (blockIdx.x % tiles) * 32 + threadIdx.x % 32;
  return {b * shape.vertices * shape.channels + d, shape.channels, d < shape.channels};
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
