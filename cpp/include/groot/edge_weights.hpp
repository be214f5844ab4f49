// Edge weights: the dissimilarity of the features at the two ends of each edge.
#pragma once

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot {

// features: (B, C, L) in `layout`; edges: (E, 2) if shape.shared_edges else (B, E, 2);
// weights: (B, E). cosine = 1 - cos(a, b) (a zero vector counts as orthogonal), l1 = Σ|a-b|,
// l2 = Σ(a-b)² (squared, which orders edges like the Euclidean distance).
template <class T>
void edge_weights(GraphShape shape, index_t channels, span<const T> features,
                  span<const index_t> edges, Metric metric, span<T> weights,
                  FeatureLayout layout = FeatureLayout::channel_major);

}  // namespace groot
