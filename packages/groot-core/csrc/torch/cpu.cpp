// CPU kernels of the groot operators: tensors in, core calls, tensors out.
#include <ATen/Config.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "arguments.hpp"
#include "output_cache.hpp"
#include "groot/groot.hpp"

namespace groot::adapter {
namespace {

// The core's CPU loops follow torch.set_num_threads, and run on PyTorch's intra-op pool rather
// than on threads of their own that would take turns with its spinning ones (groot/parallel.hpp).
// Under the OpenMP backend at::parallel_for is parallel only where this file was compiled with
// OpenMP (CMakeLists.txt); without, the core keeps its own threads.
void use_torch_threads() { set_num_threads(at::get_num_threads()); }

#if !AT_PARALLEL_OPENMP || defined(_OPENMP)
const bool runs_on_torch_pool = [] {
  set_parallel_runner([](index_t n, index_t workers, const ParallelBody& body) {
    at::parallel_for(0, n, (n + workers - 1) / workers,
                     [&](int64_t begin, int64_t end) { body(begin, end); });
  });
  return true;
}();
#endif

// Calls fn(T{}) with T = double for float64, else float.
template <class Fn>
decltype(auto) dispatch_float(at::ScalarType type, Fn&& fn) {
  if (type == at::kDouble) return fn(double{});
  return fn(float{});
}

// The core reads channels-last (B, D, L) views, (B, L, D) arrays in memory, as they are: the
// vertex-major layout, which it loads a vector of channels at a time with no transpose.
FeatureLayout scan_layout(const ScanArgs& args) {
  return args.channels_last ? FeatureLayout::vertex_major : FeatureLayout::channel_major;
}

// A scan input in the compute type, in the layout of the call (a no-op where both already hold).
at::Tensor scan_input(const at::Tensor& t, at::ScalarType compute, const ScanArgs& args) {
  return in_layout(t.to(compute), args.channels_last);
}

// An uninitialised scan result in the compute type and the layout of the call.
at::Tensor empty_scan_result(const ScanArgs& args, at::ScalarType compute) {
  const ChannelShape s = args.shape;
  if (!args.channels_last) return empty_cpu_output({s.batch, s.channels, s.vertices}, compute);
  return empty_cpu_output({s.batch, s.vertices, s.channels}, compute).transpose(1, 2);
}

// A scan result as the op returns it, in x's dtype; its layout, dense either way, is kept.
at::Tensor as_scan_output(const at::Tensor& result, const at::Tensor& x) {
  return result.to(x.scalar_type());
}

at::Tensor edge_weights_cpu(const at::Tensor& features, const at::Tensor& edges,
                            c10::string_view metric) {
  const auto args = edge_weights_arguments(features, edges, metric);
  use_torch_threads();
  const bool vertex_major = args.layout == FeatureLayout::vertex_major;
  const at::Tensor input = in_layout(args.features.to(compute_type(features.scalar_type())), vertex_major);
  at::Tensor weights = at::empty({args.graph.batch, args.graph.edges}, input.options());
  dispatch_float(input.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    translate_errors([&] {
      edge_weights<T>(args.graph, args.channels, view<T>(input), view<index_t>(args.edges),
                      args.metric, mutable_view<T>(weights), args.layout);
    });
  });
  return weights;
}

at::Tensor minimum_spanning_tree_cpu(const at::Tensor& edges, const at::Tensor& weights,
                                     int64_t num_vertices) {
  const auto args = spanning_tree_arguments(edges, weights, num_vertices);
  use_torch_threads();
  const at::Tensor input = args.weights.to(compute_type(weights.scalar_type()));
  at::Tensor tree = at::empty({args.graph.batch, num_vertices - 1, 2}, at::kLong);
  dispatch_float(input.scalar_type(), [&](auto zero) {
    using T = decltype(zero);
    translate_errors([&] {
      minimum_spanning_tree<T>(args.graph, view<index_t>(args.edges), view<T>(input),
                               mutable_view<index_t>(tree));
    });
  });
  return tree;
}

std::tuple<at::Tensor, at::Tensor> bfs_cpu(const at::Tensor& tree, int64_t num_vertices,
                                           int64_t root) {
  const auto args = bfs_arguments(tree, num_vertices, root);
  use_torch_threads();
  at::Tensor order = at::empty({args.shape.batch, num_vertices}, at::kLong);
  at::Tensor parent = at::empty_like(order);
  translate_errors([&] {
    bfs(args.shape, view<index_t>(args.tree), root, mutable_view<index_t>(order),
        mutable_view<index_t>(parent));
  });
  return {order, parent};
}

at::Tensor tree_scan_cpu(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                         const at::Tensor& parent, c10::string_view mode) {
  const auto args = scan_arguments(x, decay, order, parent, mode);
  use_torch_threads();
  const at::ScalarType compute = compute_type(x.scalar_type());
  const at::Tensor x_in = scan_input(args.x, compute, args);
  const at::Tensor decay_in = scan_input(args.decay, compute, args);
  at::Tensor y = empty_scan_result(args, compute);
  dispatch_float(compute, [&](auto zero) {
    using T = decltype(zero);
    translate_errors([&] {
      tree_scan_forward<T>(args.shape, view<T>(x_in), view<T>(decay_in),
                           view<index_t>(args.order), view<index_t>(args.parent), args.mode,
                           mutable_view<T>(y), scan_layout(args));
    });
  });
  return as_scan_output(y, x);
}

std::tuple<at::Tensor, at::Tensor> tree_scan_backward_cpu(const at::Tensor& grad_y,
                                                          const at::Tensor& x,
                                                          const at::Tensor& decay,
                                                          const at::Tensor& order,
                                                          const at::Tensor& parent,
                                                          c10::string_view mode) {
  const auto args = scan_arguments(x, decay, order, parent, mode);
  use_torch_threads();
  const at::ScalarType compute = compute_type(x.scalar_type());
  const at::Tensor grad = scan_input(scan_gradient_argument(grad_y, args), compute, args);
  const at::Tensor x_in = scan_input(args.x, compute, args);
  const at::Tensor decay_in = scan_input(args.decay, compute, args);
  at::Tensor grad_x = empty_scan_result(args, compute);
  at::Tensor grad_decay = empty_scan_result(args, compute);
  dispatch_float(compute, [&](auto zero) {
    using T = decltype(zero);
    translate_errors([&] {
      tree_scan_backward<T>(args.shape, view<T>(grad), view<T>(x_in), view<T>(decay_in),
                            view<index_t>(args.order), view<index_t>(args.parent), args.mode,
                            mutable_view<T>(grad_x), mutable_view<T>(grad_decay),
                            scan_layout(args));
    });
  });
  return {as_scan_output(grad_x, x), as_scan_output(grad_decay, x)};
}

}  // namespace

TORCH_LIBRARY_IMPL(groot, CPU, m) {
  m.impl("edge_weights", &edge_weights_cpu);
  m.impl("minimum_spanning_tree", &minimum_spanning_tree_cpu);
  m.impl("bfs", &bfs_cpu);
  m.impl("tree_scan", &tree_scan_cpu);
  m.impl("tree_scan_backward", &tree_scan_backward_cpu);
}

}  // namespace groot::adapter
