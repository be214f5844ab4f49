// Breadth-first ordering of trees: the schedule every tree scan follows.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// tree: (B, L-1, 2) edges; order, parent: (B, L). order[b, k] is the k-th vertex visited from
// `root`; parent[b, v] is v's parent, -1 at the root. A vertex's neighbours are visited in the
// order of the tree's edge list, so the result is deterministic and the same on every backend.
// Throws InvalidArgument for ids out of range, a root out of range, or edges that do not form a
// spanning tree.
void bfs(TreeShape shape, span<const index_t> tree, index_t root, span<index_t> order,
         span<index_t> parent);

// Checks that (order, parent) is a BFS-like schedule: order is a permutation, order[0] is the
// only vertex with parent -1, and every other vertex's parent comes earlier in order.
void validate_schedule(TreeShape shape, span<const index_t> order, span<const index_t> parent);

}  // namespace groot
