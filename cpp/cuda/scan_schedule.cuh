// The level form of a BFS schedule, built on the device for the scan kernels: the BFS positions of
// every level and, for each position, the contiguous range of its children's positions (BFS
// places siblings together).
#pragma once

#include "block_scan.cuh"
#include "common.cuh"

namespace groot::cuda {
namespace {

constexpr int kScheduleThreads = 1024;

struct Schedule {
  int* order;        // (B, L) vertex at each BFS position
  int* parent;       // (B, L) parent of each vertex, -1 at the root
  int* position;     // (B, L) BFS position of each vertex
  int* child_start;  // (B, L+1) children of position k sit at [child_start[k], child_start[k+1])
  int* level_start;  // (B, L+1) level l covers positions [level_start[l], level_start[l+1])
  int* levels;       // (B) number of levels
};

Schedule take_schedule(detail::WorkspaceLayout& w, ChannelShape shape) {
  const auto B = static_cast<std::size_t>(shape.batch), L = static_cast<std::size_t>(shape.vertices);
  return {w.take<int>(B * L), w.take<int>(B * L), w.take<int>(B * L),
          w.take<int>(B * (L + 1)), w.take<int>(B * (L + 1)), w.take<int>(B)};
}

constexpr int kScheduleItemThreads = 256;

// The per-item passes run over the whole grid (a tree of 67 000 vertices takes one
// multiprocessor ~150 µs to walk through them; the grid, a few µs). First the ids: copied, with
// ids out of range (only in hand-made schedules) replaced so that nothing reads out of bounds,
// each vertex's BFS position (position is zeroed beforehand, for orders that repeat a vertex), and
// the child counts zeroed.
__global__ void __launch_bounds__(kScheduleItemThreads) schedule_ids_kernel(index_t batch, index_t vertices,
                                                                           const index_t* orders,
                                                                           const index_t* parents, Schedule s) {
  const index_t i = index_t(blockIdx.x) * kScheduleItemThreads + threadIdx.x;
  if (i >= batch * vertices) return;
  auto valid = [&](index_t v) { return v >= 0 && v < vertices; };
  const int v = valid(orders[i]) ? static_cast<int>(orders[i]) : 0;
  s.order[i] = v;
  s.parent[i] = valid(parents[i]) ? static_cast<int>(parents[i]) : -1;
  const index_t b = i / vertices, k = i % vertices;
  s.position[b * vertices + v] = static_cast<int>(k);
  s.child_start[b * (vertices + 1) + k] = 0;
  if (k == 0) s.child_start[b * (vertices + 1) + vertices] = 0;
}

// Then the child count of every position, into child_start (integer atomics: the counts do not
// depend on their order).
__global__ void __launch_bounds__(kScheduleItemThreads) child_counts_kernel(index_t batch, index_t vertices,
                                                                           Schedule s) {
  const index_t i = index_t(blockIdx.x) * kScheduleItemThreads + threadIdx.x;
  if (i >= batch * vertices || i % vertices == 0) return;
  const index_t b = i / vertices;
  const int p = s.parent[b * vertices + s.order[i]];
  if (p >= 0) atomicAdd(&s.child_start[b * (vertices + 1) + s.position[b * vertices + p]], 1);
}

// Per sample, from the child counts: child_start as a prefix sum, then the level starts. With
// `cached`, shared memory holds child_start[k] - k for every k (the queue ahead of position k:
// under 2^16 for all but the widest trees), so that the level chain below reads no global memory.
__global__ void __launch_bounds__(kScheduleThreads) schedule_kernel(index_t vertices, bool cached, Schedule s) {
  extern __shared__ unsigned short queue_ahead[];
  const int L = static_cast<int>(vertices);
  const index_t b = blockIdx.x;
  int* child_start = s.child_start + b * (L + 1);
  int* level_start = s.level_start + b * (L + 1);

  detail::exclusive_scan<kScheduleThreads>(child_start, child_start, L + 1);
  bool too_far = !cached;
#pragma unroll 4
  for (int k = threadIdx.x; k <= L; k += kScheduleThreads) {
    const int first = min(child_start[k] + 1, L);  // the root's children start at position 1
    child_start[k] = first;
    if (cached) {
      too_far |= first - k < 0 || first - k > 0xFFFF;
      queue_ahead[k] = static_cast<unsigned short>(first - k);
    }
  }
  const bool use_cache = !__syncthreads_or(too_far);
  if (threadIdx.x == 0) {
    // Level l+1 starts where the first vertex of level l puts its children.
    // One loop per source, so that a step waits on one load alone (~150 cycles a level when
    // both were in the loop).
    int levels = 0;
    level_start[0] = 0;
    auto walk = [&](auto next_of) {
      for (int start = 0, next; start < L; start = next) {
        next = next_of(start);
        if (next <= start) break;  // not a BFS schedule
        level_start[++levels] = next;
      }
    };
    if (use_cache)
      walk([&](int k) { return k + queue_ahead[k]; });
    else
      walk([&](int k) { return child_start[k]; });
    s.levels[b] = levels;
  }
}

// Takes the schedule's place in the workspace (as take_schedule sizes it) and fills it from
// (order, parent) on the stream.
Schedule build_schedule(detail::WorkspaceLayout& w, ChannelShape shape, const index_t* order, const index_t* parent,
                        cudaStream_t stream) {
  const Schedule s = take_schedule(w, shape);
  const index_t items = shape.batch * shape.vertices;
  detail::check(cudaMemsetAsync(s.position, 0, std::size_t(items) * sizeof(int), stream), "cudaMemsetAsync");
  const unsigned item_blocks = detail::blocks_for(items, kScheduleItemThreads);
  schedule_ids_kernel<<<item_blocks, kScheduleItemThreads, 0, stream>>>(shape.batch, shape.vertices, order, parent,
                                                                        s);
  detail::check_launch("schedule_ids_kernel");
  child_counts_kernel<<<item_blocks, kScheduleItemThreads, 0, stream>>>(shape.batch, shape.vertices, s);
  detail::check_launch("child_counts_kernel");
  const std::size_t cache_bytes = std::size_t(shape.vertices + 1) * sizeof(unsigned short);
  const bool cached = detail::fits_in_shared(schedule_kernel, cache_bytes);
  const std::size_t shared = cached ? cache_bytes : 0;
  if (cached)
    detail::check(cudaFuncSetAttribute(schedule_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(shared)),
                  "cudaFuncSetAttribute");
  schedule_kernel<<<static_cast<unsigned>(shape.batch), kScheduleThreads, shared, stream>>>(shape.vertices, cached,
                                                                                            s);
  detail::check_launch("schedule_kernel");
  return s;
}

// One sample's schedule as a scan kernel reads it.
struct SampleSchedule {
  const int* order;
  const int* parent;
  const int* child_start;
  const int* level_start;
  int levels;
};

// Sample b's view of the schedule in global memory.
__device__ SampleSchedule sample_schedule(const Schedule& s, index_t b, index_t L) {
  return {s.order + b * L, s.parent + b * L, s.child_start + b * (L + 1), s.level_start + b * (L + 1),
          s.levels[b]};
}

}  // namespace
}  // namespace groot::cuda
