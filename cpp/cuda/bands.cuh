// The depth bands of the band scan (band_scan.cuh): how a shape is cut into bands of K levels
// (BandPlan), where a sample's bands meet (Bands, set by bands_kernel) and the rows the band
// kernels work on (BandRows).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "channels_last.cuh"
#include "common.cuh"
#include "scan_schedule.cuh"

namespace groot::cuda {
namespace {

constexpr int kMaxBandWarps = 32;
constexpr int kBandSetupThreads = 256;

// Where a sample's bands of K levels meet, by BFS position k:
//   reach[k], for k on a band's top level and the position just after it: the first position of
//     k's descendants on the next band's top (descendants of k: [reach[k], reach[k + 1]));
//   anchor[k], for k on the bottom level of a band with bands above and below: the vertex
//     K - 1 levels above it, on its band's top.
struct Bands {
  int levels_per_band;
  int* reach;   // (B, L + 1)
  int* anchor;  // (B, L)
};

Bands take_bands(detail::WorkspaceLayout& w, ChannelShape shape, int levels_per_band) {
  const auto B = static_cast<std::size_t>(shape.batch), L = static_cast<std::size_t>(shape.vertices);
  return {levels_per_band, w.take<int>(B * (L + 1)), w.take<int>(B * L)};
}

// How the band scan runs a shape: K levels a band (0: it does not, the level walk does), warps a
// block, the chains' grid (a block per sample and channel tile) and the band-parallel grid.
//
// Bands pay where the level walk's blocks are fewer than the multiprocessors (H100: 2-3x faster
// from one image of 67 000 vertices down to 14x14; 3x slower at B = 128, where the level walk is
// bound by memory, not depth). K balances 5K against 2·depth/K for the depth of a grid MST,
// ~L^0.7 (measured best: 6 at 14x14, 8-12 at 28x28 and 56x56, 16 at 100x168, 24-32 at 200x336).
// Warps: more where the blocks are fewest (a level's positions then spread over more warps):
// measured best 32 for 6 blocks on 132 multiprocessors, 16 for 10-12, 8 from 20.
struct BandPlan {
  int levels_per_band = 0;
  unsigned warps = 0;
  unsigned chain_blocks = 0;
  dim3 sweep;
};

BandPlan band_plan(ChannelShape shape) {
  const auto sms = static_cast<unsigned>(detail::device_attribute(cudaDevAttrMultiProcessorCount));
  const unsigned blocks = level_walk_blocks(shape);
  if (shape.vertices < 192 || blocks == 0 || blocks > sms) return {};
  BandPlan plan;
  plan.levels_per_band = static_cast<int>(std::lround(1.1 * std::pow(static_cast<double>(shape.vertices), 0.3)));
  const unsigned per_sm = sms / blocks;
  plan.warps = per_sm >= 16 ? 32 : per_sm >= 8 ? 16 : 8;
  plan.chain_blocks = blocks;
  // Band walkers: as many as the GPU holds at once (64 warps a multiprocessor), so that a block
  // walks one band or few; never more than there can be bands. (H100, against 32 warps a
  // multiprocessor: 1 x 192 x 200x336 forward / backward 1.60-1.82 -> 1.38-1.45 / 1.87-2.13 ->
  // 1.47-1.63 ms, 16 x 192 x 128x128 2.72-2.87 -> 2.41-2.47 / 3.48-3.55 -> 3.00-3.06.)
  const auto most_bands = static_cast<unsigned>((shape.vertices + plan.levels_per_band - 1) / plan.levels_per_band);
  plan.sweep = dim3(blocks, std::max(1u, std::min(most_bands, (64 * sms / plan.warps + blocks - 1) / blocks)));
  return plan;
}

__device__ int level_of(const SampleSchedule& s, int k) {
  int lo = 0, hi = s.levels;  // level_start[lo] <= k < level_start[hi]
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    (s.level_start[mid] <= k ? lo : hi) = mid;
  }
  return lo;
}

// Sets position k's links of a sample's bands (reach: (L + 1), anchor: (L)) from its schedule and
// k's level.
__device__ void set_band_links(const SampleSchedule& s, int L, int K, int k, int level, int* reach, int* anchor) {
  // Defaults keep every range empty and every anchor absent where a schedule is not a BFS.
  reach[k] = 0;
  if (k == 0) reach[L] = 0;
  anchor[k] = -1;
  if (s.levels == 0) return;
  const bool top = level % K == 0 && level + K < s.levels;
  const bool after_top = level % K == 1 && k == s.level_start[level] && level - 1 + K < s.levels;
  if (top || after_top) {
    int first = k;
    for (int i = 0; i < K; ++i) first = s.child_start[first];
    reach[k] = first;
  }
  if (level % K == K - 1 && level >= K && level + 1 < s.levels) {
    int v = s.order[k];
    for (int i = 0; i < K - 1 && v >= 0; ++i) v = s.parent[v];
    anchor[k] = v;
  }
}

__global__ void __launch_bounds__(kBandSetupThreads) bands_kernel(ChannelShape shape, Schedule schedule, Bands bands) {
  const index_t b = blockIdx.y;
  const int L = static_cast<int>(shape.vertices);
  const int k = blockIdx.x * kBandSetupThreads + threadIdx.x;
  const SampleSchedule s = sample_schedule(schedule, b, L);
  if (k >= L) return;
  set_band_links(s, L, bands.levels_per_band, k, s.levels == 0 ? 0 : level_of(s, k), bands.reach + b * (L + 1),
                 bands.anchor + b * L);
}

// The same links set by small_schedule_kernel's blocks (fill_schedule's finishing step) from the
// schedule they hold on chip, instead of by bands_kernel from the workspace: its K-long chains of
// child starts and parents, and a binary search for each level, are then shared-memory reads.
struct BandLinksOnChip {
  Bands bands;

  __device__ void operator()(const ScheduleOnChip& c) const {
    const int L = c.L;
    int* child_start = c.spare_positions;
    int* level_at = c.spare_vertices;  // level of each position, as level_of finds it
    for (int k = threadIdx.x; k <= L; k += blockDim.x) {
      child_start[k] = c.written.child_start[k];  // `ahead` overwrote the block's copy
      if (k < L) level_at[k] = c.levels - 1;      // past the last level start (schedules that are no BFS)
    }
    __syncthreads();
    for (int level = threadIdx.x; level < c.levels; level += blockDim.x)
      for (int k = c.written.level_start[level]; k < c.written.level_start[level + 1]; ++k) level_at[k] = level;
    __syncthreads();
    const SampleSchedule on_chip{c.order, c.parent, child_start, c.written.level_start, c.levels};
    for (int k = threadIdx.x; k < L; k += blockDim.x)
      set_band_links(on_chip, L, bands.levels_per_band, k, level_at[k], bands.reach + c.sample * (L + 1),
                     bands.anchor + c.sample * L);
  }
};

// The rows the band kernels work on: R = 1 (forward: x) or 2 (backward: x and grad_y).
template <class T, int R>
struct BandRows {
  const T* in[R];
  detail::acc_t<T>* up[R];     // up-sums, then results
  detail::acc_t<T>* local[R];  // root→leaves results as if each band's top had no parent
  detail::acc_t<T>* through;   // decay product from a vertex up to its band's top (excluded); at a
                               // top, from it up to the band above's top
};

template <class S>
__device__ int band_count(const S& s, int K) {
  return (s.levels + K - 1) / K;
}

// Workspace of the band scan beyond the level walk's: the band links, `through` and R `local` rows.
template <class T, int R>
BandRows<T, R> take_band_rows(detail::WorkspaceLayout& w, ChannelShape shape) {
  const auto n = static_cast<std::size_t>(shape.numel());
  BandRows<T, R> rows{};
  rows.through = w.take<detail::acc_t<T>>(n);
#pragma unroll
  for (int r = 0; r < R; ++r) rows.local[r] = w.take<detail::acc_t<T>>(n);
  return rows;
}

}  // namespace
}  // namespace groot::cuda
