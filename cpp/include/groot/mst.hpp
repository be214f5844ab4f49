// Minimum spanning trees by Borůvka's algorithm, batched.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// edges: (E, 2) or (B, E, 2) per shape.shared_edges; weights: (B, E); tree: (B, L-1, 2).
// Edges compare by (weight, edge index), a strict total order, so the tree is unique and equals
// Kruskal's with a stable sort; -0 and +0 are equal weights, and self-loops are ignored. Tree
// edges are written in increasing edge index, as given. Throws InvalidArgument for vertex ids out
// of range, NaN/Inf weights, disconnected graphs and 2^32 - 1 or more vertices or edges.
template <class T>
void minimum_spanning_tree(GraphShape shape, span<const index_t> edges, span<const T> weights,
                           span<index_t> tree);

}  // namespace groot
