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

template <class Count, class Fill, class FillCuda>
at::Tensor make_edges(int64_t n, int64_t m, std::optional<at::Device> device, Count count, Fill fill,
                      FillCuda fill_cuda) {
  const index_t edges = translate_errors([&] { return count(n, m); });
  if (device && device->is_cuda()) {
#ifdef GROOT_WITH_CUDA
    return fill_cuda(n, m, *device);
#else
    TORCH_CHECK_VALUE(false, "groot was built without CUDA kernels; device ", *device, " is not available");
#endif
  }
  at::Tensor out = at::empty({edges, 2}, at::kLong);
  fill(n, m, mutable_view<index_t>(out));
  return device ? out.to(*device) : out;
}

at::Tensor grid_edges_any(int64_t height, int64_t width, std::optional<at::Device> device) {
  return make_edges(height, width, device, grid_edge_count, grid_edges, grid_edges_cuda);
}

at::Tensor sequence_edges_any(int64_t length, int64_t window, std::optional<at::Device> device) {
  return make_edges(length, window, device, sequence_edge_count, sequence_edges, sequence_edges_cuda);
}

}  // namespace

TORCH_LIBRARY_IMPL(groot, CompositeExplicitAutograd, m) {
  m.impl("grid_edges", &grid_edges_any);
  m.impl("sequence_edges", &sequence_edges_any);
}

}  // namespace groot::adapter
