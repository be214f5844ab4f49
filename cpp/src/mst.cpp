#include "groot/mst.hpp"

#include <cmath>
#include <vector>

#include "checks.hpp"
#include "parallel_for.hpp"

namespace groot {
namespace {

// Union-find over vertex ids with path halving.
class Components {
 public:
  explicit Components(index_t n) : root_(static_cast<std::size_t>(n)) {
    for (index_t v = 0; v < n; ++v) root_[v] = v;
  }
  index_t find(index_t v) {
    while (root_[v] != v) {
      root_[v] = root_[root_[v]];
      v = root_[v];
    }
    return v;
  }
  void join(index_t a, index_t b) { root_[find(a)] = find(b); }

 private:
  std::vector<index_t> root_;
};

template <class T>
void boruvka(index_t vertices, index_t num_edges, const index_t* pairs, const T* weight,
             index_t* tree) {
  // (weight, index) is a strict total order: it makes the minimum edge of every component unique.
  auto lighter = [&](index_t a, index_t b) {
    return weight[a] < weight[b] || (weight[a] == weight[b] && a < b);
  };
  Components components(vertices);
  std::vector<index_t> alive(static_cast<std::size_t>(num_edges));
  for (index_t e = 0; e < num_edges; ++e) alive[e] = e;
  std::vector<index_t> cheapest(static_cast<std::size_t>(vertices), -1);
  std::vector<char> in_tree(static_cast<std::size_t>(num_edges), 0);
  index_t tree_edges = 0;

  while (tree_edges < vertices - 1) {
    // Each component picks its lightest outgoing edge; edges inside a component are dropped.
    std::size_t kept = 0;
    for (index_t e : alive) {
      const index_t a = components.find(pairs[2 * e]);
      const index_t b = components.find(pairs[2 * e + 1]);
      if (a == b) continue;
      alive[kept++] = e;
      if (cheapest[a] < 0 || lighter(e, cheapest[a])) cheapest[a] = e;
      if (cheapest[b] < 0 || lighter(e, cheapest[b])) cheapest[b] = e;
    }
    alive.resize(kept);
    if (kept == 0) break;
    for (index_t v = 0; v < vertices; ++v) {
      const index_t e = cheapest[v];
      if (e < 0) continue;
      cheapest[v] = -1;
      // Two components may pick the same edge; only the first pick joins them.
      if (components.find(pairs[2 * e]) != components.find(pairs[2 * e + 1])) {
        components.join(pairs[2 * e], pairs[2 * e + 1]);
        in_tree[e] = 1;
        ++tree_edges;
      }
    }
  }
  GROOT_CHECK(tree_edges == vertices - 1, "edges do not connect the graph: ",
              vertices - tree_edges, " components remain among ", vertices, " vertices");
  for (index_t e = 0; e < num_edges; ++e) {
    if (!in_tree[e]) continue;
    *tree++ = pairs[2 * e];
    *tree++ = pairs[2 * e + 1];
  }
}

}  // namespace

template <class T>
void minimum_spanning_tree(GraphShape shape, span<const index_t> edges, span<const T> weights,
                           span<index_t> tree) {
  const auto [batch, vertices, num_edges, shared_edges] = shape;
  detail::check_non_negative(batch, "batch");
  GROOT_CHECK(vertices >= 1, "num_vertices must be at least 1, got ", vertices);
  detail::check_size(edges, (shared_edges ? 1 : batch) * num_edges * 2, "edges");
  detail::check_size(weights, batch * num_edges, "weights");
  detail::check_size(tree, batch * (vertices - 1) * 2, "tree");
  for (index_t v : edges) detail::check_vertex(v, vertices, "edges");
  for (T w : weights) GROOT_CHECK(std::isfinite(w), "weights must be finite, got ", w);

  detail::parallel_for(batch, num_edges * 8, [&](index_t b) {
    boruvka(vertices, num_edges, edges.data() + (shared_edges ? 0 : b * num_edges * 2),
            weights.data() + b * num_edges, tree.data() + b * (vertices - 1) * 2);
  });
}

template void minimum_spanning_tree<float>(GraphShape, span<const index_t>, span<const float>,
                                           span<index_t>);
template void minimum_spanning_tree<double>(GraphShape, span<const index_t>, span<const double>,
                                            span<index_t>);

}  // namespace groot
