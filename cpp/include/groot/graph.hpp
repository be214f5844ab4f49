// Edge lists of the graphs a tree is taken from: the 4-connected pixel grid and the token window.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// Number of edges of the 4-connected height×width grid: (h-1)·w + h·(w-1).
index_t grid_edge_count(index_t height, index_t width);

// Writes the grid's edges as (u, v) pairs into `edges` (2·grid_edge_count values): first every
// vertical pair (r,c)-(r+1,c) in row-major order, then every horizontal pair (r,c)-(r,c+1) in
// row-major order, with vertex id r·width + c. This is the paper's order, so trees match it tie
// for tie.
void grid_edges(index_t height, index_t width, span<index_t> edges);

// Number of edges when each of `length` tokens links to its previous `window` tokens.
index_t sequence_edge_count(index_t length, index_t window);

// Writes (t-j, t) pairs grouped by offset j = 1..window, each group in increasing t.
void sequence_edges(index_t length, index_t window, span<index_t> edges);

}  // namespace groot
