#include <cmath>
#include <utility>
#include <vector>

#include "groot/groot.hpp"
#include "harness.hpp"

using groot::index_t;

namespace {

struct RandomTree {
  std::vector<index_t> order, parent;
};

// A random tree on L vertices (each vertex joins an earlier one), scheduled by groot::bfs.
RandomTree random_tree(index_t L, index_t root) {
  std::vector<index_t> edges;
  for (index_t v = 1; v < L; ++v) {
    const auto u = static_cast<index_t>(groot_test::uniform(0, static_cast<double>(v)));
    edges.insert(edges.end(), {v, u});
  }
  RandomTree t{std::vector<index_t>(L), std::vector<index_t>(L)};
  groot::bfs({1, L}, edges, root, t.order, t.parent);
  return t;
}

// S(i, j) by walking both vertices up to their common ancestor: O(L) per pair, O(L³) in all.
double path_product(const RandomTree& t, const std::vector<double>& w, index_t i, index_t j) {
  const index_t L = static_cast<index_t>(t.parent.size());
  std::vector<double> from_i(L, -1);
  double product = 1;
  for (index_t v = i; v >= 0; v = t.parent[v]) {
    from_i[v] = product;
    if (t.parent[v] >= 0) product *= w[v];
  }
  product = 1;
  for (index_t v = j;; v = t.parent[v]) {
    if (from_i[v] >= 0) return product * from_i[v];
    product *= w[v];
  }
}

bool in_subtree(const RandomTree& t, index_t j, index_t i) {
  for (index_t v = j; v >= 0; v = t.parent[v])
    if (v == i) return true;
  return false;
}

}  // namespace

TEST(scan_equals_brute_force_path_products) {
  for (index_t L : {1, 2, 9, 40}) {
    for (auto mode : {groot::ScanMode::all, groot::ScanMode::root}) {
      const auto t = random_tree(L, L / 2);
      std::vector<double> x(L), w(L), y(L);
      for (index_t v = 0; v < L; ++v) {
        x[v] = groot_test::uniform(-1, 1);
        w[v] = groot_test::uniform(0.1, 0.95);
      }
      groot::tree_scan_forward<double>({1, 1, L}, x, w, t.order, t.parent, mode, y);
      for (index_t i = 0; i < L; ++i) {
        double expected = 0;
        for (index_t j = 0; j < L; ++j)
          if (mode == groot::ScanMode::all || in_subtree(t, j, i))
            expected += path_product(t, w, i, j) * x[j];
        CHECK(std::abs(y[i] - expected) < 1e-12);
      }
    }
  }
}

TEST(gradients_match_finite_differences) {
  const index_t L = 12;
  for (auto mode : {groot::ScanMode::all, groot::ScanMode::root}) {
    const auto t = random_tree(L, 3);
    std::vector<double> x(L), w(L), g(L), y(L), gx(L), gw(L);
    for (index_t v = 0; v < L; ++v) {
      x[v] = groot_test::uniform(-1, 1);
      w[v] = groot_test::uniform(0.1, 0.9);
      g[v] = groot_test::uniform(-1, 1);
    }
    groot::tree_scan_backward<double>({1, 1, L}, g, x, w, t.order, t.parent, mode, gx, gw);
    auto loss = [&](const std::vector<double>& xs, const std::vector<double>& ws) {
      groot::tree_scan_forward<double>({1, 1, L}, xs, ws, t.order, t.parent, mode, y);
      double sum = 0;
      for (index_t v = 0; v < L; ++v) sum += g[v] * y[v];
      return sum;
    };
    const double h = 1e-6;
    for (index_t v = 0; v < L; ++v) {
      auto xp = x, xm = x, wp = w, wm = w;
      xp[v] += h, xm[v] -= h, wp[v] += h, wm[v] -= h;
      CHECK(std::abs((loss(xp, w) - loss(xm, w)) / (2 * h) - gx[v]) < 1e-6);
      const double dw = v == t.order[0] ? 0.0 : (loss(x, wp) - loss(x, wm)) / (2 * h);
      CHECK(std::abs(dw - gw[v]) < 1e-6);
    }
  }
}

TEST(scan_rejects_bad_schedules) {
  std::vector<float> x(3, 1.f), w(3, .5f), y(3);
  const std::vector<index_t> order = {0, 1, 2}, parent = {-1, 2, 0};
  CHECK_THROWS(groot::tree_scan_forward<float>({1, 1, 3}, x, w, order, parent,
                                               groot::ScanMode::all, y),
               "before its child");
  CHECK_THROWS(groot::tree_scan_forward<float>({1, 1, 0}, {}, {}, {}, {}, groot::ScanMode::all, {}),
               "at least one vertex");
}

// (B, D, L) values as a (B, L, D) array.
template <class T>
std::vector<T> vertex_major(const std::vector<T>& rows, index_t B, index_t D, index_t L) {
  std::vector<T> out(rows.size());
  for (index_t b = 0; b < B; ++b)
    for (index_t d = 0; d < D; ++d)
      for (index_t v = 0; v < L; ++v) out[(b * L + v) * D + d] = rows[(b * D + d) * L + v];
  return out;
}

// The same arithmetic in the same order whatever the layout: outputs equal bit for bit, for
// blocks of channels that are full, partial or both, tasks of one to five blocks, and trees
// shorter than a transpose tile.
template <class T>
void check_layouts_agree() {
  constexpr auto vm = groot::FeatureLayout::vertex_major;
  const std::pair<index_t, index_t> shapes[] = {{2, 1}, {2, 3}, {2, 8}, {2, 13}, {2, 20}, {9, 40}};
  for (auto [B, D] : shapes) {
    for (index_t L : {1, 5, 37}) {
      const index_t n = B * D * L;
      std::vector<index_t> order, parent;
      for (index_t b = 0; b < B; ++b) {
        const auto t = random_tree(L, b % L);
        order.insert(order.end(), t.order.begin(), t.order.end());
        parent.insert(parent.end(), t.parent.begin(), t.parent.end());
      }
      std::vector<T> x(n), w(n), g(n);
      for (index_t i = 0; i < n; ++i) {
        x[i] = static_cast<T>(groot_test::uniform(-1, 1));
        w[i] = static_cast<T>(groot_test::uniform(0.1, 0.95));
        g[i] = static_cast<T>(groot_test::uniform(-1, 1));
      }
      const auto xv = vertex_major(x, B, D, L), wv = vertex_major(w, B, D, L);
      const auto gv = vertex_major(g, B, D, L);
      for (auto mode : {groot::ScanMode::all, groot::ScanMode::root}) {
        std::vector<T> y(n), yv(n), gx(n), gw(n), gxv(n), gwv(n);
        groot::tree_scan_forward<T>({B, D, L}, x, w, order, parent, mode, y);
        groot::tree_scan_forward<T>({B, D, L}, xv, wv, order, parent, mode, yv, vm);
        CHECK(vertex_major(y, B, D, L) == yv);
        groot::tree_scan_backward<T>({B, D, L}, g, x, w, order, parent, mode, gx, gw);
        groot::tree_scan_backward<T>({B, D, L}, gv, xv, wv, order, parent, mode, gxv, gwv, vm);
        CHECK(vertex_major(gx, B, D, L) == gxv);
        CHECK(vertex_major(gw, B, D, L) == gwv);
      }
    }
  }
}

TEST(vertex_major_scans_equal_channel_major_ones) {
  check_layouts_agree<float>();
  check_layouts_agree<double>();
}
