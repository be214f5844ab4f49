// The `all` scan in depth bands, for deep trees whose few (sample, channel tile) blocks would
// leave the GPU idle (dense prediction: one image, 67 000 vertices, ~1 800 levels).
//
// The level walk of tree_scan_channels_last.cu takes 2 × depth dependent steps. Here the levels
// are cut into bands of K; every band is walked by its own block at once, and only the values
// where bands meet go from band to band, like a chunked scan over a sequence:
//   1. sweep (local): each band's up-sums without the bands below it, and `through[v]`, the
//      product of decays from v up to its band's top (excluded): how much of v reaches the top
//      (at a top: how much of it reaches the top of the band above, decay(u)·through(parent(u)));
//   2. up chain: the band tops' up-sums, deepest band first, from the tops of the band below:
//      U(r) += Σ through(u) · U(u) over its descendants u at the next top;
//   3. sweep (final): the rest of each band's up-sums from the final tops, then the root→leaves
//      results taken as if the band's top had no parent (`local`);
//   4. down chain: the results at each band's bottom, band after band, from the bottom of the
//      band above: local(v) += through(v) · decay(anchor) · result(parent(anchor));
//   5. finish: each band's results root→leaves from the final bottom of the band above.
// Sequential steps: ~5K + 2 · depth / K instead of 2 · depth; memory moved: about twice the level
// walk's, which a GPU these trees leave idle can spare. Only the positions of a band's top and
// bottom levels link bands (scan_schedule.cuh gives BFS positions, siblings together, so the
// descendants of a top at the next top form one range of positions).
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

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

__global__ void __launch_bounds__(kBandSetupThreads) bands_kernel(ChannelShape shape, Schedule schedule, Bands bands) {
  const index_t b = blockIdx.y;
  const int L = static_cast<int>(shape.vertices), K = bands.levels_per_band;
  const int k = blockIdx.x * kBandSetupThreads + threadIdx.x;
  const SampleSchedule s = sample_schedule(schedule, b, L);
  if (k >= L) return;
  // Defaults keep every range empty and every anchor absent where a schedule is not a BFS.
  int* reach = bands.reach + b * (L + 1);
  reach[k] = 0;
  if (k == 0) reach[L] = 0;
  bands.anchor[b * L + k] = -1;
  if (s.levels == 0) return;
  const int level = level_of(s, k);
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
    bands.anchor[b * L + k] = v;
  }
}

// The rows the band kernels work on: R = 1 (forward: x) or 2 (backward: x and grad_y).
template <class T, int R>
struct BandRows {
  const T* in[R];
  detail::acc_t<T>* up[R];     // up-sums, then results
  detail::acc_t<T>* local[R];  // root→leaves results as if each band's top had no parent
  detail::acc_t<T>* through;   // decay product from a vertex up to its band's top (excluded); at a
                               // top, from it up to the band above's top
};

// What a band kernel's block works on: 32 channels of one sample (a lane for each W of them), the
// sample's schedule (S: in the workspace, or staged in shared memory whole or a band's slice),
// and K.
template <int W, class S>
struct BandBlock {
  LaneOf<W> lane;
  index_t sample;
  S s;
  int K;
};

// One band's part of its sample's schedule, staged in shared memory by the block that walks the
// band: the positions of its levels and of the level below (order and each position's parent
// vertex), the child ranges of its own positions and its level starts. Read as a whole schedule
// is (SampleScheduleOf's accessors), at the positions and levels of the band.
//
// Before, each band block copied its sample's whole schedule where it fit in 48 KB (trees up to
// 6 143 vertices) and read the workspace above that, Mask R-CNN's stages 1-2 included. H100, fp32,
// forward / backward µs a call with launches, whole -> slice, same run: 1 x 160 x 200x336 (a Mask
// R-CNN stage-1 tree) 1 157 / 1 555 -> 1 124 / 1 531 (the sweeps' kernels 489 / 622 -> 429 / 592),
// 1 x 320 x 100x168 601 / 833 -> 559 / 818, 2 x 192 x 200x336 1 691 / 2 526 -> 1 648 / 2 494;
// stage 3 (1 x 640 x 50x84, the whole schedule staged before) 275-295 / 372-406 either way.
struct BandSlice {
  const int* order;        // positions [first, level_start(end + 1))
  const int* parent;       // parent vertex of each of those positions
  const int* child_start;  // positions [first, level_start(end)]
  const int* level_start;  // levels [top, end + 1]
  int first, top, levels;

  __device__ int order_at(int k) const { return order[k - first]; }
  __device__ int parent_at(int k) const { return parent[k - first]; }
  __device__ int child_start_at(int k) const { return child_start[k - first]; }
  __device__ int level_start_at(int level) const { return level_start[level - top]; }
};

// Shared memory of a band block, for its slice: 24 KB, the positions of ~2 000 (a band at Mask
// R-CNN's stage 1 holds ~1 300); a band too wide reads the workspace. Small enough that blocks of
// 8 warps still fit 8 to a multiprocessor (H100: 228 KB, 1 KB of it reserved a block), as they
// did without it: at 32 KB only 6 fit, and 16 x 192 x 128x128 (1 056 blocks) ran in two waves.
constexpr std::size_t kBandSliceBytes = 24 * 1024;

// Calls body(block, top, end) for each band [top, end) the block owns (bands blockIdx.y,
// + gridDim.y, ...), the block's schedule the band's slice staged in shared memory where it fits
// (kBandSliceBytes), else the sample's schedule in the workspace. So does a schedule that is no
// BFS, where the band's children may lie outside the slice (child_start never decreases, so the
// children of the band's positions lie between those of its first position and its last).
template <int W, class Body>
__device__ void for_each_band_slice(ChannelShape shape, const Schedule& schedule, const Bands& bands, Body body) {
  extern __shared__ int band_slice[];
  index_t b;
  const LaneOf<W> lane = block_lane<W>(shape, b);
  const SampleSchedule whole = sample_schedule(schedule, b, shape.vertices);
  const int K = bands.levels_per_band;
  for (int top = blockIdx.y * K; top < whole.levels; top += gridDim.y * K) {
    const int end = min(top + K, whole.levels), below = min(end + 1, whole.levels);
    const int first = whole.level_start[top], bottom_end = whole.level_start[end], stop = whole.level_start[below];
    const int positions = stop - first, ranges = bottom_end - first + 1, level_starts = below - top + 1;
    const bool children_in_slice = whole.child_start[first] >= first && whole.child_start[bottom_end] <= stop;
    if (!children_in_slice || std::size_t(2 * positions + ranges + level_starts) * sizeof(int) > kBandSliceBytes) {
      body(BandBlock<W, SampleSchedule>{lane, b, whole, K}, top, end);
      continue;
    }
    int* order = band_slice;
    int* parent = order + positions;
    int* child_start = parent + positions;
    int* level_start = child_start + ranges;
    for (int j = threadIdx.x; j < positions; j += blockDim.x) {
      const int v = whole.order[first + j];
      order[j] = v;
      parent[j] = whole.parent[v];
    }
    for (int j = threadIdx.x; j < ranges; j += blockDim.x) child_start[j] = whole.child_start[first + j];
    for (int j = threadIdx.x; j < level_starts; j += blockDim.x) level_start[j] = whole.level_start[top + j];
    __syncthreads();
    body(BandBlock<W, BandSlice>{lane, b, {order, parent, child_start, level_start, first, top, whole.levels}, K},
         top, end);
    __syncthreads();  // before the next band's slice takes its place
  }
}

// Calls visit(k, level) for the lane's positions of each level in [top + skip, end), deepest
// level first or top first; a barrier after each level.
template <class Block, class Visit>
__device__ void for_each_band_level(const Block& block, int top, int end, bool deepest_first, int skip, Visit visit) {
  const auto& s = block.s;
  for (int i = skip; i < end - top; ++i) {
    const int level = deepest_first ? end - 1 - (i - skip) : top + i;
    for_each_position(block.lane, s.level_start_at(level), s.level_start_at(level + 1),
                      [&](int k) { visit(k, level); });
    __syncthreads();
  }
}

// Steps 1 and 3: the leaves→root sweep of every band (local: without the band below, and the
// band's top included; final: with the final tops below, the band's top left as it is), then
// the root→leaves sweep (local: `through`; final: `local`). The last band needs no second sweep.
template <class T, int R, bool kFinal, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32) band_sweep_kernel(ChannelShape shape, const T* decay,
                                                                     Schedule schedule, Bands bands,
                                                                     BandRows<T, R> rows) {
  using A = detail::acc_t<T>;
  using V = Vec<A, W>;
  for_each_band_slice<W>(shape, schedule, bands, [&](const auto& block, int top, int end) {
    const LaneOf<W>& lane = block.lane;
    const auto& s = block.s;
    for_each_band_level(block, top, end, true, kFinal ? 1 : 0, [&](int k, int level) {
      if (!lane.active) return;
      const bool below = kFinal || level + 1 < end;
      const int v = s.order_at(k);
      V sum[R];
#pragma unroll
      for (int r = 0; r < R; ++r) sum[r] = load_vec<A, W>(rows.in[r] + lane.at(v));
      for (int c = below ? s.child_start_at(k) : 0; c < (below ? s.child_start_at(k + 1) : 0); ++c) {
        const index_t u = lane.at(s.order_at(c));
        const V w = load_vec<A, W>(decay + u);
#pragma unroll
        for (int r = 0; r < R; ++r) sum[r] = mul_add(w, load_vec<A, W>(rows.up[r] + u), sum[r]);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) store_vec(rows.up[r] + lane.at(v), sum[r]);
    });
    if (end == s.levels) return;
    for_each_band_level(block, top, end, false, 0, [&](int k, int level) {
      if (!lane.active) return;
      const int v = s.order_at(k), p = s.parent_at(k);
      const index_t i = lane.at(v);
      const bool has_parent = k > 0 && p >= 0, parent_in_band = has_parent && level > top;
      const V w = has_parent ? load_vec<A, W>(decay + i) : V::fill(0);
      if constexpr (!kFinal) {
        V through = V::fill(1);
        if (parent_in_band) {
          through = level > top + 1 ? w * load_vec<A, W>(rows.through + lane.at(p)) : w;
          store_vec(rows.through + i, through);
        }
        // A top's own slot holds how much of it reaches the band above's top (its chain coefficient).
        if (level == end - 1)
          for (int c = s.child_start_at(k); c < s.child_start_at(k + 1); ++c) {
            const index_t child = lane.at(s.order_at(c));
            store_vec(rows.through + child, load_vec<A, W>(decay + child) * through);
          }
      } else {
#pragma unroll
        for (int r = 0; r < R; ++r) {
          V value = load_vec<A, W>(rows.up[r] + i) * (V::fill(1) - w * w);
          if (parent_in_band) value = mul_add(w, load_vec<A, W>(rows.local[r] + lane.at(p)), value);
          store_vec(rows.local[r] + i, value);
        }
      }
    });
  });
}

template <class S>
__device__ int band_count(const S& s, int K) {
  return (s.levels + K - 1) / K;
}

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

// Step 5: calls finish(index, has parent, decay, up values, parent's results) root first in
// every band; a band top reads its parent's result from `local` (final at the band above's
// bottom), other vertices from `up`, where finish has put their parent's result.
template <class T, int R, int W, class Finish>
__device__ void finish_bands(ChannelShape shape, const T* decay, const Schedule& schedule, const Bands& bands,
                             const BandRows<T, R>& rows, Finish finish) {
  using V = Vec<detail::acc_t<T>, W>;
  for_each_band_slice<W>(shape, schedule, bands, [&](const auto& block, int top, int end) {
    const LaneOf<W>& lane = block.lane;
    const auto& s = block.s;
    for_each_band_level(block, top, end, false, 0, [&](int k, int level) {
      if (!lane.active) return;
      const int v = s.order_at(k), p = s.parent_at(k);
      const index_t i = lane.at(v);
      V up[R], parent_result[R];
#pragma unroll
      for (int r = 0; r < R; ++r) up[r] = load_vec<detail::acc_t<T>, W>(rows.up[r] + i);
      if (k == 0 || p < 0) {
        finish(i, false, V::fill(0), up, parent_result);
        return;
      }
#pragma unroll
      for (int r = 0; r < R; ++r)
        parent_result[r] = load_vec<detail::acc_t<T>, W>((level == top ? rows.local[r] : rows.up[r]) + lane.at(p));
      finish(i, true, load_vec<detail::acc_t<T>, W>(decay + i), up, parent_result);
    });
  });
}

template <class T, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32) band_forward_finish_kernel(ChannelShape shape, const T* decay,
                                                                              Schedule schedule, Bands bands,
                                                                              BandRows<T, 1> rows, T* y) {
  using V = Vec<detail::acc_t<T>, W>;
  finish_bands<T, 1, W>(
      shape, decay, schedule, bands, rows,
      [&](index_t i, bool has_parent, const V& w, const V (&up)[1], const V (&yp)[1]) {
        store_result(y, rows.up[0], i, has_parent ? mul_add(w, yp[0], up[0] * (V::fill(1) - w * w)) : up[0]);
      });
}

template <class T, int W>
__global__ void __launch_bounds__(kMaxBandWarps * 32) band_backward_finish_kernel(ChannelShape shape, const T* decay,
                                                                               Schedule schedule, Bands bands,
                                                                               BandRows<T, 2> rows, T* grad_x,
                                                                               T* grad_decay) {
  using V = Vec<detail::acc_t<T>, W>;
  finish_bands<T, 2, W>(
      shape, decay, schedule, bands, rows,
      [&](index_t i, bool has_parent, const V& w, const V (&up)[2], const V (&parent)[2]) {
        const V ux = up[0], ug = up[1];
        if (!has_parent) {
          store_vec(grad_decay + i, V::fill(0));  // the root owns no edge
          store_result(grad_x, rows.up[1], i, ug);
          return;
        }
        const V yp = parent[0], gp = parent[1], keep = V::fill(1) - w * w;
        store_vec(grad_decay + i, mul_add(ug, yp - w * ux, ux * (gp - w * ug)));
        store_vec(rows.up[0] + i, mul_add(w, yp, ux * keep));
        store_result(grad_x, rows.up[1], i, mul_add(w, gp, ug * keep));
      });
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

// Channels a lane takes in the sweeps and the finish, given what the rows allow (lane_width,
// allows_width): pairs, but in the backward (R = 2) only with up to 8 warps a block. H100, fp32,
// forward / backward ms, a lane per channel -> per pair, same runs: 2 x 320 x 100x168 1.04-1.07 /
// 1.35-1.36 -> 0.91 / 1.18, 16 x 160 x 128x128 1.98 / 2.75 -> 1.83 / 2.63, 8 x 160 x 56x56
// 0.36 / 0.49 -> 0.33 / 0.45 (8 warps); 1 x 192 x 200x336 1.27 / 1.63 -> 1.26 / 1.73,
// 2 x 192 x 200x336 1.74 / 2.32 -> 1.64 / 2.37 (32 and 16 warps: the backward loses). The chains,
// a few blocks bound by their dependent steps, keep a lane per channel.
//
// Four channels a lane where blocks have up to 16 warps: there many band blocks share each
// multiprocessor, and a sweep is bound by the instructions its warps issue (Nsight Compute at
// 1 x 640 x 50x84: 0.78 instructions a cycle, ~100 a warp for each level step; values staged in
// shared memory instead of global memory changed nothing), which a warp then pays once for four
// positions. H100, µs a call, pairs -> quads, two rounds each, same process: 1 x 640 x 50x84 (Mask
// R-CNN stage 3) 246-264 / 347-370 -> 212-217 / 297-303, 1 x 320 x 100x168 521-561 / 793-846 ->
// 475-483 / 780-789, 1 x 640 x 32x32 114-122 / 140-151 -> 102-108 / 130-133, 8 x 160 x 56x56
// 287-306 / 427-453 -> 266-274 / 419-428; 1 x 1280 x 25x42 lost (125-136 / 182-192 -> 136-139 /
// 190-195: ~720 band blocks, more than the GPU holds at quads' 46 registers). With 32 warps a
// block quads cost residency: 1 x 160 x 200x336 forward 943-984 -> 1 034-1 039.
template <int R>
int band_sweep_width(const BandPlan& plan, int width, bool quads) {
  if (R == 2 && plan.warps > 8) return 1;
  return width == 2 && quads && plan.warps <= 16 ? 4 : width;
}

// Launches a sweep or finish kernel, kernel_of(width), on the plan's band grid, with room for a
// band's slice of the schedule.
template <class KernelOf, class... Args>
void launch_band_sweep(const BandPlan& plan, int width, KernelOf kernel_of, const char* name, cudaStream_t stream,
                       Args... args) {
  const auto kernel = band_kernel_of_width(width, kernel_of);
  kernel<<<plan.sweep, plan.warps * 32, kBandSliceBytes, stream>>>(args...);
  detail::check_launch(name);
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
  const std::size_t bytes = std::min(max_bytes, detail::max_dynamic_shared(kernel));
  detail::allow_dynamic_shared(kernel, bytes);
  kernel<<<plan.chain_blocks, kChainWarps * 32, bytes, stream>>>(args..., static_cast<int>(bytes / sizeof(int)));
  detail::check_launch(name);
}

// Runs steps 1-4 (bands already laid out in the workspace, rows' in/up set), the sweeps with
// `width` channels a lane (band_sweep_width); the caller launches step 5 (launch_band_sweep).
template <class T, int R>
void run_band_sweeps(ChannelShape shape, const T* decay, const Schedule& schedule, const BandPlan& plan,
                     const Bands& bands, const BandRows<T, R>& rows, int width, cudaStream_t stream) {
  bands_kernel<<<dim3(detail::blocks_for(shape.vertices, kBandSetupThreads), static_cast<unsigned>(shape.batch)),
                 kBandSetupThreads, 0, stream>>>(shape, schedule, bands);
  detail::check_launch("bands_kernel");
  const auto sweep = [&](auto final) {
    const auto kernel_of = [](auto w) { return band_sweep_kernel<T, R, decltype(final)::value, decltype(w)::value>; };
    launch_band_sweep(plan, width, kernel_of, "band_sweep_kernel", stream, shape, decay, schedule, bands, rows);
  };
  sweep(std::false_type{});
  launch_band_chain(plan, band_up_chain_kernel<T, R>, kUpChainBytes, "band_up_chain_kernel", stream, shape, schedule,
                    bands, rows);
  sweep(std::true_type{});
  launch_band_chain(plan, band_down_chain_kernel<T, R>, kChainListBytes, "band_down_chain_kernel", stream, shape,
                    decay, schedule, bands, rows);
}

}  // namespace
}  // namespace groot::cuda
