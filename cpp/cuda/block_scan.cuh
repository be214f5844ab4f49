// Block-wide exclusive prefix sums over arrays longer than the block.
#pragma once

#include <cub/block/block_scan.cuh>

namespace groot::cuda::detail {

// out[i] = Σ_{j<i} in[i] over n items, in place allowed; returns the total to every thread.
// Must be called by all threads of the block.
template <int kThreads>
__device__ int exclusive_scan(const int* in, int* out, int n) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage temp;
  __shared__ int carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < n; base += kThreads) {
    const int i = base + threadIdx.x;
    const int value = i < n ? in[i] : 0;
    int prefix, chunk_total;
    Scan(temp).ExclusiveSum(value, prefix, chunk_total);
    if (i < n) out[i] = carry + prefix;
    __syncthreads();
    if (threadIdx.x == 0) carry += chunk_total;
    __syncthreads();
  }
  return carry;
}

// In place: data[i] = Σ_{j<i} data[j] over n items, each thread summing a run of consecutive ones,
// so one block-wide scan serves any length (exclusive_scan takes one per kThreads items); returns
// the total to every thread. Must be called by all threads of the block.
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
