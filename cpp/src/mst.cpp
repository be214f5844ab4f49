// Borůvka's algorithm with contraction. Each round, every component picks its lightest outgoing
// edge; the picks join components into trees, each tree becomes one vertex of a smaller graph,
// and the edge list is rewritten onto those vertices, dropping the edges that fell inside one.
// A round is thus a few sweeps over arrays, with no union-find lookups per edge, and the sweeps
// avoid data-dependent branches: which of two edges is lighter is a coin toss that a branch
// predictor loses half the time (it cost more than the rest of the work together).
#include "groot/mst.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "checks.hpp"
#include "ordered_bits.hpp"
#include "parallel_for.hpp"

namespace groot {
namespace {

// A component's pick: the lightest edge under (weight, position in the edge list). Rewriting the
// list keeps its order, so positions order like edge indices and this is the strict
// (weight, edge index) order, under which every component's lightest edge is unique.
template <class Bits>
struct Pick {
  Bits weight;
  std::uint32_t at;  // position in the edge list
  std::uint32_t position() const { return at; }
  Bits weight_bits() const { return weight; }
  void keep_lighter(const Pick& other) {
    if (other < *this) *this = other;
  }
  friend bool operator<(const Pick& x, const Pick& y) {
    return x.weight < y.weight || (x.weight == y.weight && x.at < y.at);
  }
};
// For float weights the pair fits in one integer: one compare.
template <>
struct Pick<std::uint32_t> {
  std::uint64_t packed;
  Pick(std::uint32_t weight, std::uint32_t position)
      : packed(std::uint64_t{weight} << 32 | position) {}
  std::uint32_t weight_bits() const { return static_cast<std::uint32_t>(packed >> 32); }
  std::uint32_t position() const { return static_cast<std::uint32_t>(packed); }
  // A select, not a branch (see the top of the file).
  void keep_lighter(const Pick& other) {
    const std::uint64_t current = packed;
    packed = other.packed < current ? other.packed : current;
  }
};

// The edge list of the current round, as parallel arrays: endpoints (component ids), ordered
// weight bits and the edge's index in the input.
template <class Bits>
struct EdgeList {
  std::vector<std::uint32_t> a, b, index;
  std::vector<Bits> weight;
};

template <class T>
void boruvka(index_t vertices, index_t num_edges, const index_t* pairs, const T* weights,
             index_t* tree) {
  using Bits = decltype(detail::ordered_bits(T{}));
  const auto E = static_cast<std::size_t>(num_edges);
  EdgeList<Bits> edges;
  edges.a.resize(E);
  edges.b.resize(E);
  edges.index.resize(E);
  edges.weight.resize(E);
  std::size_t size = 0;  // self-loops never join anything: they are left out from the start
  for (std::size_t e = 0; e < E; ++e) {
    edges.a[size] = static_cast<std::uint32_t>(pairs[2 * e]);
    edges.b[size] = static_cast<std::uint32_t>(pairs[2 * e + 1]);
    edges.index[size] = static_cast<std::uint32_t>(e);
    edges.weight[size] = detail::ordered_bits(weights[e]);
    size += pairs[2 * e] != pairs[2 * e + 1];
  }
  std::vector<std::uint8_t> in_tree(E, 0);
  const Pick<Bits> none{std::numeric_limits<Bits>::max(), std::numeric_limits<std::uint32_t>::max()};
  std::vector<Pick<Bits>> pick;
  std::vector<std::uint32_t> joined_to, label;
  std::size_t count = static_cast<std::size_t>(vertices);

  while (count > 1 && size > 0) {
    pick.assign(count, none);
    for (std::size_t i = 0; i < size; ++i) {
      const Pick<Bits> p{edges.weight[i], static_cast<std::uint32_t>(i)};
      const std::uint32_t u = edges.a[i], v = edges.b[i];
      pick[u].keep_lighter(p);
      pick[v].keep_lighter(p);
    }
    // Each component points to the far end of its pick. The picks form trees, except that two
    // components may pick the same edge: the lower id of such a pair becomes the root, and every
    // other component's pick is a tree edge.
    joined_to.resize(count);
    index_t joined = 0;
    for (std::size_t c = 0; c < count; ++c) {
      if (pick[c].weight_bits() == none.weight_bits()) {  // no outgoing edge: disconnected graph
        joined_to[c] = static_cast<std::uint32_t>(c);
        continue;
      }
      const std::uint32_t i = pick[c].position();
      joined_to[c] = edges.a[i] ^ edges.b[i] ^ static_cast<std::uint32_t>(c);
    }
    for (std::size_t c = 0; c < count; ++c) {
      const std::uint32_t other = joined_to[c];
      const bool root = other == c || (joined_to[other] == c && c < other);
      joined_to[c] = root ? static_cast<std::uint32_t>(c) : other;
      in_tree[edges.index[root ? 0 : pick[c].position()]] |= !root;
      joined += !root;
    }
    if (joined == 0) break;
    // Number the trees 0.. and move every component, then every edge, onto its tree.
    for (std::size_t c = 0; c < count; ++c) {
      std::uint32_t root = joined_to[c];
      while (joined_to[root] != root) root = joined_to[root];
      joined_to[c] = root;
    }
    label.resize(count);
    std::uint32_t next = 0;
    for (std::size_t c = 0; c < count; ++c) {
      label[c] = next;
      next += joined_to[c] == c;
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size; ++i) {
      const std::uint32_t u = label[joined_to[edges.a[i]]], v = label[joined_to[edges.b[i]]];
      edges.a[kept] = u;
      edges.b[kept] = v;
      edges.index[kept] = edges.index[i];
      edges.weight[kept] = edges.weight[i];
      kept += u != v;
    }
    size = kept;
    count = next;
  }
  GROOT_CHECK(count == 1, "edges do not connect the graph: ", count,
              " components remain among ", vertices, " vertices");
  // The tree's edges in edge order (edges.index serves as scratch: it has room for E).
  std::size_t written = 0;
  for (std::size_t e = 0; e < E; ++e) {
    edges.index[written] = static_cast<std::uint32_t>(e);
    written += in_tree[e];
  }
  for (std::size_t k = 0; k < written; ++k) {
    *tree++ = pairs[2 * edges.index[k]];
    *tree++ = pairs[2 * edges.index[k] + 1];
  }
}

}  // namespace

template <class T>
void minimum_spanning_tree(GraphShape shape, span<const index_t> edges, span<const T> weights,
                           span<index_t> tree) {
  const auto [batch, vertices, num_edges, shared_edges] = shape;
  detail::check_non_negative(batch, "batch");
  GROOT_CHECK(vertices >= 1, "num_vertices must be at least 1, got ", vertices);
  constexpr index_t kMaxIds = std::numeric_limits<std::uint32_t>::max();
  GROOT_CHECK(vertices < kMaxIds && num_edges < kMaxIds, "the MST takes fewer than 2^32 - 1 ",
              "vertices and edges per graph, got ", vertices, " and ", num_edges);
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
