// CPU scan outputs come from a cache of freed blocks.
//
// glibc gives freed memory above its trim threshold back to the OS, so every call of a scan pays
// a page fault for each 4 KiB page of its fresh multi-megabyte outputs (y forward; grad_x and
// grad_decay backward): at (8, 64, 56×56) on a 2-core VM, 4 672 faults a forward + backward, about
// half its time. Freed outputs of at least 1 MiB wait here, up to a limit, for the next output of
// the same size, as PyTorch's caching allocator does for CUDA memory. The limit is set through
// groot::torch::set_cpu_output_cache_limit (groot/torch.hpp).
#pragma once

#include <cstddef>

#include <ATen/core/Tensor.h>

namespace groot::adapter {

// An uninitialised contiguous CPU tensor whose memory comes from the cache.
at::Tensor empty_cpu_output(at::IntArrayRef sizes, at::ScalarType dtype);

}  // namespace groot::adapter
