// Breadth-first schedules on the device, two ways (walks_levels() picks one). Many small trees:
// one block per tree builds its neighbour lists in shared memory, then one warp of it walks the
// tree level by level. Few or large trees (dense prediction): an Euler tour (tour_bfs.cuh), whose
// passes use the whole GPU and do not wait on one another level after level.
//
// Neighbour lists are put in tree-edge order (as on the CPU), so a level's children are written
// in exactly the CPU's queue order: frontier vertices in order, each one's children in
// neighbour order, placed by a prefix sum of the child counts. The walk is a chain of short
// dependent steps (one per level), so a single warp does it, synchronised by warp primitives
// alone.
#include <cub/warp/warp_scan.cuh>

#include "block_scan.cuh"
#include "common.cuh"
#include "tour_bfs.cuh"

namespace groot::cuda {
namespace {

constexpr int kThreads = 256;  // build the neighbour lists; one warp of them walks
constexpr int kWarp = 32;
constexpr int kFrontier = 512;         // a level's positions whose (vertex, parent) stay in shared memory
constexpr int kInlineNeighbours = 4;   // neighbours read at once (a grid vertex has at most 4)

// Per tree: row_start (L + 1), cursor (L), neighbours (2(L-1): first the indices into the flat
// edge array, then the neighbour ids), and the order and parent being built (L each).
__host__ __device__ std::size_t tree_ints(index_t L) { return std::size_t(6 * L); }

std::size_t shared_bytes_for(index_t L) { return tree_ints(L) * sizeof(int); }

constexpr int kUnvisited = -2;

// A tree's arrays in shared memory.
struct TreeArrays {
  int* row_start;  // neighbours of v at [row_start[v], row_start[v + 1])
  int* cursor;
  int* slots;      // becomes the neighbour lists
  int* order;
  int* parent;
};

__device__ TreeArrays tree_arrays(int* ints, int L) {
  TreeArrays a;
  a.row_start = ints;
  a.cursor = a.row_start + L + 1;
  a.slots = a.cursor + L;
  a.order = a.slots + 2 * (L - 1);
  a.parent = a.order + L;
  return a;
}

// The neighbour lists of `tree` (count, prefix-sum, fill, then sort each list by edge position),
// and order and parent set to unvisited; by the whole block.
__device__ void prepare_tree(int L, const index_t* tree, const TreeArrays& a) {
  const int slots_n = 2 * (L - 1);
  auto valid = [&](index_t v) { return v >= 0 && v < L; };
  auto usable = [&](int i) { return valid(tree[i]) && valid(tree[i ^ 1]); };
  for (int v = threadIdx.x; v < L; v += kThreads) a.cursor[v] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < slots_n; i += kThreads)
    if (usable(i)) atomicAdd(&a.cursor[tree[i]], 1);
  __syncthreads();
  const int total = detail::exclusive_scan<kThreads>(a.cursor, a.row_start, L);
  if (threadIdx.x == 0) a.row_start[L] = total;
  __syncthreads();
  for (int v = threadIdx.x; v < L; v += kThreads) a.cursor[v] = a.row_start[v];
  __syncthreads();
  for (int i = threadIdx.x; i < slots_n; i += kThreads)
    if (usable(i)) a.slots[atomicAdd(&a.cursor[tree[i]], 1)] = i;
  __syncthreads();
  for (int v = threadIdx.x; v < L; v += kThreads) {  // lists are short: insertion sort
    for (int i = a.row_start[v] + 1; i < a.row_start[v + 1]; ++i) {
      const int slot = a.slots[i];
      int j = i - 1;
      for (; j >= a.row_start[v] && a.slots[j] > slot; --j) a.slots[j + 1] = a.slots[j];
      a.slots[j + 1] = slot;
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < total; i += kThreads) a.slots[i] = static_cast<int>(tree[a.slots[i] ^ 1]);
  for (int v = threadIdx.x; v < L; v += kThreads) {
    a.parent[v] = kUnvisited;
    a.order[v] = -1;
  }
  __syncthreads();
}

// The level walk by one warp: order[0, L) and parent[] in BFS order from `root`.
__device__ void walk_levels(int L, int root, const TreeArrays& a, int2 (*frontier)[kFrontier]) {
  using Scan = cub::WarpScan<int>;
  __shared__ typename Scan::TempStorage scan_temp;
  const int lane = threadIdx.x;
  if (lane == 0) {
    a.order[0] = root;
    a.parent[root] = -1;
    frontier[0][0] = make_int2(root, -1);
  }
  __syncwarp();
  // In a tree, a frontier vertex's children are its neighbours other than its parent. A level's
  // (vertex, parent) pairs are also kept as pairs for the next level (up to kFrontier of them:
  // one read instead of two dependent ones), and a vertex's first kInlineNeighbours neighbours
  // are read at once. Level bounds live in registers, the same in every lane.
  int head = 0, tail = 1, parity = 0;
  while (head < tail) {
    const int level_begin = head, level_end = tail;
    int written = 0;
    for (int base = level_begin; base < level_end; base += kWarp) {
      const int k = base + lane;
      int u = -1, up = -1, first = 0, last = 0, children = 0;
      int near[kInlineNeighbours];
      if (k < level_end) {
        if (k - level_begin < kFrontier) {
          const int2 held = frontier[parity][k - level_begin];
          u = held.x;
          up = held.y;
        } else {
          u = a.order[k];
          up = a.parent[u];
        }
        first = a.row_start[u];
        last = a.row_start[u + 1];
#pragma unroll
        for (int j = 0; j < kInlineNeighbours; ++j) {
          near[j] = first + j < last ? a.slots[first + j] : up;
          children += near[j] != up;
        }
        for (int i = first + kInlineNeighbours; i < last; ++i) children += a.slots[i] != up;
      }
      int offset, chunk_total;
      Scan(scan_temp).ExclusiveSum(children, offset, chunk_total);
      int position = level_end + written + offset;
      if (k < level_end) {
        auto place = [&](int v) {
          if (v == up || position >= L) return;
          a.order[position] = v;
          a.parent[v] = u;
          if (position - level_end < kFrontier) frontier[parity ^ 1][position - level_end] = make_int2(v, u);
          ++position;
        };
#pragma unroll
        for (int j = 0; j < kInlineNeighbours; ++j) place(near[j]);
        for (int i = first + kInlineNeighbours; i < last; ++i) place(a.slots[i]);
      }
      written += chunk_total;
      __syncwarp();
    }
    head = level_end;
    tail = min(L, level_end + written);
    parity ^= 1;
  }
}

__global__ void __launch_bounds__(kThreads) bfs_kernel(TreeShape shape, const index_t* trees, index_t root,
                                                       index_t* orders, index_t* parents) {
  extern __shared__ int shared_ints[];
  __shared__ int2 frontier[2][kFrontier];  // (vertex, parent) at the level's first positions
  const int b = blockIdx.x, L = static_cast<int>(shape.vertices);
  const TreeArrays a = tree_arrays(shared_ints, L);
  prepare_tree(L, trees + index_t(b) * 2 * (L - 1), a);
  if (threadIdx.x < kWarp) walk_levels(L, static_cast<int>(root), a, frontier);
  __syncthreads();
  index_t* order_out = orders + index_t(b) * L;
  index_t* parent_out = parents + index_t(b) * L;
  for (int v = threadIdx.x; v < L; v += kThreads) {
    order_out[v] = a.order[v];
    parent_out[v] = a.parent[v] == kUnvisited ? -1 : a.parent[v];  // unreachable: only for inputs that are no tree
  }
}

// Whether a tree's arrays fit in shared memory beside the kernel's own.
bool fits_in_shared(index_t L) { return detail::fits_in_shared(bfs_kernel, shared_bytes_for(L)); }

// A walk takes as many dependent steps as its tree is deep, on as many warps as there are trees;
// the tour costs ~40 launches (~0.15-0.2 ms) and then little per vertex. Measured on an H100 (ms,
// walk / tour): 1 × 32×32 0.085 / 0.16, 1 × 50×84 0.18 / 0.23, 1 × 64×64 0.17 / 0.23,
// 1 × 90×90 0.30 / 0.24, 16 × 64×64 0.24 / 0.32, 128 × 56×56 0.22 / 0.36.
bool walks_levels(TreeShape shape) {
  constexpr index_t kLargeTree = 6144, kManyVertices = index_t(1) << 18;
  return fits_in_shared(shape.vertices) &&
         (shape.vertices < kLargeTree || shape.batch * shape.vertices > kManyVertices);
}

}  // namespace

std::size_t bfs_workspace_bytes(TreeShape shape) {
  return shape.batch == 0 || walks_levels(shape) ? 0 : tour::workspace_bytes(shape);
}

void bfs(TreeShape shape, const index_t* tree, index_t root, index_t* order, index_t* parent,
         void* workspace, cudaStream_t stream) {
  if (shape.batch == 0) return;
  const auto blocks = static_cast<unsigned>(shape.batch);
  if (walks_levels(shape)) {
    const std::size_t bytes = shared_bytes_for(shape.vertices);
    detail::check(cudaFuncSetAttribute(bfs_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)),
                  "cudaFuncSetAttribute");
    bfs_kernel<<<blocks, kThreads, bytes, stream>>>(shape, tree, root, order, parent);
    detail::check_launch("bfs_kernel");
  } else {
    tour::bfs(shape, tree, root, order, parent, workspace, stream);
  }
}

}  // namespace groot::cuda
