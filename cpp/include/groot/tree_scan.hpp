// The tree scan: y_i = Σ_j S(i, j) x_j, S the product of edge weights on the tree path i–j.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// x, decay, y: (B, D, L) in `layout`: contiguous rows of L vertices (channel_major), or each
// vertex's D channels together, a (B, L, D) array (vertex_major); order, parent: (B, L) from
// bfs(). The edge (v, parent(v)) has weight decay[b, d, v]. Mode `all` sums over every vertex
// (leaves→root, then root→leaves); mode `root` over the subtree below each vertex (leaves→root
// only). Accumulates in T (float or double). The schedule is validated; inputs are never written.
template <class T>
void tree_scan_forward(ChannelShape shape, span<const T> x, span<const T> decay,
                       span<const index_t> order, span<const index_t> parent, ScanMode mode,
                       span<T> y, FeatureLayout layout = FeatureLayout::channel_major);

// Gradients of Σ grad_y·y with respect to x and decay, in O(L) per channel: the same two passes
// over grad_y plus a closed form for the edge weights (see tree_scan.cpp). Every array is in
// `layout`.
template <class T>
void tree_scan_backward(ChannelShape shape, span<const T> grad_y, span<const T> x,
                        span<const T> decay, span<const index_t> order,
                        span<const index_t> parent, ScanMode mode, span<T> grad_x,
                        span<T> grad_decay, FeatureLayout layout = FeatureLayout::channel_major);

}  // namespace groot
