// How libgroot_torch was built (kept free of torch headers, so the Python module compiles fast).
#pragma once

namespace groot::torch {

// Whether this library carries the CUDA kernels.
bool built_with_cuda();

}  // namespace groot::torch
