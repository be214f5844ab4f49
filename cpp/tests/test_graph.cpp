#include <cstdint>
#include <vector>

#include "groot/groot.hpp"
#include "harness.hpp"

using groot::index_t;

TEST(grid_edges_follow_the_papers_order) {
  const index_t h = 3, w = 4;
  std::vector<index_t> edges(2 * groot::grid_edge_count(h, w));
  groot::grid_edges(h, w, edges);
  CHECK(edges.size() == 2 * ((h - 1) * w + h * (w - 1)));
  std::vector<index_t> expected;
  for (index_t r = 0; r + 1 < h; ++r)
    for (index_t c = 0; c < w; ++c) expected.insert(expected.end(), {r * w + c, (r + 1) * w + c});
  for (index_t r = 0; r < h; ++r)
    for (index_t c = 0; c + 1 < w; ++c) expected.insert(expected.end(), {r * w + c, r * w + c + 1});
  CHECK(edges == expected);
}

TEST(degenerate_grids) {
  CHECK(groot::grid_edge_count(1, 1) == 0);
  CHECK(groot::grid_edge_count(1, 5) == 4);
  CHECK(groot::grid_edge_count(5, 1) == 4);
  CHECK(groot::grid_edge_count(0, 5) == 0);
  CHECK_THROWS(groot::grid_edge_count(-1, 5), "height");
}

TEST(sequence_edges_group_by_offset) {
  std::vector<index_t> edges(2 * groot::sequence_edge_count(5, 3));
  groot::sequence_edges(5, 3, edges);
  const std::vector<index_t> expected = {0, 1, 1, 2, 2, 3, 3, 4, 0, 2, 1, 3, 2, 4, 0, 3, 1, 4};
  CHECK(edges == expected);
  CHECK(groot::sequence_edge_count(2, 3) == 1);
  CHECK_THROWS(groot::sequence_edge_count(4, 0), "window");
}

TEST(edge_weights_match_definitions) {
  // Two samples, 2 channels, 3 vertices on a path 0-1-2.
  const std::vector<double> features = {1, 0, 3, 0, 2, 4, /* sample 2 */ 1, 1, 0, 1, -1, 0};
  const std::vector<index_t> edges = {0, 1, 1, 2};
  const groot::GraphShape shape{2, 3, 2, true};
  std::vector<double> w(4);
  groot::edge_weights<double>(shape, 2, features, edges, groot::Metric::l1, w);
  CHECK(w[0] == 1 + 2 && w[1] == 3 + 2 && w[2] == 0 + 2 && w[3] == 1 + 1);
  groot::edge_weights<double>(shape, 2, features, edges, groot::Metric::l2, w);
  CHECK(w[0] == 1 + 4 && w[1] == 9 + 4);
  groot::edge_weights<double>(shape, 2, features, edges, groot::Metric::cosine, w);
  // (1,0)·(0,2) = 0 → distance 1; (0,2)·(3,4) → 1 - 8/10.
  CHECK(std::abs(w[0] - 1.0) < 1e-12 && std::abs(w[1] - 0.2) < 1e-12);
  CHECK(std::abs(w[3] - 1.0) < 1e-12);  // (1,-1) · (0,0): the zero vector is orthogonal
  const std::vector<index_t> bad = {0, 3, 1, 2};
  CHECK_THROWS(groot::edge_weights<double>(shape, 2, features, bad, groot::Metric::l1, w), "edges");
}

TEST(edge_weights_of_vertex_major_features) {
  // Random features, 2 samples × 5 channels × 12 vertices, given both ways round.
  const index_t B = 2, C = 5, L = 12;
  std::vector<double> by_channel(B * C * L), by_vertex(B * C * L);
  std::uint64_t state = 12345;
  for (index_t b = 0; b < B; ++b)
    for (index_t c = 0; c < C; ++c)
      for (index_t v = 0; v < L; ++v) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const double value = double(state >> 11) / double(1ULL << 53) - 0.5;
        by_channel[(b * C + c) * L + v] = by_vertex[(b * L + v) * C + c] = value;
      }
  std::vector<index_t> edges(2 * groot::grid_edge_count(3, 4));
  groot::grid_edges(3, 4, edges);
  const groot::GraphShape shape{B, L, groot::grid_edge_count(3, 4), true};
  for (auto metric : {groot::Metric::cosine, groot::Metric::l1, groot::Metric::l2}) {
    std::vector<double> want(B * shape.edges), got(B * shape.edges);
    groot::edge_weights<double>(shape, C, by_channel, edges, metric, want);
    groot::edge_weights<double>(shape, C, by_vertex, edges, metric, got, groot::FeatureLayout::vertex_major);
    CHECK(got == want);
  }
}

TEST(metric_and_mode_names) {
  CHECK(groot::parse_metric("l2") == groot::Metric::l2);
  CHECK_THROWS(groot::parse_metric("hamming"), "metric");
  CHECK_THROWS(groot::parse_scan_mode("leaf"), "mode");
}
