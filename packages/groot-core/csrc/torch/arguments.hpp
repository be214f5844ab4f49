// Validation of operator arguments, shared by the CPU and CUDA kernels: one checker, messages
// that name the argument, raised as ValueError in Python.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include "groot/error.hpp"
#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot::adapter {

// Runs `fn`, turning the core's InvalidArgument into c10::ValueError (Python ValueError).
template <class Fn>
decltype(auto) translate_errors(Fn&& fn) {
  try {
    return fn();
  } catch (const InvalidArgument& error) {
    TORCH_CHECK_VALUE(false, error.what());
  }
}

template <class T>
span<const T> view(const at::Tensor& t) {
  return {t.const_data_ptr<T>(), static_cast<std::size_t>(t.numel())};
}

template <class T>
span<T> mutable_view(at::Tensor& t) {
  return {t.mutable_data_ptr<T>(), static_cast<std::size_t>(t.numel())};
}

struct EdgeWeightsArgs {
  GraphShape graph;
  index_t channels;
  Metric metric;
  at::Tensor features;  // contiguous, float32 or float64
  at::Tensor edges;     // contiguous int64
};
EdgeWeightsArgs edge_weights_arguments(const at::Tensor& features, const at::Tensor& edges,
                                       c10::string_view metric);

struct SpanningTreeArgs {
  GraphShape graph;
  at::Tensor edges;    // contiguous int64
  at::Tensor weights;  // contiguous, float32 or float64
};
SpanningTreeArgs spanning_tree_arguments(const at::Tensor& edges, const at::Tensor& weights,
                                         int64_t num_vertices);

struct BfsArgs {
  TreeShape shape;
  at::Tensor tree;  // contiguous int64
};
BfsArgs bfs_arguments(const at::Tensor& tree, int64_t num_vertices, int64_t root);

struct ScanArgs {
  ChannelShape shape;
  ScanMode mode;
  at::ScalarType compute_type;  // float32 for float16/bfloat16/float32 inputs, else float64
  at::Tensor x, decay, order, parent;  // contiguous; x and decay in compute_type
};
// `grad_y`, when given, is checked like x and converted with it.
ScanArgs scan_arguments(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                        const at::Tensor& parent, c10::string_view mode);
at::Tensor scan_gradient_argument(const at::Tensor& grad_y, const ScanArgs& args);

}  // namespace groot::adapter
