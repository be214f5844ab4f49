// Edge lists and edge weights on the device.
#include "common.cuh"

namespace groot::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void grid_edges_kernel(index_t height, index_t width, index_t* edges) {
  const index_t vertical = (height - 1) * width;
  const index_t count = vertical + height * (width - 1);
  for (index_t e = blockIdx.x * index_t(blockDim.x) + threadIdx.x; e < count;
       e += index_t(gridDim.x) * blockDim.x) {
    index_t u, v;
    if (e < vertical) {
      u = e;
      v = e + width;
    } else {
      const index_t r = (e - vertical) / (width - 1), c = (e - vertical) % (width - 1);
      u = r * width + c;
      v = u + 1;
    }
    edges[2 * e] = u;
    edges[2 * e + 1] = v;
  }
}

__global__ void sequence_edges_kernel(index_t length, index_t window, index_t* edges) {
  // Group j (offset j) starts after groups 1..j-1, which hold (length - i) edges each.
  for (index_t t = blockIdx.x * index_t(blockDim.x) + threadIdx.x; t < length;
       t += index_t(gridDim.x) * blockDim.x) {
    index_t group_start = 0;
    for (index_t j = 1; j <= window && j < length; ++j) {
      if (t >= j) {
        const index_t e = group_start + (t - j);
        edges[2 * e] = t - j;
        edges[2 * e + 1] = t;
      }
      group_start += length - j;
    }
  }
}

// Feature reductions (norms, edge dissimilarities) split the channels of each item (vertex or
// edge) over several threads — deep stages have few vertices and many channels — and add the
// slices' partial sums in a fixed order, so results do not depend on scheduling. Which threads
// share an item follows the layout, so that a warp's loads are coalesced: over channel-major
// features a warp takes 32 items (consecutive vertices) of one channel and a block 8 channel
// slices; over vertex-major ones a warp takes 32 consecutive channels of one item, a block 8 items.
template <FeatureLayout layout>
struct Split {
  static constexpr bool by_vertex = layout == FeatureLayout::vertex_major;
  static constexpr int items = by_vertex ? kThreads / 32 : 32;  // per block
  static constexpr int slices = kThreads / items;                // per item
  __device__ static int item() { return by_vertex ? threadIdx.x / 32 : threadIdx.x % 32; }
  __device__ static int slice() { return by_vertex ? threadIdx.x % 32 : threadIdx.x / 32; }
  // Offsets of vertex v and of channel c within one sample of C channels and L vertices.
  __device__ static index_t vertex_offset(index_t v, index_t C) { return by_vertex ? v * C : v; }
  __device__ static index_t channel_offset(index_t c, index_t L) { return by_vertex ? c : c * L; }

  // The item's total of every slice's partial sum (each of its threads gets it).
  template <class W>
  __device__ static W sum_slices(W partial, W* shared) {
    shared[slice() * items + item()] = partial;
    __syncthreads();
    W total = 0;
    for (int s = 0; s < slices; ++s) total += shared[s * items + item()];
    return total;
  }
};

template <class S, class T, class W>
__global__ void vertex_norms_kernel(index_t batch, index_t channels, index_t vertices, const T* features,
                                    W* norms) {
  __shared__ W partials[kThreads];
  const index_t tiles = (vertices + S::items - 1) / S::items;
  const index_t b = blockIdx.x / tiles, v = (blockIdx.x % tiles) * S::items + S::item();
  W sum = 0;
  if (v < vertices) {
    const T* f = features + b * channels * vertices + S::vertex_offset(v, channels);
    for (index_t c = S::slice(); c < channels; c += S::slices) {
      const W value = detail::load_as<W>(f + S::channel_offset(c, vertices));
      sum += value * value;
    }
  }
  const W total = S::sum_slices(sum, partials);
  if (v < vertices && S::slice() == 0) norms[b * vertices + v] = max(sqrt(total), W(1e-12));
}

template <class S, class T, class W>
__global__ void edge_weights_kernel(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                                    Metric metric, const W* norms, W* weights) {
  __shared__ W partials[kThreads];
  const index_t L = shape.vertices, tiles = (shape.edges + S::items - 1) / S::items;
  const index_t b = blockIdx.x / tiles, e = (blockIdx.x % tiles) * S::items + S::item();
  index_t u = -1, v = -1;
  if (e < shape.edges) {
    const index_t* pair = edges + (shape.shared_edges ? 0 : b * shape.edges * 2) + 2 * e;
    u = pair[0];
    v = pair[1];
  }
  const bool valid = u >= 0 && u < L && v >= 0 && v < L;  // ids out of range: weight 0
  W sum = 0;
  if (valid) {
    const T* fu = features + b * channels * L + S::vertex_offset(u, channels);
    const T* fv = features + b * channels * L + S::vertex_offset(v, channels);
    for (index_t c = S::slice(); c < channels; c += S::slices) {
      const index_t at = S::channel_offset(c, L);
      const W a = detail::load_as<W>(fu + at), z = detail::load_as<W>(fv + at);
      sum += metric == Metric::cosine ? a * z : metric == Metric::l1 ? abs(a - z) : (a - z) * (a - z);
    }
  }
  const W total = S::sum_slices(sum, partials);
  if (e < shape.edges && S::slice() == 0) {
    W weight = 0;
    if (valid) weight = metric == Metric::cosine ? W(1) - total / (norms[b * L + u] * norms[b * L + v]) : total;
    weights[b * shape.edges + e] = weight;
  }
}

template <class S, class T, class W>
void launch_edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                         Metric metric, W* norms, W* weights, cudaStream_t stream) {
  if (metric == Metric::cosine) {
    const index_t tiles = (shape.vertices + S::items - 1) / S::items;
    vertex_norms_kernel<S><<<static_cast<unsigned>(shape.batch * tiles), kThreads, 0, stream>>>(
        shape.batch, channels, shape.vertices, features, norms);
    detail::check_launch("vertex_norms_kernel");
  }
  const index_t tiles = (shape.edges + S::items - 1) / S::items;
  edge_weights_kernel<S><<<static_cast<unsigned>(shape.batch * tiles), kThreads, 0, stream>>>(
      shape, channels, features, edges, metric, norms, weights);
  detail::check_launch("edge_weights_kernel");
}

unsigned grid_for(index_t n) {
  return static_cast<unsigned>(std::min<index_t>(detail::blocks_for(n, kThreads), 65535));
}

}  // namespace

void grid_edges(index_t height, index_t width, index_t* edges, cudaStream_t stream) {
  const index_t count = height > 0 && width > 0 ? (height - 1) * width + height * (width - 1) : 0;
  if (count == 0) return;
  grid_edges_kernel<<<grid_for(count), kThreads, 0, stream>>>(height, width, edges);
  detail::check_launch("grid_edges_kernel");
}

void sequence_edges(index_t length, index_t window, index_t* edges, cudaStream_t stream) {
  if (length < 2) return;
  sequence_edges_kernel<<<grid_for(length), kThreads, 0, stream>>>(length, window, edges);
  detail::check_launch("sequence_edges_kernel");
}

std::size_t edge_weights_workspace_bytes(GraphShape shape) {
  detail::WorkspaceLayout layout;
  layout.take<double>(static_cast<std::size_t>(shape.batch * shape.vertices));
  return layout.bytes();
}

template <class T, class W>
void edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                  Metric metric, W* weights, void* workspace, cudaStream_t stream, FeatureLayout layout) {
  if (shape.batch * shape.edges == 0) return;
  detail::WorkspaceLayout scratch(workspace);
  W* norms = scratch.take<W>(static_cast<std::size_t>(shape.batch * shape.vertices));
  if (layout == FeatureLayout::vertex_major)
    launch_edge_weights<Split<FeatureLayout::vertex_major>>(shape, channels, features, edges, metric, norms, weights,
                                                            stream);
  else
    launch_edge_weights<Split<FeatureLayout::channel_major>>(shape, channels, features, edges, metric, norms,
                                                             weights, stream);
}

#define GROOT_INSTANTIATE(T, W)                                                                                    \
  template void edge_weights<T, W>(GraphShape, index_t, const T*, const index_t*, Metric, W*, void*, cudaStream_t, \
                                   FeatureLayout);
GROOT_INSTANTIATE(float, float)
GROOT_INSTANTIATE(double, double)
GROOT_INSTANTIATE(__half, float)
GROOT_INSTANTIATE(__nv_bfloat16, float)
#undef GROOT_INSTANTIATE

}  // namespace groot::cuda
