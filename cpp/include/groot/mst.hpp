// Minimum spanning trees by Borůvka's algorithm, batched.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// edges: (E, 2) or (B, E, 2) per shape.shared_edges; weights: (B, E); tree: (B, L-1, 2).
// Edges compare by (weight, edge index), a strict total order, so the tree is unique and equals
// Kruskal's with a stable sort. Tree edges are written in increasing edge index, as given.
// Throws InvalidArgument for vertex ids out of range, NaN/Inf weights and disconnected graphs.
template <class T>
void minimum_spanning_tree(GraphShape shape, span<const index_t> edges, span<const T> weights,
                           span<index_t> tree);

}  // namespace groot
