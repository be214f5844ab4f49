// Grid graph → MST → BFS → tree scan on a synthetic 32×24 image; prints a checksum.
#include <cmath>
#include <cstdio>
#include <vector>

#include <groot/groot.hpp>

int main() {
  using groot::index_t;
  const index_t height = 24, width = 32, channels = 3, vertices = height * width;

  // Features: a bright disc on a gradient, so the tree has edges worth choosing.
  std::vector<float> features(channels * vertices);
  for (index_t r = 0; r < height; ++r) {
    for (index_t c = 0; c < width; ++c) {
      const bool disc = std::hypot(r - 12.0, c - 16.0) < 7.0;
      for (index_t k = 0; k < channels; ++k)
        features[k * vertices + r * width + c] = disc ? 1.0f + 0.1f * k : 0.02f * (c + k * r);
    }
  }

  const index_t num_edges = groot::grid_edge_count(height, width);
  std::vector<index_t> edges(2 * num_edges);
  groot::grid_edges(height, width, edges);
  const groot::GraphShape graph{1, vertices, num_edges, true};
  std::vector<float> weights(num_edges);
  groot::edge_weights<float>(graph, channels, features, edges, groot::Metric::cosine, weights);

  std::vector<index_t> tree(2 * (vertices - 1)), order(vertices), parent(vertices);
  groot::minimum_spanning_tree<float>(graph, edges, weights, tree);
  groot::bfs({1, vertices}, tree, 0, order, parent);

  std::vector<float> decay(channels * vertices, 0.9f), y(channels * vertices);
  groot::tree_scan_forward<float>({1, channels, vertices}, features, decay, order, parent,
                                  groot::ScanMode::all, y);
  double checksum = 0;
  for (index_t i = 0; i < channels * vertices; ++i) checksum += y[i] * ((i % 7) + 1);
  std::printf("vertices %lld, tree edges %lld, last BFS vertex %lld, checksum %.6f\n",
              static_cast<long long>(vertices), static_cast<long long>(tree.size() / 2),
              static_cast<long long>(order.back()), checksum);
  return 0;
}
