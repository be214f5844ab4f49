// groot_core._numpy: the core on NumPy arrays (and anything exposing DLPack), no torch involved.
// Arguments arrive C-contiguous with the exact dtype: groot_core.numpy converts and checks them
// first, so the bindings refuse implicit conversions.
#include <memory>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include "groot/groot.hpp"

namespace nb = nanobind;
using groot::index_t;

namespace {

template <class T>
using Input = nb::ndarray<const T, nb::c_contig, nb::device::cpu>;
template <class T>
using Output = nb::ndarray<nb::numpy, T>;

template <class T>
groot::span<const T> view(const Input<T>& a) {
  return {a.data(), a.size()};
}

// Hands a vector to NumPy; the array's capsule owns and frees it.
template <class T>
Output<T> to_numpy(std::vector<T> values, std::initializer_list<std::size_t> shape) {
  auto owner = std::make_unique<std::vector<T>>(std::move(values));
  T* data = owner->data();
  nb::capsule free_owner(owner.get(), [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  owner.release();
  return Output<T>(data, shape.size(), shape.begin(), free_owner);
}

std::size_t as_size(index_t n) { return static_cast<std::size_t>(n); }

// Sizes are computed from num_vertices before the core sees it: refuse what cannot be a size.
void check_vertices(index_t vertices) {
  GROOT_CHECK(vertices >= 1, "num_vertices must be at least 1, got ", vertices);
}

Output<index_t> grid_edges(index_t height, index_t width) {
  std::vector<index_t> edges(as_size(2 * groot::grid_edge_count(height, width)));
  groot::grid_edges(height, width, edges);
  return to_numpy(std::move(edges), {edges.size() / 2, 2});
}

Output<index_t> sequence_edges(index_t length, index_t window) {
  std::vector<index_t> edges(as_size(2 * groot::sequence_edge_count(length, window)));
  groot::sequence_edges(length, window, edges);
  return to_numpy(std::move(edges), {edges.size() / 2, 2});
}

// (E, 2) edges are shared by the batch; (B, E, 2) edges belong to one graph each.
groot::GraphShape graph_shape(const Input<index_t>& edges, index_t batch, index_t vertices) {
  const bool shared = edges.ndim() == 2;
  return {batch, vertices, static_cast<index_t>(edges.shape(shared ? 0 : 1)), shared};
}

template <class T>
Output<T> edge_weights(const Input<T>& features, const Input<index_t>& edges, const std::string& metric) {
  const auto B = static_cast<index_t>(features.shape(0)), C = static_cast<index_t>(features.shape(1));
  const auto shape = graph_shape(edges, B, static_cast<index_t>(features.shape(2)));
  std::vector<T> weights(as_size(B * shape.edges));
  groot::edge_weights<T>(shape, C, view(features), view(edges), groot::parse_metric(metric), weights);
  return to_numpy(std::move(weights), {as_size(B), as_size(shape.edges)});
}

template <class T>
Output<index_t> minimum_spanning_tree(const Input<index_t>& edges, const Input<T>& weights, index_t vertices) {
  check_vertices(vertices);
  const auto B = static_cast<index_t>(weights.shape(0));
  std::vector<index_t> tree(as_size(B * (vertices - 1) * 2));
  groot::minimum_spanning_tree<T>(graph_shape(edges, B, vertices), view(edges), view(weights), tree);
  return to_numpy(std::move(tree), {as_size(B), as_size(vertices - 1), 2});
}

std::pair<Output<index_t>, Output<index_t>> bfs(const Input<index_t>& tree, index_t vertices, index_t root) {
  check_vertices(vertices);
  const auto B = static_cast<index_t>(tree.shape(0));
  std::vector<index_t> order(as_size(B * vertices)), parent(as_size(B * vertices));
  groot::bfs({B, vertices}, view(tree), root, order, parent);
  return {to_numpy(std::move(order), {as_size(B), as_size(vertices)}),
          to_numpy(std::move(parent), {as_size(B), as_size(vertices)})};
}

template <class Array>
groot::ChannelShape channel_shape(const Array& x) {
  return {static_cast<index_t>(x.shape(0)), static_cast<index_t>(x.shape(1)), static_cast<index_t>(x.shape(2))};
}

template <class T>
Output<T> tree_scan(const Input<T>& x, const Input<T>& decay, const Input<index_t>& order,
                    const Input<index_t>& parent, const std::string& mode) {
  const auto shape = channel_shape(x);
  std::vector<T> y(x.size());
  groot::tree_scan_forward<T>(shape, view(x), view(decay), view(order), view(parent),
                              groot::parse_scan_mode(mode), y);
  return to_numpy(std::move(y), {x.shape(0), x.shape(1), x.shape(2)});
}

template <class T>
std::pair<Output<T>, Output<T>> tree_scan_backward(const Input<T>& grad_y, const Input<T>& x, const Input<T>& decay,
                                                   const Input<index_t>& order, const Input<index_t>& parent,
                                                   const std::string& mode) {
  const auto shape = channel_shape(x);
  std::vector<T> grad_x(x.size()), grad_decay(x.size());
  groot::tree_scan_backward<T>(shape, view(grad_y), view(x), view(decay), view(order), view(parent),
                               groot::parse_scan_mode(mode), grad_x, grad_decay);
  return {to_numpy(std::move(grad_x), {x.shape(0), x.shape(1), x.shape(2)}),
          to_numpy(std::move(grad_decay), {x.shape(0), x.shape(1), x.shape(2)})};
}

template <class T>
void bind_floating(nb::module_& m) {
  using namespace nb::literals;
  m.def("edge_weights", &edge_weights<T>, "features"_a.noconvert(), "edges"_a.noconvert(), "metric"_a);
  m.def("minimum_spanning_tree", &minimum_spanning_tree<T>, "edges"_a.noconvert(), "weights"_a.noconvert(),
        "num_vertices"_a);
  m.def("tree_scan", &tree_scan<T>, "x"_a.noconvert(), "decay"_a.noconvert(), "order"_a.noconvert(),
        "parent"_a.noconvert(), "mode"_a);
  m.def("tree_scan_backward", &tree_scan_backward<T>, "grad_y"_a.noconvert(), "x"_a.noconvert(),
        "decay"_a.noconvert(), "order"_a.noconvert(), "parent"_a.noconvert(), "mode"_a);
}

}  // namespace

NB_MODULE(_numpy, m) {
  using namespace nb::literals;
  m.doc() = "groot's core on NumPy arrays; use groot_core.numpy, which checks arguments first";
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const groot::InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.def("grid_edges", &grid_edges, "height"_a, "width"_a);
  m.def("sequence_edges", &sequence_edges, "length"_a, "window"_a);
  m.def("bfs", &bfs, "tree"_a.noconvert(), "num_vertices"_a, "root"_a);
  m.def("set_num_threads", &groot::set_num_threads, "n"_a);
  bind_floating<float>(m);
  bind_floating<double>(m);
}
