// The core's CUDA entry points: device pointers and a stream in, nothing allocated, no host
// synchronisation. Available when groot is built with CUDA (GROOT_WITH_CUDA).
//
// Scratch memory comes from the caller: each function that needs some has a *_workspace_bytes
// companion, so frameworks can hand out memory from their own allocators (and CUDA graphs can
// capture the whole path).
//
// Unlike the CPU functions, these do not inspect the data for errors (that would need a host
// round trip): vertex ids out of range are ignored, and a disconnected graph or a schedule that
// is not a BFS yields unspecified values (missing tree edges are written as -1). They never
// read or write out of bounds and always terminate.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <stdexcept>

#include "groot/types.hpp"

namespace groot::cuda {

// A failed CUDA call or launch.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void grid_edges(index_t height, index_t width, index_t* edges, cudaStream_t stream);
void sequence_edges(index_t length, index_t window, index_t* edges, cudaStream_t stream);

// T: float, double, __half or __nv_bfloat16 features; weights in W = double for double, else float.
template <class T, class W>
void edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                  Metric metric, W* weights, cudaStream_t stream,
                  FeatureLayout layout = FeatureLayout::channel_major);

// T: float or double.
std::size_t minimum_spanning_tree_workspace_bytes(GraphShape shape);
template <class T>
void minimum_spanning_tree(GraphShape shape, const index_t* edges, const T* weights,
                           index_t* tree, void* workspace, cudaStream_t stream);

std::size_t bfs_workspace_bytes(TreeShape shape);
void bfs(TreeShape shape, const index_t* tree, index_t root, index_t* order, index_t* parent,
         void* workspace, cudaStream_t stream);

// T: float, double, __half or __nv_bfloat16; accumulates in float (double for double).
template <class T>
std::size_t tree_scan_workspace_bytes(ChannelShape shape, bool backward);
template <class T>
void tree_scan_forward(ChannelShape shape, const T* x, const T* decay, const index_t* order,
                       const index_t* parent, ScanMode mode, T* y, void* workspace,
                       cudaStream_t stream);
template <class T>
void tree_scan_backward(ChannelShape shape, const T* grad_y, const T* x, const T* decay,
                        const index_t* order, const index_t* parent, ScanMode mode, T* grad_x,
                        T* grad_decay, void* workspace, cudaStream_t stream);

// The same scan over rows laid out (B, L, D), channels contiguous (what a token-major model holds
// as x.transpose(1, 2)): coalesced without shared memory, so every channel is in flight at once;
// trees of up to ~128 vertices are walked a channel a thread in shared memory instead. The
// workspace may be 0 bytes.
template <class T>
std::size_t tree_scan_channels_last_workspace_bytes(ChannelShape shape, bool backward);
template <class T>
void tree_scan_channels_last_forward(ChannelShape shape, const T* x, const T* decay, const index_t* order,
                                     const index_t* parent, ScanMode mode, T* y, void* workspace,
                                     cudaStream_t stream);
template <class T>
void tree_scan_channels_last_backward(ChannelShape shape, const T* grad_y, const T* x, const T* decay,
                                      const index_t* order, const index_t* parent, ScanMode mode,
                                      T* grad_x, T* grad_decay, void* workspace, cudaStream_t stream);

}  // namespace groot::cuda
