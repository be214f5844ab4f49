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

// Tensors in the *Args structs are contiguous unless a layout field says otherwise; ids are int64,
// values keep their dtype.
// Reduced-precision values are computed in float32 (float64 stays float64).
at::ScalarType compute_type(at::ScalarType type);

struct EdgeWeightsArgs {
  GraphShape graph;
  index_t channels;
  Metric metric;
  at::Tensor features;  // in `layout`: channels-last (B, C, L) features are read as they are
  at::Tensor edges;
  FeatureLayout layout;
};
EdgeWeightsArgs edge_weights_arguments(const at::Tensor& features, const at::Tensor& edges,
                                       c10::string_view metric);

struct SpanningTreeArgs {
  GraphShape graph;
  at::Tensor edges;
  at::Tensor weights;
};
SpanningTreeArgs spanning_tree_arguments(const at::Tensor& edges, const at::Tensor& weights,
                                         int64_t num_vertices);

struct BfsArgs {
  TreeShape shape;
  at::Tensor tree;
};
BfsArgs bfs_arguments(const at::Tensor& tree, int64_t num_vertices, int64_t root);

// A (B, D, L) tensor whose memory is (B, L, D), channels contiguous: x.transpose(1, 2) of a
// token-major tensor. Scan outputs take this layout when x has it (see scan_output_like).
bool is_channels_last(const at::Tensor& t);
// t in the given memory layout (a copy only when it is not already so).
at::Tensor in_layout(const at::Tensor& t, bool channels_last);
// An uninitialised scan output of x's shape: channels-last when x is, else contiguous.
at::Tensor scan_output_like(const at::Tensor& x, at::ScalarType dtype);

struct ScanArgs {
  ChannelShape shape;
  ScanMode mode;
  bool channels_last;  // x and decay below are (B, L, D) in memory, else (B, D, L) contiguous
  at::Tensor x, decay, order, parent;
};
// Channels-last inputs stay so (decay is made to match x); for every other layout, x and decay
// come contiguous.
ScanArgs scan_arguments(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                        const at::Tensor& parent, c10::string_view mode);
// grad_y checked against x and returned in the layout of args.x, in x's dtype.
at::Tensor scan_gradient_argument(const at::Tensor& grad_y, const ScanArgs& args);

}  // namespace groot::adapter
