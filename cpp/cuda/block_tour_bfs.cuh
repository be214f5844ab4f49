// Breadth-first schedules of trees that fit in one block's shared memory: the Euler-tour method of
// tour_bfs.cuh (read its header for why it gives the CPU's order), run by one block per tree with
// every array in shared memory as 16-bit ints. Its steps do not depend on the tree's depth: the
// tour is ranked by walks of ~2L / kThreads places between rulers and log₂ kThreads rounds of
// pointer jumping over the rulers, the rest is prefix sums and one stable radix sort. A
// level walk, by contrast, is a chain of dependent steps as long as the tree is deep, on one warp
// that cannot hide their latency.
//
// Inputs that are no tree give some schedule but never a hang or an access out of bounds: rounds
// are bounded, and every index read from shared memory is checked or in range by construction.
#pragma once

#include <cub/block/block_radix_sort.cuh>

#include <algorithm>
#include <cstdint>

#include "block_scan.cuh"
#include "common.cuh"

namespace groot::cuda::block_tour {

constexpr int kThreads = 1024;
constexpr int kPlaceItems = 10;  // list places a thread holds in a pass that keeps them in registers
constexpr int kSortItems = 5;   // vertices a thread holds in the sort of a large tree
constexpr int kMaxVertices = kSortItems * kThreads;
static_assert(2 * (kMaxVertices - 1) <= kPlaceItems * kThreads, "a tree's slots must fit the passes that hold them in registers");

using u16 = std::uint16_t;
constexpr u16 kNone = 0xFFFF;
// The sort of the vertices by depth: one per thread up to kThreads vertices, else kSortItems.
template <int kItems>
using SortOf = cub::BlockRadixSort<u16, kThreads, kItems, u16>;
constexpr std::size_t kSortBytes =
    std::max(sizeof(typename SortOf<1>::TempStorage), sizeof(typename SortOf<kSortItems>::TempStorage));

// Byte offsets of a tree's arrays in dynamic shared memory (S = 2(L - 1) slots). Arrays whose
// lives do not overlap share space: the fill cursors and later the sort's input live in `sums`,
// the sort's temporary storage in the slot arrays of the tour.
struct Layout {
  std::size_t row_start, sums, end, parent, down_at, size, depth, list, position, link, total;
};

__host__ __device__ inline std::size_t aligned(std::size_t bytes) { return (bytes + 15) / 16 * 16; }

__host__ __device__ inline Layout layout(int L) {
  const std::size_t S = 2 * std::size_t(L - 1), slots = aligned(S * sizeof(u16)),
                    vertices = aligned(std::size_t(L) * sizeof(u16));
  Layout o{};
  std::size_t at = 0;
  auto take = [&](std::size_t& offset, std::size_t bytes) {
    offset = at;
    at += aligned(bytes);
  };
  take(o.row_start, (L + 1) * sizeof(int));
  take(o.sums, S * sizeof(int) > 2 * vertices ? S * sizeof(int) : 2 * vertices);
  take(o.end, slots);
  take(o.parent, vertices);
  take(o.down_at, vertices);
  take(o.size, vertices);
  take(o.depth, vertices);
  const std::size_t tour_start = at;
  take(o.list, slots);
  take(o.position, slots);
  take(o.link, S * sizeof(std::uint32_t));
  const std::size_t sort_end = tour_start + aligned(kSortBytes);
  o.total = at > sort_end ? at : sort_end;
  return o;
}

// The arrays of one tree, typed.
struct Arrays {
  int* row_start;  // (L + 1) vertex u's list places are [row_start[u], row_start[u + 1])
  int* sums;       // (S) list fill cursors per vertex, then prefix sums along the tour
  u16* end;        // (S) slot g's first vertex (tree[g]), kNone when g or its reverse is out of range
  u16* parent;     // (L)
  u16* down_at;    // (L) tour position of the slot that enters the vertex
  u16* size;       // (L) tour position that leaves it, then subtree size, sibling offset, preorder
  u16* depth;      // (L)
  u16* list;       // (S) list place → slot
  u16* position;   // (S) slot → list place
  std::uint32_t* link;  // (S) list place → its tour successor (high half) and distance to the tour's end
  u16* place_at;   // (S) in `link` once ranked: tour position → list place
  u16* sort_keys;  // (L) in `sums`, by preorder: depth
  u16* sort_values;  //   and vertex
  void* sort_temp;   // over list, position and link
};

__device__ inline Arrays arrays(unsigned char* base, int L) {
  const Layout o = layout(L);
  Arrays a;
  a.row_start = reinterpret_cast<int*>(base + o.row_start);
  a.sums = reinterpret_cast<int*>(base + o.sums);
  a.end = reinterpret_cast<u16*>(base + o.end);
  a.parent = reinterpret_cast<u16*>(base + o.parent);
  a.down_at = reinterpret_cast<u16*>(base + o.down_at);
  a.size = reinterpret_cast<u16*>(base + o.size);
  a.depth = reinterpret_cast<u16*>(base + o.depth);
  a.list = reinterpret_cast<u16*>(base + o.list);
  a.position = reinterpret_cast<u16*>(base + o.position);
  a.link = reinterpret_cast<std::uint32_t*>(base + o.link);
  a.place_at = reinterpret_cast<u16*>(base + o.link);
  a.sort_keys = reinterpret_cast<u16*>(base + o.sums);
  a.sort_values = a.sort_keys + L;
  a.sort_temp = base + o.list;
  return a;
}

// The largest of the block's values, to every thread. Called by the whole block.
__device__ inline int max_over_block(int value) {
  __shared__ int warp_max[kThreads / 32];
  __shared__ int block_max;
  value = __reduce_max_sync(0xFFFFFFFFu, value);
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = value;
  __syncthreads();
  if (threadIdx.x < 32) {
    value = __reduce_max_sync(0xFFFFFFFFu, warp_max[threadIdx.x]);
    if (threadIdx.x == 0) block_max = value;
  }
  __syncthreads();
  return block_max;
}

template <class Fn>
__device__ inline void for_each(int count, Fn&& fn) {
  for (int i = threadIdx.x; i < count; i += kThreads) fn(i);
}

// Neighbour lists in tree-edge order: list places per vertex by a prefix sum of slot counts,
// filled by atomics, then each list sorted by slot (insertion sort: grid lists hold at most 4).
// Returns the number of list places (S for a tree).
__device__ inline int build_lists(int L, int S, const index_t* tree, const Arrays& a) {
  int* count = a.row_start;
  int* cursor = a.sums;
  for_each(L + 1, [&](int v) { count[v] = 0; });
  for_each(L, [&](int v) { a.parent[v] = a.down_at[v] = a.size[v] = kNone; });
  for_each(S, [&](int g) {
    const index_t u = tree[g], v = tree[g ^ 1];
    a.end[g] = u >= 0 && u < L && v >= 0 && v < L ? static_cast<u16>(u) : kNone;
  });
  __syncthreads();
  for_each(S, [&](int g) {
    if (a.end[g] != kNone) atomicAdd(&count[a.end[g]], 1);
  });
  __syncthreads();
  const int places = detail::exclusive_scan_in_runs<kThreads>(count, L + 1);
  for_each(L, [&](int v) { cursor[v] = a.row_start[v]; });
  __syncthreads();
  for_each(S, [&](int g) {
    if (a.end[g] != kNone) a.list[atomicAdd(&cursor[a.end[g]], 1)] = static_cast<u16>(g);
  });
  __syncthreads();
  for_each(L, [&](int v) {
    for (int i = a.row_start[v] + 1; i < a.row_start[v + 1]; ++i) {
      const u16 slot = a.list[i];
      int j = i - 1;
      for (; j >= a.row_start[v] && a.list[j] > slot; --j) a.list[j + 1] = a.list[j];
      a.list[j + 1] = slot;
    }
  });
  __syncthreads();
  for_each(places, [&](int c) { a.position[a.list[c]] = static_cast<u16>(c); });
  __syncthreads();
  return places;
}

// How many list places a thread holds when each holds places threadIdx.x + i kThreads.
__device__ inline int places_of_thread(int places) {
  return places > int(threadIdx.x) ? (places - 1 - int(threadIdx.x)) / kThreads + 1 : 0;
}

// The vertex at the far end of the slot at list place c.
__device__ inline int target_of(const Arrays& a, int c) { return a.end[a.list[c] ^ 1]; }

// Tour successors: (u → v) is followed by the place after (v → u) in v's list, cyclically, and
// the tour ends where it would come back to the root's first place. Then each place's distance
// to the tour's end, by a ruling set: every `spacing`-th list place is a ruler, and so is the
// tour's first place, at most one a thread. Each ruler's thread walks the tour to the next ruler
// and tags the places it passes with its ruler and their offset; pointer jumping then ranks the
// rulers alone, and a place's distance is its ruler's less its offset. Pointer jumping over every
// place, as before, took log₂ 2L rounds of ~10 places a thread, each round two barriers and a
// dependent read a place (H100, the whole kernel on a 50x84 grid's tree: 47.9 -> 38.9 µs; 25x42:
// 23.3 -> 22.2). Walks never overlap, as a place has one predecessor even in an input
// that is no tree; a cycle no ruler is on is never walked, and no walk is longer than the list.
// After it, `link` holds (kNone, distance) at every place, `places` off the tour.
__device__ inline void rank_tour(int places, int root, const Arrays& a) {
  constexpr std::uint32_t kEnd = std::uint32_t(kNone) << 16, kUntagged = 0xFFFFFFFFu;
  __shared__ std::uint32_t ruler_link[kThreads];  // (next ruler, distance to it) or (kNone, to the end)
  const int spacing = max(1, (places + kThreads - 2) / (kThreads - 1));
  const int spaced = (places + spacing - 1) / spacing;
  const int head = a.row_start[root];
  const int rulers = spaced + (head < places && head % spacing != 0 ? 1 : 0);
  // While the rulers walk: the tag of each place they pass, (ruler, offset), in `sums`; and in
  // each place's link, the ruler it is + 1 (0: none) beside its successor.
  auto* tag = reinterpret_cast<std::uint32_t*>(a.sums);
  for_each(places, [&](int c) {
    const int v = target_of(a, c);
    int after = a.position[a.list[c] ^ 1] + 1;
    if (after == a.row_start[v + 1]) after = a.row_start[v];
    const int ruler = c % spacing == 0 ? c / spacing : c == head ? spaced : -1;
    a.link[c] = (after == head ? kEnd : std::uint32_t(after) << 16) | std::uint32_t(ruler + 1);
    tag[c] = kUntagged;
  });
  __syncthreads();
  if (int(threadIdx.x) < rulers) {
    const int ruler = threadIdx.x;
    std::uint32_t next = a.link[ruler < spaced ? ruler * spacing : head] >> 16, reached = kEnd;
    for (int steps = 1;; ++steps) {
      if (next == kNone) {
        reached = kEnd | std::uint32_t(steps - 1);
        break;
      }
      const std::uint32_t link = a.link[next];
      if (link & 0xFFFFu) {
        reached = ((link & 0xFFFFu) - 1) << 16 | std::uint32_t(steps);
        break;
      }
      if (steps >= places) break;
      tag[next] = std::uint32_t(ruler) << 16 | std::uint32_t(steps);
      next = link >> 16;
    }
    ruler_link[ruler] = reached;
  }
  __syncthreads();
  // Pointer jumping, each round reading every ruler's pair before any is written, until no ruler
  // has a successor left (or, for an input that is no tree, after enough rounds for any path).
  int rounds = 1;
  while ((1 << rounds) < rulers) ++rounds;
  const bool mine = int(threadIdx.x) < rulers;
  for (int round = 0; round <= rounds; ++round) {
    std::uint32_t link = mine ? ruler_link[threadIdx.x] : kEnd;
    bool more = false;
    if (const std::uint32_t after = link >> 16; after != kNone) {
      const std::uint32_t hop = ruler_link[after];
      link = (hop & 0xFFFF0000u) | min((link & 0xFFFFu) + (hop & 0xFFFFu), std::uint32_t(places));
      more = (hop >> 16) != kNone;
    }
    more = __syncthreads_or(more);
    if (mine) ruler_link[threadIdx.x] = link;
    __syncthreads();
    if (!more) break;
  }
  for_each(places, [&](int c) {
    const std::uint32_t ruler = a.link[c] & 0xFFFFu, t = tag[c];
    int distance = places;
    if (ruler != 0)
      distance = ruler_link[ruler - 1] & 0xFFFFu;
    else if (t != kUntagged)
      distance = int(ruler_link[t >> 16] & 0xFFFFu) - int(t & 0xFFFFu);
    a.link[c] = kEnd | std::uint32_t(min(max(distance, 0), places));
  });
  __syncthreads();
}

// Tour positions, read before `place_at` overwrites the links: a slot goes down when it comes
// before its reverse, and gives the child its parent and down_at, else the child's leaving
// position (in `size`). Places off the tour (only without a tree) are left out.
__device__ inline void orient(int places, const Arrays& a) {
  auto position_of = [&](int c) {
    const int t = places - 1 - int(a.link[c] & 0xFFFFu);
    return t >= 0 && t < places ? t : -1;
  };
  const int mine = places_of_thread(places);
  int tour[kPlaceItems], reverse[kPlaceItems];
#pragma unroll
  for (int i = 0; i < kPlaceItems && i < mine; ++i) {
    const int c = threadIdx.x + i * kThreads;
    tour[i] = position_of(c);
    reverse[i] = position_of(a.position[a.list[c] ^ 1]);
  }
  __syncthreads();
  for_each(places, [&](int t) { a.place_at[t] = kNone; });
  __syncthreads();
#pragma unroll
  for (int i = 0; i < kPlaceItems && i < mine; ++i) {
    const int c = threadIdx.x + i * kThreads, t = tour[i];
    if (t < 0 || reverse[i] < 0 || t == reverse[i]) continue;
    a.place_at[t] = static_cast<u16>(c);
    const int u = a.end[a.list[c]], v = target_of(a, c);
    if (t < reverse[i]) {
      a.parent[v] = static_cast<u16>(u);
      a.down_at[v] = static_cast<u16>(t);
    } else {
      a.size[u] = static_cast<u16>(t);
    }
  }
  __syncthreads();
}

// Exclusive prefix sums along the tour of +w where it enters a child and -w where it leaves one,
// w = weight(child), into `sums`.
template <class Weight>
__device__ inline void sum_along_tour(int places, const Arrays& a, Weight&& weight) {
  for_each(places, [&](int t) {
    const u16 c = a.place_at[t];
    int step = 0;
    if (c != kNone) {
      const int v = target_of(a, c);
      const bool down = a.down_at[v] == t;
      step = down ? weight(v) : -weight(a.end[a.list[c]]);
    }
    a.sums[t] = step;
  });
  __syncthreads();
  detail::exclusive_scan_in_runs<kThreads>(a.sums, places);
}

// Whether v was entered by the tour (every vertex but the root, for a tree).
__device__ inline bool entered(const Arrays& a, int v, int places) { return a.down_at[v] < places; }

// The vertices sorted stably by depth, in preorder (the CPU's queue order), into `order`.
template <int kItems>
__device__ inline void write_queue_order(int L, int bits, const Arrays& a, index_t* order) {
  using Sort = SortOf<kItems>;
  u16 keys[kItems], values[kItems];
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int p = threadIdx.x * kItems + i;
    keys[i] = p < L ? a.sort_keys[p] : kNone;
    values[i] = p < L ? a.sort_values[p] : kNone;
  }
  __syncthreads();  // the sort's storage overlays the tour's arrays
  Sort(*static_cast<typename Sort::TempStorage*>(a.sort_temp)).SortBlockedToStriped(keys, values, 0, bits);
#pragma unroll
  for (int i = 0; i < kItems; ++i) {
    const int k = i * kThreads + threadIdx.x;
    if (k < L) order[k] = values[i] == kNone ? index_t(-1) : index_t(values[i]);
  }
}

__global__ void __launch_bounds__(kThreads, 1) bfs_kernel(index_t vertices, const index_t* trees, index_t root_id,
                                                          index_t* orders, index_t* parents) {
  extern __shared__ __align__(16) unsigned char shared[];
  const int L = static_cast<int>(vertices), S = 2 * (L - 1), root = static_cast<int>(root_id);
  const index_t b = blockIdx.x;
  index_t* order = orders + b * L;
  index_t* parent = parents + b * L;
  if (L == 1) {
    if (threadIdx.x == 0) {
      order[0] = root;
      parent[0] = -1;
    }
    return;
  }
  const Arrays a = arrays(shared, L);
  const int places = build_lists(L, S, trees + b * S, a);
  rank_tour(places, root, a);
  orient(places, a);

  // Depth (+1 per edge down), then subtree size (half the tour between entering and leaving).
  sum_along_tour(places, a, [](int) { return 1; });
  int my_deepest = 0;  // the deepest level, for the sort's number of bits
  for_each(L, [&](int v) {
    const bool inner = v != root && entered(a, v, places);
    const int depth = inner ? min(max(a.sums[a.down_at[v]] + 1, 0), L - 1) : 0;
    a.depth[v] = static_cast<u16>(depth);
    my_deepest = max(my_deepest, depth);
    const int leaves = a.size[v];
    const bool halves = inner && leaves < places && leaves > a.down_at[v];
    a.size[v] = halves ? static_cast<u16>((leaves - a.down_at[v] + 1) / 2) : 0;
  });
  const int deepest = max_over_block(my_deepest);
  // A child's offset: the sizes of the children before it in its parent's list.
  for_each(L, [&](int u) {
    int before = 0;
    for (int c = a.row_start[u]; c < a.row_start[u + 1]; ++c) {
      const int v = target_of(a, c);
      if (v == root || a.parent[v] != u) continue;
      const int size = a.size[v];
      a.size[v] = static_cast<u16>(before);
      before += size;
    }
  });
  __syncthreads();
  // Preorder, children taken in list order: Σ along the tour of ±(1 + offset).
  sum_along_tour(places, a, [&](int v) { return 1 + a.size[v]; });
  for_each(L, [&](int v) {
    const int preorder = v == root ? 0 : entered(a, v, places) ? a.sums[a.down_at[v]] + 1 + a.size[v] : -1;
    a.size[v] = preorder >= 0 && preorder < L ? static_cast<u16>(preorder) : kNone;
  });
  __syncthreads();

  // The sort's input: depth and vertex, by preorder.
  for_each(L, [&](int p) { a.sort_keys[p] = a.sort_values[p] = kNone; });
  __syncthreads();
  for_each(L, [&](int v) {
    const u16 preorder = a.size[v];
    if (preorder == kNone) return;
    a.sort_keys[preorder] = a.depth[v];
    a.sort_values[preorder] = static_cast<u16>(v);
  });
  __syncthreads();
  int bits = 1;
  while ((1 << bits) <= deepest) ++bits;
  if (L <= kThreads)
    write_queue_order<1>(L, bits, a, order);
  else
    write_queue_order<kSortItems>(L, bits, a, order);
  for_each(L, [&](int v) { parent[v] = a.parent[v] == kNone ? index_t(-1) : index_t(a.parent[v]); });
}

inline std::size_t shared_bytes(index_t L) { return layout(static_cast<int>(L)).total; }

// Whether one block can hold a tree of L vertices.
inline bool fits(index_t L) {
  return L >= 1 && L <= kMaxVertices && detail::fits_in_shared(bfs_kernel, shared_bytes(L));
}

// The BFS schedules of shape.batch trees that fit (see fits()), one block each.
inline void bfs(TreeShape shape, const index_t* trees, index_t root, index_t* order, index_t* parent,
                cudaStream_t stream) {
  const std::size_t bytes = shared_bytes(shape.vertices);
  detail::allow_dynamic_shared(bfs_kernel, bytes);
  bfs_kernel<<<static_cast<unsigned>(shape.batch), kThreads, bytes, stream>>>(shape.vertices, trees, root, order,
                                                                               parent);
  detail::check_launch("block_tour::bfs_kernel");
}

}  // namespace groot::cuda::block_tour
