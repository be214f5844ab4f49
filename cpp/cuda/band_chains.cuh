// Steps 2 and 4 of the band scan (band_scan.cuh): the chains that carry the values where bands
// meet from band to band, a block per sample and channel tile, a barrier a band.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "bands.cuh"

namespace groot::cuda {
namespace {

// What the chains read of a sample's schedule: lists of the positions where bands meet. The up
// chain's list j holds band j's top level and one slot more, whose link ends the last position's
// range: slot t's descendants on the next top are the slots [link(t), link(t + 1)) of list j + 1.
// The down chain's list j holds band j's bottom level (bands with bands above and below; the
// other lists are empty), each slot with its anchor (Bands::anchor) and the anchor's parent.
//
// ChainLists reads the lists where they lie, in the workspace: a list is a level's positions
// (and the next level's first), a slot a position.
struct ChainLists {
  SampleSchedule s;
  const int* reach;   // the sample's Bands::reach
  const int* anchor;  // the sample's Bands::anchor
  int K;
  bool up;  // the up chain's lists, else the down chain's

  __device__ int count() const { return band_count(s, K); }
  __device__ bool has(int j) const { return up || (j >= 1 && j + 1 < count()); }
  __device__ int level(int j) const { return up ? j * K : j * K + K - 1; }  // band j's top or bottom
  __device__ int begin(int j) const { return has(j) ? s.level_start[level(j)] : 0; }
  __device__ int end(int j) const { return has(j) ? s.level_start[level(j) + 1] : 0; }
  __device__ int vertex(int t) const { return s.order[t]; }
  __device__ int link(int t) const { return reach[t]; }
  __device__ int anchor_of(int t) const { return anchor[t]; }
  __device__ int anchor_parent(int t) const { return anchor[t] >= 0 ? s.parent[anchor[t]] : -1; }
};

// The same lists copied into a chain block's shared memory: slots numbered across the lists
// (list j from slot first[j]), links as slot numbers. The block's shared memory beyond the lists
// is `spare`, for the up chain's values (ListValues).
struct StagedChainLists {
  const int* first;     // (count + 1)
  const int* vertices;  // a slot's vertex
  const int* links;     // up: a slot's link; down: its anchor and the anchor's parent, a pair a slot
  int lists;
  bool up;
  int widest;  // slots of the longest list
  void* spare;  // 16-byte aligned
  std::size_t spare_bytes;

  __device__ int count() const { return lists; }
  __device__ int begin(int j) const { return first[j]; }
  __device__ int end(int j) const { return up ? first[j + 1] - 1 : first[j + 1]; }
  __device__ int vertex(int t) const { return vertices[t]; }
  __device__ int link(int t) const { return links[t]; }
  __device__ int anchor_of(int t) const { return links[2 * t]; }
  __device__ int anchor_parent(int t) const { return links[2 * t + 1]; }
};

// The chains take all the warps a block may have: a chain step's positions each wait on a few
// dependent loads, so the more warps share them out, the shorter the step. H100, the 15 scans of a
// Mask R-CNN forward (1333x800), µs in all, with the sweeps' warps -> 32: up chains 1049 -> 954,
// down chains 808 -> 664; 8 -> 32 warps took a 1 x 640 x 50x84 scan from 283 to 261.
constexpr int kChainWarps = kMaxBandWarps;

// Calls body(lane, lists) with the block's chain lists (up: the up chain's, else the down
// chain's) staged in its `capacity` ints of shared memory where they fit, else read in the
// workspace. Staged, a chain step finds its slots, vertices and links on chip and waits on L2
// only for the values: in the workspace it first waits on a chain of dependent loads (level
// bounds, position, range, the descendants' vertices). H100, fp32, µs a call, forward / backward,
// workspace -> staged: 1 x 160 x 200x336 920-927 / 1 341-1 347 -> 778-866 / 1 119-1 189 (up
// chain 196 -> 124 µs forward), 1 x 320 x 100x168 470 / 776-782 -> 428-440 / 670-708; stage 3
// (1 x 640 x 50x84, whole schedule staged before) 204-206 / 290-291 -> 198-221 / 276-302.
template <class Body>
__device__ void with_chain_lists(ChannelShape shape, const Schedule& schedule, const Bands& bands, bool up,
                                 int capacity, Body body) {
  extern __shared__ __align__(16) int chain_shared[];
  index_t b;
  const Lane lane = block_lane(shape, b);
  const int L = static_cast<int>(shape.vertices);
  const ChainLists lists{sample_schedule(schedule, b, L), bands.reach + b * (L + 1), bands.anchor + b * L,
                         bands.levels_per_band, up};
  const int count = lists.count(), extra = up ? 1 : 0, ints_a_slot = up ? 2 : 3;
  if (count + 1 > capacity) return body(lane, lists);
  __shared__ int widest;
  if (threadIdx.x == 0) widest = 0;
  __syncthreads();
  int* first = chain_shared;
  for (int j = threadIdx.x; j < count; j += kChainWarps * 32) {
    first[j] = lists.end(j) - lists.begin(j) + extra;
    atomicMax(&widest, first[j] - extra);
  }
  __syncthreads();
  const int slots = detail::exclusive_scan_in_runs<kChainWarps * 32>(first, count);
  const int used = (count + 1 + ints_a_slot * slots + 3) / 4 * 4;  // the spare space 16-byte aligned
  if (used > capacity) return body(lane, lists);
  if (threadIdx.x == 0) first[count] = slots;
  int* vertices = first + count + 1;
  int* links = vertices + slots;
  for (int j = threadIdx.x / 32; j < count; j += kChainWarps) {
    const int begin = lists.begin(j), size = lists.end(j) - begin + extra;
    // Up: links into list j + 1 as its slot numbers (the last top links nowhere), kept within it
    // where a schedule is no BFS.
    const bool links_on = up && j + 1 < count;
    const int next = links_on ? lists.begin(j + 1) : 0, next_end = links_on ? lists.end(j + 1) : 0;
    for (int i = threadIdx.x % 32; i < size; i += 32) {
      const int t = begin + i, slot = first[j] + i;
      vertices[slot] = i < size - extra ? lists.vertex(t) : 0;
      if (up) {
        links[slot] = links_on ? first[j + 1] + min(max(lists.link(t), next), next_end) - next : 0;
      } else {
        links[2 * slot] = lists.anchor_of(t);
        links[2 * slot + 1] = lists.anchor_parent(t);
      }
    }
  }
  __syncthreads();
  body(lane, StagedChainLists{first, vertices, links, count, up, widest, chain_shared + used,
                              std::size_t(capacity - used) * sizeof(int)});
}

// Calls visit(t) for the slots of list j, a warp a slot (active lanes).
template <class Lists, class Visit>
__device__ void for_each_slot(const Lists& lists, const Lane& lane, int j, Visit visit) {
  for (int t = lists.begin(j) + threadIdx.x / 32; lane.active && t < lists.end(j); t += kChainWarps) visit(t);
}

// One chain step: visit(t) for the slots of list j, then a barrier.
template <class Lists, class Visit>
__device__ void chain_step(const Lists& lists, const Lane& lane, int j, Visit visit) {
  for_each_slot(lists, lane, j, visit);
  __syncthreads();
}

// Asks L2 for `row` at the vertices of list j.
template <class Lists, class A>
__device__ void prefetch_list(const Lists& lists, const Lane& lane, int j, const A* row) {
  for_each_slot(lists, lane, j, [&](int t) { prefetch_to_l2(row + lane.at(lists.vertex(t))); });
}

// The values a chain step hands the next one, for the block's 32 channels, kept in shared memory:
// two lists' worth, list j in half j % 2, kValues of A a slot and lane. A step then waits on
// shared memory, not on L2, for what the step before it wrote.
template <class A, int kValues>
struct ListValues {
  A* data;
  int widest;

  __device__ static std::size_t bytes(int widest) { return std::size_t(2) * widest * kValues * 32 * sizeof(A); }
  __device__ A& at(int j, int slot, int k) const {
    return data[(((j & 1) * widest + slot) * kValues + k) * 32 + threadIdx.x % 32];
  }
};

// Step 2 with the band tops' values on chip: each top's `through` and R up-sums. Each warp's
// first slot of a step has its own inputs (its local up-sums and through, which no step writes)
// loaded a step ahead, in flight across the barrier. Same arithmetic in the same order as the
// chain through L2 (band_up_chain_kernel's other path). Returns false, having done nothing, where
// the values do not fit in the block's spare shared memory. H100, µs a call of the up chain,
// forward / backward, L2 -> on chip: 1 x 160 x 200x336 128 / 133 -> 61 / 70, 1 x 320 x 100x168
// 60 / 69 -> 32 / 36, 16 x 192 x 128x128 86 / 92 -> 39 / 44. The down chain's results on chip
// (parent slots looked up when staging) made it slower, 68 -> 86 µs at 200x336: not kept.
template <class T, int R>
__device__ bool up_chain_on_chip(const Lane& lane, const StagedChainLists& lists, const BandRows<T, R>& rows) {
  using A = detail::acc_t<T>;
  using Values = ListValues<A, 1 + R>;  // through, then the up-sums
  if (Values::bytes(lists.widest) > lists.spare_bytes) return false;
  const Values values{static_cast<A*>(lists.spare), lists.widest};
  const int count = lists.count(), warp = threadIdx.x / 32;
  if (count < 2) return true;
  for_each_slot(lists, lane, count - 1, [&](int t) {
    const index_t u = lane.at(lists.vertex(t));
    const int slot = t - lists.begin(count - 1);
    values.at(count - 1, slot, 0) = rows.through[u];
#pragma unroll
    for (int r = 0; r < R; ++r) values.at(count - 1, slot, 1 + r) = rows.up[r][u];
  });
  A held_up[R], held_through = 0;  // the inputs of the warp's first slot of the coming step
  const auto fetch = [&](int j) {
    const int t = lists.begin(j) + warp;
    if (!lane.active || t >= lists.end(j)) return;
    const index_t i = lane.at(lists.vertex(t));
#pragma unroll
    for (int r = 0; r < R; ++r) held_up[r] = rows.up[r][i];
    held_through = j > 0 ? rows.through[i] : A(0);  // the first band's top has none
  };
  fetch(count - 2);
  __syncthreads();
  for (int j = count - 2; j >= 0; --j) {
    const int begin = lists.begin(j), below = lists.begin(j + 1);
    for_each_slot(lists, lane, j, [&](int t) {
      const index_t i = lane.at(lists.vertex(t));
      const bool held = t == begin + warp;
      A sum[R];
#pragma unroll
      for (int r = 0; r < R; ++r) sum[r] = held ? held_up[r] : rows.up[r][i];
      const A through = held ? held_through : j > 0 ? rows.through[i] : A(0);
      for (int c = lists.link(t); c < lists.link(t + 1); ++c) {
#pragma unroll
        for (int r = 0; r < R; ++r) sum[r] += values.at(j + 1, c - below, 0) * values.at(j + 1, c - below, 1 + r);
      }
      values.at(j, t - begin, 0) = through;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        rows.up[r][i] = sum[r];
        values.at(j, t - begin, 1 + r) = sum[r];
      }
    });
    if (j > 0) fetch(j - 1);
    __syncthreads();
  }
  return true;
}

// Step 2: the up-sums of the band tops, deepest band first.
template <class T, int R>
__global__ void __launch_bounds__(kChainWarps * 32) band_up_chain_kernel(ChannelShape shape, Schedule schedule,
                                                                        Bands bands, BandRows<T, R> rows,
                                                                        int capacity) {
  using A = detail::acc_t<T>;
  with_chain_lists(shape, schedule, bands, true, capacity, [&](const Lane& lane, const auto& lists) {
    if constexpr (std::is_same_v<std::decay_t<decltype(lists)>, StagedChainLists>) {
      if (up_chain_on_chip(lane, lists, rows)) return;
    }
    for (int j = lists.count() - 2; j >= 0; --j) {
      // Only the tops just summed are a true dependency of the next step: the rest of what it
      // reads is asked for now (these rows are far larger than L2 by the time the chain runs).
      if (j > 0) {
#pragma unroll
        for (int r = 0; r < R; ++r) prefetch_list(lists, lane, j - 1, rows.up[r]);
      }
      chain_step(lists, lane, j, [&](int t) {
        const index_t i = lane.at(lists.vertex(t));
        A sum[R];
#pragma unroll
        for (int r = 0; r < R; ++r) sum[r] = rows.up[r][i];
#pragma unroll 4
        for (int c = lists.link(t); c < lists.link(t + 1); ++c) {
          const index_t u = lane.at(lists.vertex(c));
#pragma unroll
          for (int r = 0; r < R; ++r) sum[r] += rows.through[u] * rows.up[r][u];
        }
#pragma unroll
        for (int r = 0; r < R; ++r) rows.up[r][i] = sum[r];
      });
    }
  });
}

// Step 4: the results at the bottom of each band below the first, band after band.
template <class T, int R>
__global__ void __launch_bounds__(kChainWarps * 32) band_down_chain_kernel(ChannelShape shape, const T* decay,
                                                                          Schedule schedule, Bands bands,
                                                                          BandRows<T, R> rows, int capacity) {
  using A = detail::acc_t<T>;
  with_chain_lists(shape, schedule, bands, false, capacity, [&](const Lane& lane, const auto& lists) {
    for (int j = 1; j + 1 < lists.count(); ++j) {
      if (j + 2 < lists.count()) {  // as in the up chain: what the next step reads besides
#pragma unroll
        for (int r = 0; r < R; ++r) prefetch_list(lists, lane, j + 1, rows.local[r]);
        prefetch_list(lists, lane, j + 1, rows.through);
      }
      chain_step(lists, lane, j, [&](int t) {
        const int a = lists.anchor_of(t), p = lists.anchor_parent(t);
        if (p < 0) return;
        const index_t i = lane.at(lists.vertex(t));
        const A coefficient = rows.through[i] * detail::load_as<A>(decay + lane.at(a));
#pragma unroll
        for (int r = 0; r < R; ++r) rows.local[r][i] += coefficient * rows.local[r][lane.at(p)];
      });
    }
  });
}

// Shared memory a chain block may stage its lists in: up to 64 KB (one slot in ~K vertices; ~2 200
// slots for a 200x336 grid's tree, 8 or 12 bytes each). The up chain also keeps its values there,
// 2 x (1 + R) x 128 bytes for each slot of the longest list (~340 slots at 200x336): up to 192 KB.
// Chain blocks are at most one a multiprocessor (band_plan), so the space costs no residency.
constexpr std::size_t kChainListBytes = 64 * 1024;
constexpr std::size_t kUpChainBytes = 192 * 1024;

// Launches a chain kernel, a block per sample and channel tile, with as much of `max_bytes` of
// shared memory as the device gives it; the kernel takes its capacity in ints as its last argument.
template <class Kernel, class... Args>
void launch_band_chain(const BandPlan& plan, Kernel* kernel, std::size_t max_bytes, const char* name,
                       cudaStream_t stream, Args... args) {
  const std::size_t bytes = detail::allow_dynamic_shared(kernel, max_bytes);
  kernel<<<plan.chain_blocks, kChainWarps * 32, bytes, stream>>>(args..., static_cast<int>(bytes / sizeof(int)));
  detail::check_launch(name);
}

}  // namespace
}  // namespace groot::cuda
