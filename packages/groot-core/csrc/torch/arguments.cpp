#include "arguments.hpp"

#include <ATen/ops/empty.h>

#include <string>

namespace groot::adapter {
namespace {

void check_rank(const at::Tensor& t, const char* name, int64_t rank, const char* layout) {
  TORCH_CHECK_VALUE(t.dim() == rank, name, " must have shape ", layout, ", got ", t.dim(),
                    " dimensions ", t.sizes());
}

void check_floating(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(at::isFloatingType(t.scalar_type()), name,
                    " must be a floating-point tensor, got ", t.scalar_type());
}

void check_index(const at::Tensor& t, const char* name) {
  TORCH_CHECK_VALUE(!at::isFloatingType(t.scalar_type()) && !at::isComplexType(t.scalar_type()) &&
                        t.scalar_type() != at::kBool,
                    name, " must be an integer tensor of vertex ids, got ", t.scalar_type());
}

void check_device(const at::Tensor& t, const char* name, const at::Tensor& reference,
                  const char* reference_name) {
  TORCH_CHECK_VALUE(t.device() == reference.device(), name, " is on ", t.device(), " but ",
                    reference_name, " is on ", reference.device());
}

at::Tensor as_index(const at::Tensor& t) { return t.to(at::kLong).contiguous(); }

}  // namespace

at::ScalarType compute_type(at::ScalarType type) {
  return type == at::kDouble ? at::kDouble : at::kFloat;
}

EdgeWeightsArgs edge_weights_arguments(const at::Tensor& features, const at::Tensor& edges,
                                       c10::string_view metric) {
  check_rank(features, "features", 3, "(B, C, L)");
  check_floating(features, "features");
  check_index(edges, "edges");
  check_device(edges, "edges", features, "features");
  TORCH_CHECK_VALUE((edges.dim() == 2 || edges.dim() == 3) && edges.size(-1) == 2,
                    "edges must have shape (E, 2) or (B, E, 2), got ", edges.sizes());
  const bool shared = edges.dim() == 2;
  TORCH_CHECK_VALUE(shared || edges.size(0) == features.size(0), "edges has batch ",
                    edges.size(0), " but features has batch ", features.size(0));
  const GraphShape graph{features.size(0), features.size(2), edges.size(-2), shared};
  const Metric parsed = translate_errors([&] { return parse_metric(std::string(metric)); });
  const bool vertex_major = is_channels_last(features);
  return {graph, features.size(1), parsed, in_layout(features, vertex_major), as_index(edges),
          vertex_major ? FeatureLayout::vertex_major : FeatureLayout::channel_major};
}

SpanningTreeArgs spanning_tree_arguments(const at::Tensor& edges, const at::Tensor& weights,
                                         int64_t num_vertices) {
  check_rank(weights, "weights", 2, "(B, E)");
  check_floating(weights, "weights");
  check_index(edges, "edges");
  check_device(edges, "edges", weights, "weights");
  TORCH_CHECK_VALUE((edges.dim() == 2 || edges.dim() == 3) && edges.size(-1) == 2,
                    "edges must have shape (E, 2) or (B, E, 2), got ", edges.sizes());
  TORCH_CHECK_VALUE(edges.size(-2) == weights.size(1), "edges lists ", edges.size(-2),
                    " edges but weights has ", weights.size(1));
  const bool shared = edges.dim() == 2;
  TORCH_CHECK_VALUE(shared || edges.size(0) == weights.size(0), "edges has batch ",
                    edges.size(0), " but weights has batch ", weights.size(0));
  TORCH_CHECK_VALUE(num_vertices >= 1, "num_vertices must be at least 1, got ", num_vertices);
  const GraphShape graph{weights.size(0), num_vertices, weights.size(1), shared};
  return {graph, as_index(edges), weights.contiguous()};
}

BfsArgs bfs_arguments(const at::Tensor& tree, int64_t num_vertices, int64_t root) {
  check_index(tree, "tree");
  TORCH_CHECK_VALUE(num_vertices >= 1, "num_vertices must be at least 1, got ", num_vertices);
  TORCH_CHECK_VALUE(tree.dim() == 3 && tree.size(1) == num_vertices - 1 && tree.size(2) == 2,
                    "tree must have shape (B, num_vertices - 1, 2) = (B, ", num_vertices - 1,
                    ", 2), got ", tree.sizes());
  TORCH_CHECK_VALUE(root >= 0 && root < num_vertices, "root must be a vertex id in [0, ",
                    num_vertices, "), got ", root);
  return {{tree.size(0), num_vertices}, as_index(tree)};
}

bool is_channels_last(const at::Tensor& t) {
  return t.dim() == 3 && !t.is_contiguous() && t.transpose(1, 2).is_contiguous();
}

at::Tensor scan_output_like(const at::Tensor& x, at::ScalarType dtype) {
  const at::TensorOptions options = x.options().dtype(dtype);
  if (is_channels_last(x)) return at::empty({x.size(0), x.size(2), x.size(1)}, options).transpose(1, 2);
  return at::empty(x.sizes(), options);
}

at::Tensor in_layout(const at::Tensor& t, bool channels_last) {
  return channels_last ? t.transpose(1, 2).contiguous().transpose(1, 2) : t.contiguous();
}

ScanArgs scan_arguments(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                        const at::Tensor& parent, c10::string_view mode) {
  check_rank(x, "x", 3, "(B, D, L)");
  check_floating(x, "x");
  check_floating(decay, "decay");
  TORCH_CHECK_VALUE(decay.sizes() == x.sizes(), "decay must have the shape of x ", x.sizes(),
                    ", got ", decay.sizes());
  TORCH_CHECK_VALUE(decay.scalar_type() == x.scalar_type(), "decay must have the dtype of x (",
                    x.scalar_type(), "), got ", decay.scalar_type());
  TORCH_CHECK_VALUE(x.size(2) >= 1, "x must have at least one vertex (L >= 1), got shape ",
                    x.sizes());
  for (auto [t, name] : {std::pair{&order, "order"}, std::pair{&parent, "parent"}}) {
    check_index(*t, name);
    TORCH_CHECK_VALUE(t->dim() == 2 && t->size(0) == x.size(0) && t->size(1) == x.size(2), name,
                      " must have shape (B, L) = (", x.size(0), ", ", x.size(2), "), got ",
                      t->sizes());
    check_device(*t, name, x, "x");
  }
  check_device(decay, "decay", x, "x");
  const ScanMode parsed = translate_errors([&] { return parse_scan_mode(std::string(mode)); });
  const bool channels_last = is_channels_last(x);
  return {{x.size(0), x.size(1), x.size(2)}, parsed, channels_last, in_layout(x, channels_last),
          in_layout(decay, channels_last), as_index(order), as_index(parent)};
}

at::Tensor scan_gradient_argument(const at::Tensor& grad_y, const ScanArgs& args) {
  TORCH_CHECK_VALUE(grad_y.sizes() == args.x.sizes(), "grad_y must have the shape of x ",
                    args.x.sizes(), ", got ", grad_y.sizes());
  check_floating(grad_y, "grad_y");
  check_device(grad_y, "grad_y", args.x, "x");
  return in_layout(grad_y.to(args.x.scalar_type()), args.channels_last);
}

}  // namespace groot::adapter
