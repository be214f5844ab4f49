#include "groot/bfs.hpp"

#include <vector>

#include "checks.hpp"
#include "parallel_for.hpp"
#include "step_parents.hpp"

namespace groot {
namespace {

void bfs_one(index_t vertices, const index_t* edges, index_t root, index_t* order,
             index_t* parent) {
  // Adjacency in compressed rows, each row in tree-edge order (a counting sort keeps it stable).
  std::vector<index_t> row_start(static_cast<std::size_t>(vertices + 1), 0);
  for (index_t i = 0; i < 2 * (vertices - 1); ++i) ++row_start[edges[i] + 1];
  for (index_t v = 0; v < vertices; ++v) row_start[v + 1] += row_start[v];
  std::vector<index_t> fill(row_start.begin(), row_start.end() - 1);
  std::vector<index_t> neighbours(static_cast<std::size_t>(2 * (vertices - 1)));
  for (index_t e = 0; e < vertices - 1; ++e) {
    const index_t a = edges[2 * e], b = edges[2 * e + 1];
    neighbours[fill[a]++] = b;
    neighbours[fill[b]++] = a;
  }

  constexpr index_t kUnvisited = -2;
  for (index_t v = 0; v < vertices; ++v) parent[v] = kUnvisited;
  parent[root] = -1;
  order[0] = root;
  index_t visited = 1;
  for (index_t head = 0; head < visited; ++head) {
    const index_t u = order[head];
    for (index_t i = row_start[u]; i < row_start[u + 1]; ++i) {
      const index_t v = neighbours[i];
      if (parent[v] != kUnvisited) continue;
      parent[v] = u;
      order[visited++] = v;
    }
  }
  GROOT_CHECK(visited == vertices, "tree does not span its ", vertices, " vertices (only ",
              visited, " reachable from the root): it has a cycle or a repeated edge");
}

}  // namespace

void bfs(TreeShape shape, span<const index_t> tree, index_t root, span<index_t> order,
         span<index_t> parent) {
  const auto [batch, vertices] = shape;
  detail::check_non_negative(batch, "batch");
  GROOT_CHECK(vertices >= 1, "num_vertices must be at least 1, got ", vertices);
  detail::check_size(tree, batch * (vertices - 1) * 2, "tree");
  detail::check_size(order, batch * vertices, "order");
  detail::check_size(parent, batch * vertices, "parent");
  detail::check_vertex(root, vertices, "root");
  for (index_t v : tree) detail::check_vertex(v, vertices, "tree");

  detail::parallel_for(batch, vertices * 8, [&](index_t b) {
    bfs_one(vertices, tree.data() + b * (vertices - 1) * 2, root, order.data() + b * vertices,
            parent.data() + b * vertices);
  });
}

std::vector<index_t> detail::checked_step_parents(TreeShape shape, span<const index_t> order,
                                                  span<const index_t> parent) {
  const auto [batch, vertices] = shape;
  detail::check_size(order, batch * vertices, "order");
  detail::check_size(parent, batch * vertices, "parent");
  std::vector<index_t> step_parent(static_cast<std::size_t>(batch * vertices));
  // One walk per sample: a vertex must not have been seen yet, and its parent must have been.
  detail::parallel_for(batch, 4 * vertices, [&](index_t b) {
    const index_t* ord = order.data() + b * vertices;
    const index_t* par = parent.data() + b * vertices;
    index_t* steps = step_parent.data() + b * vertices;
    thread_local std::vector<unsigned char> seen;
    seen.assign(static_cast<std::size_t>(vertices), 0);
    for (index_t k = 0; k < vertices; ++k) {
      const index_t v = ord[k];
      detail::check_vertex(v, vertices, "order");
      GROOT_CHECK(!seen[v], "order is not a permutation: vertex ", v, " appears twice in batch ",
                  b);
      const index_t p = par[v];
      if (k == 0) {
        GROOT_CHECK(p == -1, "parent of the root (order[", b, ", 0] = ", v, ") must be -1, got ",
                    p);
      } else {
        detail::check_vertex(p, vertices, "parent");
        GROOT_CHECK(seen[p], "parent[", b, ", ", v, "] = ", p,
                    " does not come before its child in order");
      }
      seen[v] = 1;
      steps[k] = p;
    }
  });
  return step_parent;
}

void validate_schedule(TreeShape shape, span<const index_t> order, span<const index_t> parent) {
  detail::checked_step_parents(shape, order, parent);
}

}  // namespace groot
