// Block-wide exclusive prefix sums over arrays longer than the block.
#pragma once

#include <cub/block/block_scan.cuh>

namespace groot::cuda::detail {

// Calls visit(i, Σ_{j<i} in[j]) for every i < n, in[] integers in global or shared memory. Each warp takes one
// contiguous segment: its total first (coalesced loads, all in flight), then, after one scan of the
// warp totals, its items 32 at a time by warp shuffles, kAhead chunks loaded at once. One item a
// thread a round took 66 block-wide rounds for 67 201 items, each a round trip to global memory and
// two barriers (29 µs more a call); 16 items a thread in a row, uncoalesced, were slower still.
// visit may overwrite in[i]. Must be called by all threads of the block.
template <int kThreads, class Item, class Visit>
__device__ void exclusive_scan(const Item* in, int n, Visit visit) {
  constexpr int kWarps = kThreads / 32, kAhead = 8;
  constexpr unsigned kAll = 0xFFFFFFFFu;
  static_assert(kThreads % 32 == 0 && kWarps <= 32);
  __shared__ int warp_start[kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int segment = ((n + kWarps - 1) / kWarps + 31) / 32 * 32;
  const int begin = min(n, warp * segment), end = min(n, begin + segment);
  int total = 0;
#pragma unroll 8
  for (int i = begin + lane; i < end; i += 32) total += in[i];
  for (int offset = 16; offset > 0; offset /= 2) total += __shfl_xor_sync(kAll, total, offset);
  if (lane == 0) warp_start[warp] = total;
  __syncthreads();
  if (warp == 0) {
    const int own = lane < kWarps ? warp_start[lane] : 0;
    int running = own;
    for (int offset = 1; offset < 32; offset *= 2) {
      const int before = __shfl_up_sync(kAll, running, offset);
      if (lane >= offset) running += before;
    }
    if (lane < kWarps) warp_start[lane] = running - own;
  }
  __syncthreads();
  int carry = warp_start[warp];
  for (int base = begin; base < end; base += 32 * kAhead) {
    int values[kAhead];
#pragma unroll
    for (int r = 0; r < kAhead; ++r) {
      const int i = base + 32 * r + lane;
      values[r] = i < end ? in[i] : 0;
    }
#pragma unroll
    for (int r = 0; r < kAhead; ++r) {
      int running = values[r];
      for (int offset = 1; offset < 32; offset *= 2) {
        const int before = __shfl_up_sync(kAll, running, offset);
        if (lane >= offset) running += before;
      }
      if (const int i = base + 32 * r + lane; i < end) visit(i, carry + running - values[r]);
      carry += __shfl_sync(kAll, running, 31);
    }
  }
  __syncthreads();  // warp_start is free again
}

// In place: data[i] = Σ_{j<i} data[j] over n items in shared memory (where a thread's run of
// consecutive items costs no coalescing), one block-wide scan for any length; returns the total
// to every thread. Must be called by all threads of the block.
template <int kThreads>
__device__ int exclusive_scan_in_runs(int* data, int n) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  const int run = (n + kThreads - 1) / kThreads;
  const int begin = min(n, int(threadIdx.x) * run), end = min(n, begin + run);
  int sum = 0;
  for (int i = begin; i < end; ++i) sum += data[i];
  int prefix, total;
  Scan(temp).ExclusiveSum(sum, prefix, total);
  for (int i = begin; i < end; ++i) {
    const int value = data[i];
    data[i] = prefix;
    prefix += value;
  }
  __syncthreads();
  return total;
}

}  // namespace groot::cuda::detail
