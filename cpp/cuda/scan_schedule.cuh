// The level form of a BFS schedule, built on the device for the scan kernels: the BFS positions of
// every level and, for each position, the contiguous range of its children's positions (BFS
// places siblings together).
#pragma once

#include <limits>

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

// One sample's schedule as a scan kernel reads it: in global memory (I = int), or staged in shared
// memory by the block (int, or short where a tree has under 2^15 vertices).
template <class I>
struct SampleScheduleOf {
  const I* order;
  const I* parent;
  const I* child_start;
  const I* level_start;
  int levels;

  // As the band kernels read a schedule (band_scan.cuh's BandSlice reads the same way).
  __device__ int order_at(int k) const { return order[k]; }
  __device__ int parent_at(int k) const { return parent[order[k]]; }  // of position k's vertex
  __device__ int child_start_at(int k) const { return child_start[k]; }
  __device__ int level_start_at(int level) const { return level_start[level]; }
};
using SampleSchedule = SampleScheduleOf<int>;

constexpr int kScheduleItemThreads = 256;

// Ids as the schedule keeps them: out of range (only in hand-made schedules), a position's vertex
// becomes 0 and a parent -1, so that nothing reads out of bounds.
__device__ int schedule_vertex(index_t v, index_t vertices) {
  return v >= 0 && v < vertices ? static_cast<int>(v) : 0;
}
__device__ int schedule_parent(index_t p, index_t vertices) {
  return p >= 0 && p < vertices ? static_cast<int>(p) : -1;
}

// Writes the level starts: level l + 1 starts where the first vertex of level l puts its children
// (next_of(start)). Returns the number of levels. One thread walks it.
template <class NextOf>
__device__ int write_level_starts(int L, int* level_start, NextOf next_of) {
  int levels = 0;
  level_start[0] = 0;
  for (int start = 0, next; start < L; start = next) {
    next = next_of(start);
    if (next <= start) break;  // not a BFS schedule
    level_start[++levels] = next;
  }
  return levels;
}

// child_start[k] from the count of children of the positions before k: the root's children start
// at position 1, and no child range runs past L.
__device__ int first_child(int children_before, int L) { return min(children_before + 1, L); }

// Whether position k puts its children after itself, as every position of a BFS does (L maps to
// L): what the level starts by jumps ask of every position.
__device__ bool children_after_position(int k, int first, int L) { return k == L || first > k; }

// Level l + 1 starts at next(level_start[l]), so write_level_starts is a chain of one dependent
// load a level on one thread: ~100 µs for the 1 689 levels of a 200x336 grid's tree. Where every
// position k < L puts its children after itself (next(k) > k, as in any BFS, and then next(L) = L),
// the chain can take kLevelJump levels a step instead. The block doubles `ahead` (next(k) - k on
// entry, in shared memory) in place until it holds next^kLevelJump(k) - k, one thread walks those
// jumps, and a thread a jump then fills in the levels in between from `next` (global memory).
// Returns the number of levels, or -1 (nothing written) where a jump does not fit in Ahead.
constexpr int kLevelJumpDoublings = 3;  // jumps of 16 levels were slower (59 against 52 µs a tree)
constexpr int kLevelJump = 1 << kLevelJumpDoublings;

template <int kThreads, class Ahead>
__device__ int write_level_starts_by_jumps(int L, Ahead* ahead, const int* next, int* level_start) {
  constexpr int kItems = 8;
  constexpr int kMaxAhead = std::numeric_limits<Ahead>::max();
  __shared__ int jumps, levels;
  bool overflow = false;
  for (int doubling = 0; doubling < kLevelJumpDoublings; ++doubling) {
    // In place, a round of positions at a time: position k reads only positions k and after, which
    // no earlier round has rewritten and this round rewrites only after all its reads.
    for (int base = 0; base <= L; base += kThreads * kItems) {
      int doubled[kItems];
#pragma unroll
      for (int j = 0; j < kItems; ++j) {
        const int k = base + j * kThreads + int(threadIdx.x);
        if (k <= L) doubled[j] = ahead[k] + ahead[k + ahead[k]];
      }
      __syncthreads();
#pragma unroll
      for (int j = 0; j < kItems; ++j) {
        const int k = base + j * kThreads + int(threadIdx.x);
        if (k > L) continue;
        overflow |= doubled[j] > kMaxAhead;
        ahead[k] = static_cast<Ahead>(doubled[j] > kMaxAhead ? 0 : doubled[j]);  // 0 keeps k + ahead[k] in range
      }
      __syncthreads();
    }
  }
  if (__syncthreads_or(overflow)) return -1;
  if (threadIdx.x == 0) {
    int count = 0;
    for (int start = 0; start < L; start += ahead[start]) level_start[kLevelJump * count++] = start;
    jumps = count;
  }
  __syncthreads();
  for (int jump = threadIdx.x; jump < jumps; jump += kThreads) {
    int start = level_start[kLevelJump * jump];
    for (int level = kLevelJump * jump + 1; level <= kLevelJump * (jump + 1); ++level) {
      start = next[start];
      if (start == L) {  // the last jump's levels end at L
        level_start[level] = L;
        levels = level;
        break;
      }
      if (level < kLevelJump * (jump + 1)) level_start[level] = start;  // the next jump's own start is written
    }
  }
  __syncthreads();
  return levels;
}

// The per-item passes run over the whole grid (a tree of 67 000 vertices takes one
// multiprocessor ~150 µs to walk through them; the grid, a few µs). First the ids: copied
// (schedule_vertex, schedule_parent), each vertex's BFS position (position is zeroed beforehand,
// for orders that repeat a vertex), and the child counts zeroed.
__global__ void __launch_bounds__(kScheduleItemThreads) schedule_ids_kernel(index_t batch, index_t vertices,
                                                                           const index_t* orders,
                                                                           const index_t* parents, Schedule s) {
  const index_t i = index_t(blockIdx.x) * kScheduleItemThreads + threadIdx.x;
  if (i >= batch * vertices) return;
  const int v = schedule_vertex(orders[i], vertices);
  s.order[i] = v;
  s.parent[i] = schedule_parent(parents[i], vertices);
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

// The level starts from child_start (`next`, in global memory): by jumps where every thread's
// positions put their children after themselves (children_after; `ahead` then holds next(k) - k
// for every k, in shared memory), else one level at a time from `next`. That is for schedules that
// are no BFS, and for trees too wide for `ahead`, which are shallow: 8 levels of a tree whose jump
// overflows 16 bits hold over 65 535 vertices.
template <int kThreads, class Ahead>
__device__ int write_schedule_levels(int L, Ahead* ahead, bool children_after, const int* next, int* level_start) {
  if (!__syncthreads_or(!children_after)) {
    if (const int levels = write_level_starts_by_jumps<kThreads>(L, ahead, next, level_start); levels >= 0)
      return levels;
  }
  __shared__ int levels;
  if (threadIdx.x == 0) levels = write_level_starts(L, level_start, [&](int k) { return next[k]; });
  __syncthreads();
  return levels;
}

// Per sample, from the child counts: child_start as a prefix sum, then the level starts. With
// `cached`, shared memory holds child_start[k] - k for every k (the queue ahead of position k:
// under 2^16 for all but the widest trees), for the level starts by jumps. H100, a 200x336 grid's
// tree of 1 689 levels: 124 µs a call when one thread walked the levels and the prefix sum took
// 66 block-wide rounds; 81 µs with jumps; 52 µs with jumps and a warp-segmented prefix sum.
__global__ void __launch_bounds__(kScheduleThreads) schedule_kernel(index_t vertices, bool cached, Schedule s) {
  extern __shared__ unsigned short queue_ahead[];
  const int L = static_cast<int>(vertices);
  const index_t b = blockIdx.x;
  int* child_start = s.child_start + b * (L + 1);
  bool children_after = cached;
  const auto finish = [&](int k, int children_before) {
    const int first = first_child(children_before, L);
    child_start[k] = first;
    if (cached) {
      children_after &= children_after_position(k, first, L) && first - k <= 0xFFFF;
      queue_ahead[k] = static_cast<unsigned short>(first - k);
    }
  };
  detail::exclusive_scan<kScheduleThreads>(child_start, L + 1, finish);
  const int levels =
      write_schedule_levels<kScheduleThreads>(L, queue_ahead, children_after, child_start, s.level_start + b * (L + 1));
  if (threadIdx.x == 0) s.levels[b] = levels;
}

// The three steps above in one block per sample, for trees whose ids, parents, positions and child
// counts fit in its shared memory together (up to ~14 000 vertices): one launch instead of four
// (with the memset), and every pass on chip. Same results as the three kernels, ids out of range
// included. H100, fp32 token-major scans, forward / backward µs, four launches -> one, same run:
// 128 x 160 x 56x56 730-735 / 1274-1275 -> 717-718 / 1256-1261, 128 x 1280 x 7x7 89 / 138-139 ->
// 82 / 131, 1 x 640 x 50x84 233-234 / 327 -> 228 / 321, 1 x 1280 x 25x42 109 / 155-156 -> 103 / 148,
// outputs bit for bit the same.
__host__ __device__ inline std::size_t small_schedule_bytes(index_t L) {
  return std::size_t(4 * L + 1) * sizeof(int);
}

// What small_schedule_kernel holds on chip once its sample's schedule is written, for a step that
// finishes the block's work from there (Finish): the order and parents, two arrays it may
// overwrite, and the schedule as written to the workspace (visible to the whole block).
struct ScheduleOnChip {
  index_t sample;
  int L, levels;
  const int* order;   // vertex at each position
  const int* parent;  // parent of each vertex
  int* spare_positions;  // L + 1 ints
  int* spare_vertices;   // L ints
  SampleSchedule written;
};

struct NoFinish {
  __device__ void operator()(const ScheduleOnChip&) const {}
};

template <class Finish>
__global__ void __launch_bounds__(kScheduleThreads) small_schedule_kernel(index_t vertices, const index_t* orders,
                                                                         const index_t* parents, Schedule s,
                                                                         Finish finish) {
  extern __shared__ int small_schedule[];
  const int L = static_cast<int>(vertices);
  const index_t b = blockIdx.x;
  int* order = small_schedule;  // vertex at each position
  int* parent = order + L;      // parent of each vertex
  int* position = parent + L;   // position of each vertex
  int* child_start = position + L;
  for (int k = threadIdx.x; k < L; k += kScheduleThreads) position[k] = 0;
  __syncthreads();
  for (int k = threadIdx.x; k <= L; k += kScheduleThreads) {
    child_start[k] = 0;
    if (k == L) break;
    const int v = schedule_vertex(orders[b * L + k], vertices);
    order[k] = s.order[b * L + k] = v;
    parent[k] = s.parent[b * L + k] = schedule_parent(parents[b * L + k], vertices);
    position[v] = k;
  }
  __syncthreads();
  for (int k = 1 + threadIdx.x; k < L; k += kScheduleThreads)
    if (const int p = parent[order[k]]; p >= 0) atomicAdd(&child_start[position[p]], 1);
  __syncthreads();
  detail::exclusive_scan_in_runs<kScheduleThreads>(child_start, L + 1);
  bool children_after = true;
  int* ahead = child_start;  // becomes next(k) - k for the level starts
  for (int k = threadIdx.x; k <= L; k += kScheduleThreads) {
    const int first = first_child(child_start[k], L);
    s.child_start[b * (L + 1) + k] = first;
    ahead[k] = first - k;
    children_after &= children_after_position(k, first, L);
    if (k < L) s.position[b * L + k] = position[k];
  }
  int* level_start = s.level_start + b * (L + 1);
  const int levels = write_schedule_levels<kScheduleThreads>(L, ahead, children_after, s.child_start + b * (L + 1),
                                                             level_start);
  if (threadIdx.x == 0) s.levels[b] = levels;
  // Positions are written out and `ahead` spent: both arrays are free.
  finish(ScheduleOnChip{b, L, levels, order, parent, child_start, position,
                        {s.order + b * L, s.parent + b * L, s.child_start + b * (L + 1), level_start, levels}});
}

// Fills a schedule taken from the workspace (take_schedule) from (order, parent) on the stream.
// Trees that fit one block's shared memory are filled on chip, a block a sample, and each block
// then calls finish; returns whether they were (else finish is not called).
template <class Finish = NoFinish>
bool fill_schedule(const Schedule& s, ChannelShape shape, const index_t* order, const index_t* parent,
                   cudaStream_t stream, Finish finish = {}) {
  const std::size_t small_bytes = small_schedule_bytes(shape.vertices);
  if (detail::fits_in_shared(small_schedule_kernel<Finish>, small_bytes)) {
    detail::allow_dynamic_shared(small_schedule_kernel<Finish>, small_bytes);
    small_schedule_kernel<<<static_cast<unsigned>(shape.batch), kScheduleThreads, small_bytes, stream>>>(
        shape.vertices, order, parent, s, finish);
    detail::check_launch("small_schedule_kernel");
    return true;
  }
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
  if (cached) detail::allow_dynamic_shared(schedule_kernel, shared);
  schedule_kernel<<<static_cast<unsigned>(shape.batch), kScheduleThreads, shared, stream>>>(shape.vertices, cached,
                                                                                            s);
  detail::check_launch("schedule_kernel");
  return false;
}

// Takes the schedule's place in the workspace and fills it.
Schedule build_schedule(detail::WorkspaceLayout& w, ChannelShape shape, const index_t* order, const index_t* parent,
                        cudaStream_t stream) {
  const Schedule s = take_schedule(w, shape);
  fill_schedule(s, shape, order, parent, stream);
  return s;
}

// Sample b's view of the schedule in global memory.
__device__ SampleSchedule sample_schedule(const Schedule& s, index_t b, index_t L) {
  return {s.order + b * L, s.parent + b * L, s.child_start + b * (L + 1), s.level_start + b * (L + 1),
          s.levels[b]};
}

// Whether a tree's schedule can be staged as short (with_schedule): positions, child starts and
// level starts up to L, under 2^15.
inline bool stages_as_short(index_t L) { return L < (1 << 15) - 2; }

// Bytes of a sample's schedule staged as I (order, parent, child_start, level_start), 16-aligned.
template <class I>
__host__ __device__ std::size_t staged_schedule_bytes(index_t L) {
  return (std::size_t(4 * L + 2) * sizeof(I) + 15) / 16 * 16;
}

// Sample b's schedule copied by the block into `shared` as I.
template <class I>
__device__ SampleScheduleOf<I> stage_schedule(const Schedule& s, index_t b, int L, I* shared) {
  const SampleSchedule view = sample_schedule(s, b, L);
  I* order = shared;
  I* parent = order + L;
  I* child_start = parent + L;
  I* level_start = child_start + L + 1;
  for (int k = threadIdx.x; k <= L; k += blockDim.x) {
    if (k < L) {
      order[k] = static_cast<I>(view.order[k]);
      parent[k] = static_cast<I>(view.parent[k]);
    }
    child_start[k] = static_cast<I>(view.child_start[k]);
    if (k <= view.levels) level_start[k] = static_cast<I>(view.level_start[k]);
  }
  __syncthreads();
  return {order, parent, child_start, level_start, view.levels};
}

// Calls walk(schedule) with the block's sample's schedule: staged in shared memory (as short: the
// launcher stages only trees that stages_as_short) or read from the workspace.
template <bool kStaged, class Walk>
__device__ void with_schedule(const Schedule& schedule, index_t b, index_t L, Walk walk) {
  if constexpr (kStaged) {
    extern __shared__ __align__(16) short staged_schedule[];
    walk(stage_schedule(schedule, b, static_cast<int>(L), staged_schedule));
  } else {
    walk(sample_schedule(schedule, b, L));
  }
}

}  // namespace
}  // namespace groot::cuda
