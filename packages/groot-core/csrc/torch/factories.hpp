// Edge-list factories on CUDA devices (defined in cuda.cpp, only in CUDA builds).
#pragma once

#include <ATen/core/Tensor.h>

namespace groot::adapter {

at::Tensor grid_edges_cuda(int64_t height, int64_t width, at::Device device);
at::Tensor sequence_edges_cuda(int64_t length, int64_t window, at::Device device);

}  // namespace groot::adapter
