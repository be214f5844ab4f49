// The operator schemas (once, here) and the C++ entry points that call them.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "groot/torch.hpp"

TORCH_LIBRARY(groot, m) {
  m.def("grid_edges(SymInt height, SymInt width, *, Device? device=None) -> Tensor");
  m.def("sequence_edges(SymInt length, int window, *, Device? device=None) -> Tensor");
  m.def("edge_weights(Tensor features, Tensor edges, str metric) -> Tensor");
  m.def("minimum_spanning_tree(Tensor edges, Tensor weights, SymInt num_vertices) -> Tensor");
  m.def("bfs(Tensor tree, SymInt num_vertices, SymInt root) -> (Tensor, Tensor)");
  m.def("tree_scan(Tensor x, Tensor decay, Tensor order, Tensor parent, str mode) -> Tensor");
  m.def(
      "tree_scan_backward(Tensor grad_y, Tensor x, Tensor decay, Tensor order, Tensor parent, "
      "str mode) -> (Tensor, Tensor)");
}

namespace groot::torch {
namespace {

template <class Signature>
auto op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

bool built_with_cuda() {
#ifdef GROOT_WITH_CUDA
  return true;
#else
  return false;
#endif
}

at::Tensor grid_edges(int64_t height, int64_t width, std::optional<c10::Device> device) {
  static auto handle = op<at::Tensor(int64_t, int64_t, std::optional<c10::Device>)>("groot::grid_edges");
  return handle.call(height, width, device);
}

at::Tensor sequence_edges(int64_t length, int64_t window, std::optional<c10::Device> device) {
  static auto handle = op<at::Tensor(int64_t, int64_t, std::optional<c10::Device>)>("groot::sequence_edges");
  return handle.call(length, window, device);
}

at::Tensor edge_weights(const at::Tensor& features, const at::Tensor& edges, const std::string& metric) {
  static auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, c10::string_view)>("groot::edge_weights");
  return handle.call(features, edges, metric);
}

at::Tensor minimum_spanning_tree(const at::Tensor& edges, const at::Tensor& weights, int64_t num_vertices) {
  static auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t)>("groot::minimum_spanning_tree");
  return handle.call(edges, weights, num_vertices);
}

std::tuple<at::Tensor, at::Tensor> bfs(const at::Tensor& tree, int64_t num_vertices, int64_t root) {
  static auto handle = op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, int64_t, int64_t)>("groot::bfs");
  return handle.call(tree, num_vertices, root);
}

at::Tensor tree_scan(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                     const at::Tensor& parent, const std::string& mode) {
  static auto handle = op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                     const at::Tensor&, c10::string_view)>("groot::tree_scan");
  return handle.call(x, decay, order, parent, mode);
}

std::tuple<at::Tensor, at::Tensor> tree_scan_backward(const at::Tensor& grad_y, const at::Tensor& x,
                                                      const at::Tensor& decay, const at::Tensor& order,
                                                      const at::Tensor& parent, const std::string& mode) {
  static auto handle =
      op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                            const at::Tensor&, const at::Tensor&, c10::string_view)>(
          "groot::tree_scan_backward");
  return handle.call(grad_y, x, decay, order, parent, mode);
}

}  // namespace groot::torch
