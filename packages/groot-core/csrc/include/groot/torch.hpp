// groot's operators on at::Tensor, for libtorch C++ applications (target groot::torch).
//
// Each function calls the registered torch.ops.groot operator through the dispatcher, so CPU and
// CUDA tensors both work. Autograd for the scan is registered from Python (groot_core.ops); C++
// callers compose tree_scan_backward themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "groot/torch_build.hpp"

namespace groot::torch {

at::Tensor grid_edges(int64_t height, int64_t width, std::optional<c10::Device> device = {});
at::Tensor sequence_edges(int64_t length, int64_t window, std::optional<c10::Device> device = {});
at::Tensor edge_weights(const at::Tensor& features, const at::Tensor& edges,
                        const std::string& metric = "cosine");
at::Tensor minimum_spanning_tree(const at::Tensor& edges, const at::Tensor& weights,
                                 int64_t num_vertices);
// Returns (order, parent).
std::tuple<at::Tensor, at::Tensor> bfs(const at::Tensor& tree, int64_t num_vertices,
                                       int64_t root = 0);
at::Tensor tree_scan(const at::Tensor& x, const at::Tensor& decay, const at::Tensor& order,
                     const at::Tensor& parent, const std::string& mode = "all");
// Returns (grad_x, grad_decay).
std::tuple<at::Tensor, at::Tensor> tree_scan_backward(const at::Tensor& grad_y,
                                                      const at::Tensor& x,
                                                      const at::Tensor& decay,
                                                      const at::Tensor& order,
                                                      const at::Tensor& parent,
                                                      const std::string& mode = "all");

// The CPU scan's outputs of 1 MiB or more come from a cache of freed outputs, so that repeated
// calls do not fault their pages in again. Bytes it may keep (default 256 MiB; 0 turns it off,
// and lowering the limit frees what exceeds it), bytes it keeps now, and the limit.
void set_cpu_output_cache_limit(std::size_t bytes);
std::size_t cpu_output_cache_bytes();
std::size_t cpu_output_cache_limit();

}  // namespace groot::torch
