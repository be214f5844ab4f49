// Breadth-first schedules of large trees without walking them level by level: one Euler tour,
// prefix sums along it, and a stable sort. Made for dense prediction's few deep trees, where a
// level walk (~1 800 levels at 200×336) is a chain of dependent steps that leaves the GPU idle.
//
// Slot (u → v) is one direction of a tree edge; every slot is in the neighbour list of its u, in
// tree-edge order. The tour goes from slot (u → v) to the slot after (v → u) in v's list
// (cyclically), starting at the root's first slot, so it crosses every edge once down and once up.
// Ranking it by pointer jumping (log₈ 2L rounds of 8 links each) gives each slot its tour position
// t, and then:
// - a slot is down (parent → child) when it comes before its reverse;
// - depth(v) = Σ ±1 along the tour up to the down slot into v;
// - size(v) = half the tour between the down and the up slot of v, plus one;
// - the CPU's BFS visits a vertex's children in list order (the parent skipped) and a level in
//   the order of the parents, so within a level the BFS order is the preorder of a depth-first
//   walk that takes children in list order. A child's preorder is its parent's + 1 + the sizes of
//   the siblings before it: Σ along the tour of +w at down slots and -w at up slots.
// Sorting the vertices stably by depth, in preorder, gives the CPU's order exactly. Pointer
// jumping runs a fixed number of rounds and every index is checked, so an input that is no tree
// gives some schedule but never a hang or an access out of bounds.
#pragma once

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <cstdint>

#include "common.cuh"
#include "groot/error.hpp"

namespace groot::cuda {
namespace tour {

constexpr int kThreads = 256;

// Per tree: S = 2(L - 1) slots. Slot keys are b (L + 1) + u, so a tree's slots stay in its own
// range [b S, (b + 1) S) after sorting, those with an id out of range (u = L) at its end.
struct Sizes {
  index_t batch, L, S;
  __host__ __device__ index_t slots() const { return batch * S; }
  __host__ __device__ index_t vertices() const { return batch * L; }
  __host__ __device__ index_t slot_keys() const { return batch * (L + 1); }
  // The key of vertex u's list in tree b (u = L: slots with an id out of range).
  __host__ __device__ index_t list_key(index_t b, index_t u) const { return b * (L + 1) + u; }
};

// Scan keys: positions of one tree's tour are summed together.
struct SameTree {
  __host__ __device__ bool operator()(int a, int b) const { return a == b; }
};

inline int key_bits(index_t largest_key) {
  int bits = 1;
  while (bits < 63 && (index_t(1) << bits) <= largest_key) ++bits;
  return bits;
}

// The workspace, carved into arrays; the same layout for sizing (base null) and use.
struct Arrays {
  std::uint64_t *key_in, *key_out;  // slot keys, later vertex keys
  int *value_in, *value_out;        // slot ids, later vertices
  int* row_start;                   // (slot_keys + 1): list of key k at [row_start[k], row_start[k + 1])
  int* position;                    // global slot → its place in the lists
  int* next;                        // tour successor, then pointer-jumping buffers
  int* next2;
  int* rank;
  int* rank2;
  int* tour;                        // tree's tour position → list place
  int* down;                        // list place → 1 when the slot goes down, 0 up, -1 unused
  int* segment;                     // tour position → tree (scan keys)
  int* steps;                       // ±1, then ±weights along the tour
  int* sums;
  int *parent, *down_at, *up_at, *depth, *size, *offset;  // per vertex
  void* scan_temp;
  std::size_t scan_temp_bytes;
  void* sort_temp;
  std::size_t sort_temp_bytes;
  std::size_t total;
};

inline Arrays arrays(const Sizes& n, void* workspace) {
  detail::WorkspaceLayout w(workspace);
  Arrays a{};
  const auto items = static_cast<std::size_t>(std::max(n.slots(), n.vertices()));
  const auto slots = static_cast<std::size_t>(n.slots()), vertices = static_cast<std::size_t>(n.vertices());
  a.key_in = w.take<std::uint64_t>(items);
  a.key_out = w.take<std::uint64_t>(items);
  a.value_in = w.take<int>(items);
  a.value_out = w.take<int>(items);
  a.row_start = w.take<int>(static_cast<std::size_t>(n.slot_keys()) + 1);
  for (int** slot_array : {&a.position, &a.next, &a.next2, &a.rank, &a.rank2, &a.tour, &a.down,
                           &a.segment, &a.steps, &a.sums})
    *slot_array = w.take<int>(slots);
  for (int** vertex_array : {&a.parent, &a.down_at, &a.up_at, &a.depth, &a.size, &a.offset})
    *vertex_array = w.take<int>(vertices);
  detail::check(cub::DeviceScan::InclusiveSumByKey(nullptr, a.scan_temp_bytes, a.segment, a.steps,
                                                   a.sums, static_cast<int>(n.slots()), SameTree()),
                "cub::DeviceScan::InclusiveSumByKey");
  std::size_t slot_sort = 0, vertex_sort = 0;
  detail::check(cub::DeviceRadixSort::SortPairs(nullptr, slot_sort, a.key_in, a.key_out, a.value_in,
                                                a.value_out, static_cast<int>(n.slots())),
                "cub::DeviceRadixSort::SortPairs");
  detail::check(cub::DeviceRadixSort::SortPairs(nullptr, vertex_sort, a.key_in, a.key_out, a.value_in,
                                                a.value_out, static_cast<int>(n.vertices())),
                "cub::DeviceRadixSort::SortPairs");
  a.sort_temp_bytes = std::max(slot_sort, vertex_sort);
  a.scan_temp = w.take<char>(a.scan_temp_bytes);
  a.sort_temp = w.take<char>(a.sort_temp_bytes);
  a.total = w.bytes();
  return a;
}

// fn(i) for i in [0, count), grid-stride.
template <class Fn>
__device__ void for_each_index(index_t count, Fn&& fn) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < count; i += index_t(gridDim.x) * blockDim.x)
    fn(i);
}

// Slot keys b (L + 1) + u (u = L for a slot with an id out of range) and slot ids; per-vertex
// arrays cleared.
__global__ void start_kernel(Sizes n, const index_t* trees, Arrays a) {
  for_each_index(n.slots(), [&](index_t g) {
    const index_t b = g / n.S;
    const index_t u = trees[g], v = trees[g ^ 1];  // g ^ 1 stays in the tree: S and b S are even
    const bool valid = u >= 0 && u < n.L && v >= 0 && v < n.L;
    a.key_in[g] = std::uint64_t(n.list_key(b, valid ? u : n.L));
    a.value_in[g] = static_cast<int>(g % n.S);
    a.tour[g] = -1;
    a.segment[g] = static_cast<int>(b);
  });
  for_each_index(n.vertices(), [&](index_t v) { a.parent[v] = a.down_at[v] = a.up_at[v] = -1; });
}

__device__ inline bool valid_key(const Sizes& n, index_t b, std::uint64_t key) {
  return static_cast<index_t>(key) != n.list_key(b, n.L);
}

// The slot (index into the trees) at list place c.
__device__ inline index_t slot_at(const Sizes& n, const Arrays& a, index_t c) {
  return c / n.S * n.S + a.value_out[c];
}

// After the sort: where each slot landed, and where each key's list starts.
__global__ void lists_kernel(Sizes n, Arrays a) {
  const index_t total = n.slots();
  for_each_index(total, [&](index_t c) {
    a.position[slot_at(n, a, c)] = static_cast<int>(c);
    const index_t key = static_cast<index_t>(a.key_out[c]);
    const index_t previous = c == 0 ? -1 : static_cast<index_t>(a.key_out[c - 1]);
    for (index_t k = previous + 1; k <= key; ++k) a.row_start[k] = static_cast<int>(c);
    if (c == total - 1)
      for (index_t k = key + 1; k <= n.slot_keys(); ++k) a.row_start[k] = static_cast<int>(total);
  });
}

// Slot (u → v) at list place c is followed by the place after (v → u) in v's list, cyclically;
// the tour ends where it would return to the root's first slot.
__global__ void successor_kernel(Sizes n, const index_t* trees, index_t root, Arrays a) {
  for_each_index(n.slots(), [&](index_t c) {
    const index_t b = c / n.S, g = slot_at(n, a, c);
    int next = -1;
    if (valid_key(n, b, a.key_out[c])) {
      const index_t v_key = n.list_key(b, trees[g ^ 1]);
      index_t after = a.position[g ^ 1] + 1;
      if (after == a.row_start[v_key + 1]) after = a.row_start[v_key];
      if (after != a.row_start[n.list_key(b, root)]) next = static_cast<int>(after);
    }
    a.next[c] = next;
    a.rank[c] = next >= 0 ? 1 : 0;
  });
}

// One round of pointer jumping, kJumpHops links at a time: after a round each place links to the
// place kJumpHops of its old links ahead, and ranks are summed along the way; after enough rounds
// rank is the distance to the tour's end. A round is a launch, which costs more than a place's
// few dependent loads from L2: 6 rounds of 8 hops for a 200x336 tree instead of 19 of 2 (H200,
// BFS µs a call: 1 × 200x336 160 -> 145, 1 × 100x168 119 -> 103).
// Ranks stop at S: a cycle that misses the root (no tree) must not overflow them.
constexpr int kJumpHopBits = 3;
constexpr int kJumpHops = 1 << kJumpHopBits;

__global__ void jump_kernel(Sizes n, const int* next, const int* rank, int* next_out, int* rank_out) {
  for_each_index(n.slots(), [&](index_t c) {
    int at = static_cast<int>(c), distance = 0;
    for (int hop = 0; hop < kJumpHops && at >= 0; ++hop) {
      distance = min(distance + rank[at], static_cast<int>(n.S));
      at = next[at];
    }
    rank_out[c] = distance;
    next_out[c] = at;
  });
}

// Rounds until every place's link has reached the tour's end: kJumpHops^rounds > S.
inline int jump_rounds(index_t S) { return (key_bits(S) + kJumpHopBits - 1) / kJumpHopBits; }

__device__ inline bool in_range(index_t t, index_t count) { return t >= 0 && t < count; }

// Tour positions, slot directions (1 down, 0 up, -1 off the tour), parents, and the tour
// positions where each vertex is entered and left.
__global__ void orient_kernel(Sizes n, const index_t* trees, Arrays a) {
  for_each_index(n.slots(), [&](index_t c) {
    const index_t b = c / n.S, g = slot_at(n, a, c);
    const index_t t = n.S - 1 - a.rank[c], t_reverse = n.S - 1 - a.rank[a.position[g ^ 1]];
    int direction = -1;
    if (valid_key(n, b, a.key_out[c]) && in_range(t, n.S) && in_range(t_reverse, n.S) && t != t_reverse) {
      direction = t < t_reverse;
      const index_t u = trees[g], v = trees[g ^ 1];
      a.tour[b * n.S + t] = static_cast<int>(c);
      if (direction) {
        a.parent[b * n.L + v] = static_cast<int>(u);
        a.down_at[b * n.L + v] = static_cast<int>(t);
      } else {
        a.up_at[b * n.L + u] = static_cast<int>(t);
      }
    }
    a.down[c] = direction;
  });
}

// The vertex that slot place c enters (down) or leaves (up).
__device__ inline index_t child_of(const Sizes& n, const index_t* trees, const Arrays& a, index_t c) {
  const index_t g = slot_at(n, a, c);
  return a.down[c] ? trees[g ^ 1] : trees[g];
}

// Per tour position: +weight where the tour enters a child, -weight where it leaves it, 0 where
// no slot is; the weight is 1 (for depths) or 1 + the child's offset (for preorder).
template <bool kPreorder>
__global__ void steps_kernel(Sizes n, const index_t* trees, Arrays a) {
  for_each_index(n.slots(), [&](index_t p) {
    const int c = a.tour[p];
    int step = 0;
    if (c >= 0) {
      const int weight = kPreorder ? 1 + a.offset[p / n.S * n.L + child_of(n, trees, a, c)] : 1;
      step = a.down[c] ? weight : -weight;
    }
    a.steps[p] = step;
  });
}

// Depth and subtree size of every vertex (the root: 0 and L). Also clears the sort's input
// for preorder_kernel: a place no vertex takes (only without a tree) sorts last in its tree.
__global__ void depth_size_kernel(Sizes n, Arrays a) {
  for_each_index(n.vertices(), [&](index_t v) {
    const int down = a.down_at[v], up = a.up_at[v];
    const bool entered = down >= 0 && up > down;
    a.depth[v] = entered ? a.sums[v / n.L * n.S + down] : 0;
    a.size[v] = entered ? (up - down + 1) / 2 : static_cast<int>(n.L);
    a.key_in[v] = std::uint64_t(v / n.L * n.L + n.L - 1);
    a.value_in[v] = -1;
  });
}

// offset(child) = the sizes of the children before it in its parent's list. Lists are short in
// grids; a star's centre walks all its children.
__global__ void offsets_kernel(Sizes n, const index_t* trees, Arrays a) {
  for_each_index(n.vertices(), [&](index_t u) {
    const index_t b = u / n.L, key = n.list_key(b, u % n.L);
    int before = 0;
    for (int c = a.row_start[key]; c < a.row_start[key + 1]; ++c) {
      if (a.down[c] != 1) continue;
      const index_t child = b * n.L + child_of(n, trees, a, c);
      a.offset[child] = before;
      before += a.size[child];
    }
  });
}

// Each vertex placed at its preorder, keyed by (tree, depth) for the stable sort.
__global__ void preorder_kernel(Sizes n, index_t root, Arrays a) {
  for_each_index(n.vertices(), [&](index_t v) {
    const index_t b = v / n.L, local = v % n.L;
    const int down = a.down_at[v];
    const index_t preorder = local == root ? 0 : (down >= 0 ? a.sums[b * n.S + down] : -1);
    if (in_range(preorder, n.L)) {
      a.key_in[b * n.L + preorder] = std::uint64_t(b * n.L + a.depth[v]);
      a.value_in[b * n.L + preorder] = static_cast<int>(local);
    }
  });
}

__global__ void output_kernel(Sizes n, Arrays a, index_t* order, index_t* parent) {
  for_each_index(n.vertices(), [&](index_t i) {
    order[i] = a.value_out[i];
    parent[i] = a.parent[i];
  });
}

inline Sizes sizes(TreeShape shape) {
  GROOT_CHECK(shape.batch * (shape.vertices + 1) < (index_t(1) << 30), "bfs on the GPU: at most 2^30 ",
              "vertices in one call, got B * L = ", shape.batch, " * ", shape.vertices);
  return {shape.batch, shape.vertices, 2 * (shape.vertices - 1)};
}

inline std::size_t workspace_bytes(TreeShape shape) { return arrays(sizes(shape), nullptr).total; }

// The BFS schedules of shape.batch trees of L >= 2 vertices.
inline void bfs(TreeShape shape, const index_t* trees, index_t root, index_t* order, index_t* parent,
                void* workspace, cudaStream_t stream) {
  const Sizes n = sizes(shape);
  Arrays a = arrays(n, workspace);
  const unsigned slot_blocks = detail::blocks_for(n.slots(), kThreads);
  const unsigned vertex_blocks = detail::blocks_for(n.vertices(), kThreads);
  auto sort = [&](index_t items, index_t largest_key) {
    detail::check(cub::DeviceRadixSort::SortPairs(a.sort_temp, a.sort_temp_bytes, a.key_in, a.key_out,
                                                  a.value_in, a.value_out, static_cast<int>(items), 0,
                                                  key_bits(largest_key), stream),
                  "cub::DeviceRadixSort::SortPairs");
  };
  auto scan = [&] {
    detail::check(cub::DeviceScan::InclusiveSumByKey(a.scan_temp, a.scan_temp_bytes, a.segment, a.steps,
                                                     a.sums, static_cast<int>(n.slots()),
                                                     SameTree(), stream),
                  "cub::DeviceScan::InclusiveSumByKey");
  };

  start_kernel<<<slot_blocks, kThreads, 0, stream>>>(n, trees, a);
  detail::check_launch("tour::start_kernel");
  sort(n.slots(), n.slot_keys());
  lists_kernel<<<slot_blocks, kThreads, 0, stream>>>(n, a);
  detail::check_launch("tour::lists_kernel");
  successor_kernel<<<slot_blocks, kThreads, 0, stream>>>(n, trees, root, a);
  detail::check_launch("tour::successor_kernel");
  for (int round = 0; round < jump_rounds(n.S); ++round) {
    jump_kernel<<<slot_blocks, kThreads, 0, stream>>>(n, a.next, a.rank, a.next2, a.rank2);
    detail::check_launch("tour::jump_kernel");
    std::swap(a.next, a.next2);
    std::swap(a.rank, a.rank2);
  }
  orient_kernel<<<slot_blocks, kThreads, 0, stream>>>(n, trees, a);
  detail::check_launch("tour::orient_kernel");
  steps_kernel<false><<<slot_blocks, kThreads, 0, stream>>>(n, trees, a);
  detail::check_launch("tour::steps_kernel");
  scan();
  depth_size_kernel<<<vertex_blocks, kThreads, 0, stream>>>(n, a);
  detail::check_launch("tour::depth_size_kernel");
  offsets_kernel<<<vertex_blocks, kThreads, 0, stream>>>(n, trees, a);
  detail::check_launch("tour::offsets_kernel");
  steps_kernel<true><<<slot_blocks, kThreads, 0, stream>>>(n, trees, a);
  detail::check_launch("tour::steps_kernel");
  scan();
  preorder_kernel<<<vertex_blocks, kThreads, 0, stream>>>(n, root, a);
  detail::check_launch("tour::preorder_kernel");
  sort(n.vertices(), n.vertices());
  output_kernel<<<vertex_blocks, kThreads, 0, stream>>>(n, a, order, parent);
  detail::check_launch("tour::output_kernel");
}

}  // namespace tour
}  // namespace groot::cuda
