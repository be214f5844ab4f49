// The edge-list factories. They take no tensor, so the dispatcher cannot pick a backend from
// their arguments: one composite kernel serves every device and fills CUDA tensors on the device
// (no host copy, so a CUDA graph can capture it).
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "arguments.hpp"
#include "factories.hpp"
#include "groot/graph.hpp"

namespace groot::adapter {
namespace {

using CudaFill = at::Tensor (*)(int64_t, int64_t, at::Device);
#ifdef GROOT_WITH_CUDA
constexpr CudaFill kGridEdgesCuda = &grid_edges_cuda;
constexpr CudaFill kSequenceEdgesCuda = &sequence_edges_cuda;
#else
constexpr CudaFill kGridEdgesCuda = nullptr;
constexpr CudaFill kSequenceEdgesCuda = nullptr;
#endif

template <class Count, class Fill>
at::Tensor make_edges(int64_t n, int64_t m, std::optional<at::Device> device, Count count, Fill fill,
                      CudaFill fill_cuda) {
  const index_t edges = translate_errors([&] { return count(n, m); });
  if (device && device->is_cuda()) {
    TORCH_CHECK_VALUE(fill_cuda != nullptr, "groot was built without CUDA kernels; device ", *device,
                      " is not available");
    return fill_cuda(n, m, *device);
  }
  at::Tensor out = at::empty({edges, 2}, at::kLong);
  fill(n, m, mutable_view<index_t>(out));
  return device ? out.to(*device) : out;
}

at::Tensor grid_edges_any(int64_t height, int64_t width, std::optional<at::Device> device) {
  return make_edges(height, width, device, grid_edge_count, grid_edges, kGridEdgesCuda);
}

at::Tensor sequence_edges_any(int64_t length, int64_t window, std::optional<at::Device> device) {
  return make_edges(length, window, device, sequence_edge_count, sequence_edges, kSequenceEdgesCuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(groot, CompositeExplicitAutograd, m) {
  m.impl("grid_edges", &grid_edges_any);
  m.impl("sequence_edges", &sequence_edges_any);
}

}  // namespace groot::adapter
