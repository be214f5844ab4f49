#include "groot/edge_weights.hpp"

#include <cmath>
#include <vector>

#include "checks.hpp"
#include "parallel_for.hpp"

namespace groot {
namespace {

// Edges are cut into chunks so that a single large graph still spreads over all threads.
constexpr index_t kEdgeChunk = 4096;

// Σ_c term(a_c, b_c) as kPartials running sums, channel c in sum c % kPartials, then those added
// in order. Independent sums let the compiler vectorise the loop (one running sum would have to
// be added in order, a scalar chain), and the order is fixed, whatever the machine.
constexpr index_t kPartials = 16;

template <class T, class Term>
T channel_sum(const T* a, const T* b, index_t channels, Term term) {
  T partial[kPartials] = {};
  index_t c = 0;
  for (; c + kPartials <= channels; c += kPartials)
    for (index_t k = 0; k < kPartials; ++k) partial[k] += term(a[c + k], b[c + k]);
  for (index_t k = 0; c + k < channels; ++k) partial[k] += term(a[c + k], b[c + k]);
  T sum = 0;
  for (index_t k = 0; k < kPartials; ++k) sum += partial[k];
  return sum;
}

template <class T>
T dissimilarity(const T* a, const T* b, index_t channels, Metric metric, T norm_a, T norm_b) {
  switch (metric) {
    case Metric::cosine:
      return T(1) - channel_sum(a, b, channels, [](T p, T q) { return p * q; }) / (norm_a * norm_b);
    case Metric::l1:
      return channel_sum(a, b, channels, [](T p, T q) { return std::abs(p - q); });
    case Metric::l2:
      return channel_sum(a, b, channels, [](T p, T q) { return (p - q) * (p - q); });
  }
  return T(0);
}

}  // namespace

template <class T>
void edge_weights(GraphShape shape, index_t channels, span<const T> features,
                  span<const index_t> edges, Metric metric, span<T> weights, FeatureLayout layout) {
  const auto [batch, vertices, num_edges, shared_edges] = shape;
  detail::check_non_negative(channels, "channels");
  detail::check_size(features, batch * channels * vertices, "features");
  detail::check_size(edges, (shared_edges ? 1 : batch) * num_edges * 2, "edges");
  detail::check_size(weights, batch * num_edges, "weights");
  for (index_t v : edges) detail::check_vertex(v, vertices, "edges");

  // Vertex-major rows make each edge's two feature vectors contiguous: channel-major features
  // are copied into that layout first.
  const bool copy = layout == FeatureLayout::channel_major;
  std::vector<T> by_vertex(copy ? features.size() : 0);
  const T* rows = copy ? by_vertex.data() : features.data();
  std::vector<T> norms(static_cast<std::size_t>(batch * vertices), T(1));
  detail::parallel_for(batch, channels * vertices, [&](index_t b) {
    if (copy) {
      const T* src = features.data() + b * channels * vertices;
      T* dst = by_vertex.data() + b * channels * vertices;
      for (index_t c = 0; c < channels; ++c)
        for (index_t v = 0; v < vertices; ++v) dst[v * channels + c] = src[c * vertices + v];
    }
    if (metric != Metric::cosine) return;
    const T* sample = rows + b * channels * vertices;
    for (index_t v = 0; v < vertices; ++v) {
      const T* row = sample + v * channels;
      const T sum = channel_sum(row, row, channels, [](T p, T q) { return p * q; });
      // Same guard as torch.nn.functional.normalize: a zero vector stays zero.
      norms[b * vertices + v] = std::max(std::sqrt(sum), T(1e-12));
    }
  });

  const index_t chunks = (num_edges + kEdgeChunk - 1) / kEdgeChunk;
  detail::parallel_for(batch * chunks, kEdgeChunk * channels, [&](index_t task) {
    const index_t b = task / chunks;
    const index_t begin = (task % chunks) * kEdgeChunk;
    const index_t end = std::min(num_edges, begin + kEdgeChunk);
    const index_t* pairs = edges.data() + (shared_edges ? 0 : b * num_edges * 2);
    const T* feats = rows + b * channels * vertices;
    const T* norm = norms.data() + b * vertices;
    for (index_t e = begin; e < end; ++e) {
      const index_t u = pairs[2 * e], v = pairs[2 * e + 1];
      weights[b * num_edges + e] =
          dissimilarity(feats + u * channels, feats + v * channels, channels, metric, norm[u], norm[v]);
    }
  });
}

template void edge_weights<float>(GraphShape, index_t, span<const float>, span<const index_t>,
                                  Metric, span<float>, FeatureLayout);
template void edge_weights<double>(GraphShape, index_t, span<const double>, span<const index_t>,
                                   Metric, span<double>, FeatureLayout);

}  // namespace groot
