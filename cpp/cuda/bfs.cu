// Breadth-first schedules on the device, without walking trees level by level (a walk is a
// chain of dependent steps as long as the tree is deep). Both ways take an Euler tour of the tree,
// rank it by pointer jumping, and read the CPU's queue order off prefix sums along it and a stable
// sort by depth (tour_bfs.cuh explains why that is the same order):
// - a tree that fits in one block's shared memory (up to ~5 000 vertices: classification, and the
//   deeper stages of dense prediction) is done by one block, in 16-bit shared arrays
//   (block_tour_bfs.cuh);
// - larger trees take ~40 launches over global memory that use the whole GPU (tour_bfs.cuh).
#include "block_tour_bfs.cuh"
#include "common.cuh"
#include "tour_bfs.cuh"

namespace groot::cuda {

std::size_t bfs_workspace_bytes(TreeShape shape) {
  return shape.batch == 0 || block_tour::fits(shape.vertices) ? 0 : tour::workspace_bytes(shape);
}

void bfs(TreeShape shape, const index_t* tree, index_t root, index_t* order, index_t* parent,
         void* workspace, cudaStream_t stream) {
  if (shape.batch == 0) return;
  if (block_tour::fits(shape.vertices))
    block_tour::bfs(shape, tree, root, order, parent, stream);
  else
    tour::bfs(shape, tree, root, order, parent, workspace, stream);
}

}  // namespace groot::cuda
