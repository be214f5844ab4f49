// Breadth-first schedules on the device, one warp-sized block per tree, level by level.
//
// Neighbour lists are put in tree-edge order (as on the CPU), so a level's children are written
// in exactly the CPU's queue order: frontier vertices in order, each one's children in
// neighbour order, placed by a prefix sum of the child counts. The walk is a chain of short
// dependent steps (one per level), so the tree's arrays sit in shared memory when they fit and a
// single warp does the work, which keeps every barrier cheap.
#include <cub/block/block_scan.cuh>

#include "block_scan.cuh"
#include "common.cuh"

namespace groot::cuda {
namespace {

constexpr int kThreads = 32;

// Per tree: row_start (L + 1), cursor (L), neighbours (2(L-1): first the indices into the flat
// edge array, then the neighbour ids), and the order and parent being built (L each).
__host__ __device__ std::size_t tree_ints(index_t L) { return std::size_t(6 * L); }

std::size_t shared_bytes_for(index_t L) { return tree_ints(L) * sizeof(int); }

bool fits_in_shared(index_t L) {
  int device = 0, bytes = 0;
  detail::check(cudaGetDevice(&device), "cudaGetDevice");
  detail::check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                "cudaDeviceGetAttribute");
  return shared_bytes_for(L) <= static_cast<std::size_t>(bytes);
}

template <bool kShared>
__global__ void __launch_bounds__(kThreads) bfs_kernel(TreeShape shape, const index_t* trees, index_t root,
                                                       index_t* orders, index_t* parents, int* workspace) {
  extern __shared__ int shared_ints[];
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan_temp;
  __shared__ int head, tail, written;
  const int b = blockIdx.x, L = static_cast<int>(shape.vertices), slots_n = 2 * (L - 1);
  const index_t* tree = trees + index_t(b) * slots_n;
  int* row_start = kShared ? shared_ints : workspace + index_t(b) * tree_ints(L);
  int* cursor = row_start + L + 1;
  int* slots = cursor + L;  // becomes the neighbour lists
  int* order = slots + slots_n;
  int* parent = order + L;
  constexpr int kUnvisited = -2;
  auto valid = [&](index_t v) { return v >= 0 && v < L; };
  auto usable = [&](int i) { return valid(tree[i]) && valid(tree[i ^ 1]); };

  // Neighbour lists: count, prefix-sum, fill, then sort each list by edge position.
  for (int v = threadIdx.x; v < L; v += kThreads) cursor[v] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < slots_n; i += kThreads)
    if (usable(i)) atomicAdd(&cursor[tree[i]], 1);
  __syncthreads();
  const int total = detail::exclusive_scan<kThreads>(cursor, row_start, L);
  if (threadIdx.x == 0) row_start[L] = total;
  __syncthreads();
  for (int v = threadIdx.x; v < L; v += kThreads) cursor[v] = row_start[v];
  __syncthreads();
  for (int i = threadIdx.x; i < slots_n; i += kThreads)
    if (usable(i)) slots[atomicAdd(&cursor[tree[i]], 1)] = i;
  __syncthreads();
  for (int v = threadIdx.x; v < L; v += kThreads) {  // lists are short: insertion sort
    for (int i = row_start[v] + 1; i < row_start[v + 1]; ++i) {
      const int slot = slots[i];
      int j = i - 1;
      for (; j >= row_start[v] && slots[j] > slot; --j) slots[j + 1] = slots[j];
      slots[j + 1] = slot;
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < total; i += kThreads) slots[i] = static_cast<int>(tree[slots[i] ^ 1]);
  for (int v = threadIdx.x; v < L; v += kThreads) {
    parent[v] = kUnvisited;
    order[v] = -1;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    order[0] = static_cast<int>(root);
    parent[root] = -1;
    head = 0;
    tail = 1;
  }
  __syncthreads();

  // In a tree, a frontier vertex's children are its neighbours other than its parent.
  while (head < tail) {
    const int level_begin = head, level_end = tail;
    if (threadIdx.x == 0) written = 0;
    __syncthreads();
    for (int base = level_begin; base < level_end; base += kThreads) {
      const int k = base + threadIdx.x;
      int u = -1;
      int children = 0;
      if (k < level_end) {
        u = order[k];
        for (int i = row_start[u]; i < row_start[u + 1]; ++i) children += slots[i] != parent[u];
      }
      int offset, chunk_total;
      Scan(scan_temp).ExclusiveSum(children, offset, chunk_total);
      int position = level_end + written + offset;
      if (k < level_end) {
        for (int i = row_start[u]; i < row_start[u + 1] && position < L; ++i) {
          const int v = slots[i];
          if (v == parent[u]) continue;
          order[position++] = v;
          parent[v] = u;
        }
      }
      __syncthreads();
      if (threadIdx.x == 0) written += chunk_total;
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      head = level_end;
      tail = min(L, level_end + written);
    }
    __syncthreads();
  }
  index_t* order_out = orders + index_t(b) * L;
  index_t* parent_out = parents + index_t(b) * L;
  for (int v = threadIdx.x; v < L; v += kThreads) {
    order_out[v] = order[v];
    parent_out[v] = parent[v] == kUnvisited ? -1 : parent[v];  // unreachable: only for inputs that are no tree
  }
}

}  // namespace

std::size_t bfs_workspace_bytes(TreeShape shape) {
  return fits_in_shared(shape.vertices) ? 0 : std::size_t(shape.batch) * shared_bytes_for(shape.vertices);
}

void bfs(TreeShape shape, const index_t* tree, index_t root, index_t* order, index_t* parent,
         void* workspace, cudaStream_t stream) {
  if (shape.batch == 0) return;
  const auto blocks = static_cast<unsigned>(shape.batch);
  if (fits_in_shared(shape.vertices)) {
    const std::size_t bytes = shared_bytes_for(shape.vertices);
    detail::check(cudaFuncSetAttribute(bfs_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)),
                  "cudaFuncSetAttribute");
    bfs_kernel<true><<<blocks, kThreads, bytes, stream>>>(shape, tree, root, order, parent, nullptr);
  } else {
    bfs_kernel<false><<<blocks, kThreads, 0, stream>>>(shape, tree, root, order, parent, static_cast<int*>(workspace));
  }
  detail::check_launch("bfs_kernel");
}

}  // namespace groot::cuda
