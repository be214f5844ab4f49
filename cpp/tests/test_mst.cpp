#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "groot/groot.hpp"
#include "harness.hpp"

using groot::index_t;

namespace {

// Kruskal with a stable sort by (weight, index): the independent reference.
std::vector<index_t> kruskal(index_t vertices, const std::vector<index_t>& edges,
                             const std::vector<double>& weights) {
  std::vector<index_t> by_weight(weights.size());
  std::iota(by_weight.begin(), by_weight.end(), 0);
  std::stable_sort(by_weight.begin(), by_weight.end(),
                   [&](index_t a, index_t b) { return weights[a] < weights[b]; });
  std::vector<index_t> root(vertices);
  std::iota(root.begin(), root.end(), 0);
  auto find = [&](index_t v) {
    while (root[v] != v) v = root[v];
    return v;
  };
  std::vector<index_t> chosen;
  for (index_t e : by_weight) {
    const index_t a = find(edges[2 * e]), b = find(edges[2 * e + 1]);
    if (a != b) {
      root[a] = b;
      chosen.push_back(e);
    }
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<index_t> tree;
  for (index_t e : chosen) tree.insert(tree.end(), {edges[2 * e], edges[2 * e + 1]});
  return tree;
}

}  // namespace

TEST(boruvka_equals_stable_kruskal_with_heavy_ties) {
  for (auto [h, w] : {std::pair<index_t, index_t>{1, 1}, {1, 9}, {9, 1}, {7, 5}, {16, 16}}) {
    const index_t L = h * w, E = groot::grid_edge_count(h, w), B = 3;
    std::vector<index_t> edges(2 * E);
    groot::grid_edges(h, w, edges);
    std::vector<double> weights(B * E);
    for (auto& x : weights) x = std::floor(groot_test::uniform(0, 3));  // three values: many ties
    std::vector<index_t> tree(B * (L - 1) * 2);
    groot::minimum_spanning_tree<double>({B, L, E, true}, edges, weights, tree);
    for (index_t b = 0; b < B; ++b) {
      std::vector<double> wb(weights.begin() + b * E, weights.begin() + (b + 1) * E);
      const auto expected = kruskal(L, edges, wb);
      CHECK(std::equal(expected.begin(), expected.end(), tree.begin() + b * (L - 1) * 2));
    }
  }
}

TEST(per_graph_edge_lists) {
  // Two triangles with different edge lists and equal weights: the lower edge indices win.
  const std::vector<index_t> edges = {0, 1, 1, 2, 0, 2, /* graph 2 */ 0, 2, 2, 1, 1, 0};
  const std::vector<float> weights = {1, 1, 1, 5, 1, 1};
  std::vector<index_t> tree(2 * 2 * 2);
  groot::minimum_spanning_tree<float>({2, 3, 3, false}, edges, weights, tree);
  CHECK((tree == std::vector<index_t>{0, 1, 1, 2, 2, 1, 1, 0}));
}

TEST(bad_graphs_are_reported) {
  const std::vector<index_t> edges = {0, 1, 2, 3};
  std::vector<double> weights = {1, 2};
  std::vector<index_t> tree(2 * 3);
  CHECK_THROWS(groot::minimum_spanning_tree<double>({1, 4, 2, true}, edges, weights, tree),
               "do not connect");
  const std::vector<index_t> path = {0, 1, 1, 2, 2, 3};
  std::vector<double> path_weights = {1, std::numeric_limits<double>::quiet_NaN(), 3};
  CHECK_THROWS(groot::minimum_spanning_tree<double>({1, 4, 3, true}, path, path_weights, tree),
               "finite");
  path_weights[1] = 2;
  std::vector<index_t> small_tree(2 * 2);
  CHECK_THROWS(groot::minimum_spanning_tree<double>({1, 3, 3, true}, path, path_weights, small_tree),
               "edges");
  CHECK_THROWS(groot::minimum_spanning_tree<double>({1, 0, 0, true}, {}, {}, {}), "num_vertices");
}
