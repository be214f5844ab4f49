// CUDA kernels of the groot operators: tensors in, core launches on the current stream, tensors
// out. Scratch memory comes from PyTorch's caching allocator, so the path is graph-capturable.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "arguments.hpp"
#include "factories.hpp"
#include "groot/cuda.hpp"
#include "groot/graph.hpp"

namespace groot::adapter {
namespace {

cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

at::Tensor workspace(std::size_t bytes, const at::Tensor& like) {
  return at::empty({static_cast<int64_t>(bytes)}, like.options().dtype(at::kByte));
}

// Runs a core call, turning its CudaError into a c10::Error that names the failing launch.
template <class Fn>
void launch(Fn&& fn) {
  try {
    fn();
  } catch (const groot::cuda::CudaError& error) {
    TORCH_CHECK(false, "groot CUDA kernel failed: ", error.what());
  }
}

// Storage type of the core for each tensor dtype (half types have CUDA's own names).
template <class T>
struct Device {
  using type = T;
};
template <>
struct Device<at::Half> {
  using type = __half;
};
template <>
struct Device<at::BFloat16> {
  using type = __nv_bfloat16;
};

template <class T>
auto device_ptr(const at::Tensor& t) {
  return reinterpret_cast<const typename Device<T>::type*>(t.const_data_ptr<T>());
}
template <class T>
auto device_ptr(at::Tensor& t) {
  return reinterpret_cast<typename Device<T>::type*>(t.mutable_data_ptr<T>());
}

at::Tensor edge_weights_cuda(const at::Tensor& features, const at::Tensor& edges, c10::string_view metric) {
  const auto args = edge_weights_arguments(features, edges, metric);
  const c10::cuda::CUDAGuard guard(features.device());
  // Reduced-precision features are read as they are; the weights come out in float32.
  const at::Tensor& input = args.features;
  at::Tensor weights =
      at::empty({args.graph.batch, args.graph.edges}, input.options().dtype(compute_type(input.scalar_type())));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "groot::edge_weights", [&] {
    using W = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    launch([&] {
      cuda::edge_weights(args.graph, args.channels, device_ptr<scalar_t>(input), args.edges.const_data_ptr<index_t>(),
                         args.metric, weights.mutable_data_ptr<W>(), current_stream(), args.layout);
    });
  });
  return weights;
}

at::Tensor minimum_spanning_tree_cuda(const at::Tensor& edges, const at::Tensor& weights, int64_t num_vertices) {
  const auto args = spanning_tree_arguments(edges, weights, num_vertices);
  const c10::cuda::CUDAGuard guard(weights.device());
  const at::Tensor input = args.weights.to(compute_type(weights.scalar_type()));
  at::Tensor tree = at::empty({args.graph.batch, num_vertices - 1, 2}, args.edges.options());
  at::Tensor scratch = workspace(cuda::minimum_spanning_tree_workspace_bytes(args.graph), tree);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "groot::minimum_spanning_tree", [&] {
    launch([&] {
      cuda::minimum_spanning_tree(args.graph, args.edges.const_data_ptr<index_t>(),
                                  input.const_data_ptr<scalar_t>(), tree.mutable_data_ptr<index_t>(),
                                  scratch.mutable_data_ptr(), current_stream());
    });
  });
  return tree;
}

std::tuple<at::Tensor, at::Tensor> bfs_cuda(const at::Tensor& tree, int64_t num_vertices, int64_t root) {
  const auto args = bfs_arguments(tree, num_vertices, root);
  const c10::cuda::CUDAGuard guard(tree.device());
  at::Tensor order = at::empty({args.shape.batch, num_vertices}, args.tree.options());
  at::Tensor parent = at::empty_like(order);
  at::Tensor scratch = workspace(cuda::bfs_workspace_bytes(args.shape), order);
  launch([&] {
    cuda::bfs(args.shape, args.tree.const_data_ptr<index_t>(), root, order.mutable_data_ptr<index_t>(),
              parent.mutable_data_ptr<index_t>(), scratch.mutable_data_ptr(), current_stream());
  });
  return {order, parent};
}

at::Tensor tree_scan_cuda(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                          const at::Tensor& parent, c10::string_view mode) {
  // float16/bfloat16 are read as they are and accumulated in float32.
  const auto args = scan_arguments(x, decay, order, parent, mode);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor y = scan_output_like(args.x, x.scalar_type());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "groot::tree_scan", [&] {
    using T = typename Device<scalar_t>::type;
    const bool cl = args.channels_last;
    const std::size_t bytes = cl ? cuda::tree_scan_channels_last_workspace_bytes<T>(args.shape, false)
                                 : cuda::tree_scan_workspace_bytes<T>(args.shape, false);
    at::Tensor scratch = workspace(bytes, y);
    const auto scan = cl ? cuda::tree_scan_channels_last_forward<T> : cuda::tree_scan_forward<T>;
    launch([&] {
      scan(args.shape, device_ptr<scalar_t>(args.x), device_ptr<scalar_t>(args.decay),
           args.order.const_data_ptr<index_t>(), args.parent.const_data_ptr<index_t>(), args.mode,
           device_ptr<scalar_t>(y), scratch.mutable_data_ptr(), current_stream());
    });
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor> tree_scan_backward_cuda(const at::Tensor& grad_y, const at::Tensor& x,
                                                           const at::Tensor& decay, const at::Tensor& order,
                                                           const at::Tensor& parent, c10::string_view mode) {
  const auto args = scan_arguments(x, decay, order, parent, mode);
  const at::Tensor grad = scan_gradient_argument(grad_y, args);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor grad_x = scan_output_like(args.x, x.scalar_type());
  at::Tensor grad_decay = scan_output_like(args.x, x.scalar_type());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "groot::tree_scan_backward", [&] {
    using T = typename Device<scalar_t>::type;
    const bool cl = args.channels_last;
    const std::size_t bytes = cl ? cuda::tree_scan_channels_last_workspace_bytes<T>(args.shape, true)
                                 : cuda::tree_scan_workspace_bytes<T>(args.shape, true);
    at::Tensor scratch = workspace(bytes, grad_x);
    const auto scan = cl ? cuda::tree_scan_channels_last_backward<T> : cuda::tree_scan_backward<T>;
    launch([&] {
      scan(args.shape, device_ptr<scalar_t>(grad), device_ptr<scalar_t>(args.x), device_ptr<scalar_t>(args.decay),
           args.order.const_data_ptr<index_t>(), args.parent.const_data_ptr<index_t>(), args.mode,
           device_ptr<scalar_t>(grad_x), device_ptr<scalar_t>(grad_decay), scratch.mutable_data_ptr(),
           current_stream());
    });
  });
  return {grad_x, grad_decay};
}

}  // namespace

at::Tensor grid_edges_cuda(int64_t height, int64_t width, at::Device device) {
  const c10::cuda::CUDAGuard guard(device);
  at::Tensor edges = at::empty({translate_errors([&] { return grid_edge_count(height, width); }), 2},
                               at::TensorOptions(device).dtype(at::kLong));
  launch([&] { cuda::grid_edges(height, width, edges.mutable_data_ptr<index_t>(), current_stream()); });
  return edges;
}

at::Tensor sequence_edges_cuda(int64_t length, int64_t window, at::Device device) {
  const c10::cuda::CUDAGuard guard(device);
  at::Tensor edges = at::empty({translate_errors([&] { return sequence_edge_count(length, window); }), 2},
                               at::TensorOptions(device).dtype(at::kLong));
  launch([&] { cuda::sequence_edges(length, window, edges.mutable_data_ptr<index_t>(), current_stream()); });
  return edges;
}

TORCH_LIBRARY_IMPL(groot, CUDA, m) {
  m.impl("edge_weights", &edge_weights_cuda);
  m.impl("minimum_spanning_tree", &minimum_spanning_tree_cuda);
  m.impl("bfs", &bfs_cuda);
  m.impl("tree_scan", &tree_scan_cuda);
  m.impl("tree_scan_backward", &tree_scan_backward_cuda);
}

}  // namespace groot::adapter
