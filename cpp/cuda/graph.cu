// Edge lists and edge weights on the device.
#include <cstdint>

#include "common.cuh"
#include "lane_vector.cuh"

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

// The edge-weight reductions share each item's (edge's) channels out over several lanes, since
// deep stages have few vertices and many channels, and add the lanes' partial sums in a fixed
// order, so results do not depend on scheduling. Which lanes share an item follows the layout,
// so that loads are coalesced.

// Channel-major features: a warp takes 32 items (consecutive edges) of one channel, the block's
// 8 warps every 8th channel, and their partial sums meet in shared memory.
struct ChannelMajor {
  static constexpr int items = 32;                // per block
  static constexpr int lanes = kThreads / items;  // per item
  static constexpr int width = 1;                 // channels a lane loads at once
  __device__ static int item() { return threadIdx.x % 32; }
  __device__ static int lane() { return threadIdx.x / 32; }
  // Offset of vertex v in one sample of C channels and L vertices, and from one channel to the next.
  __device__ static index_t vertex_offset(index_t v, index_t) { return v; }
  __device__ static index_t channel_stride(index_t L) { return L; }
  // The item's total of its lanes' partial sums (each lane gets it). Called by the whole block.
  template <class W>
  __device__ static W total(W partial) {
    __shared__ W partials[kThreads];
    partials[threadIdx.x] = partial;  // lane() * items + item()
    __syncthreads();
    W sum = 0;
    for (int s = 0; s < lanes; ++s) sum += partials[s * items + item()];
    __syncthreads();  // read by all before a next call writes
    return sum;
  }
};

// Vertex-major (channels-last) features: G neighbouring lanes of a warp take one item, each
// loading V consecutive channels at once, and sum by shuffles. A butterfly gives every lane the
// same bits, since each of its additions is commutative.
template <int G, int V>
struct VertexMajor {
  static_assert(G > 0 && 32 % G == 0, "an item's lanes lie in one warp");
  static constexpr int items = kThreads / G;
  static constexpr int lanes = G;
  static constexpr int width = V;
  __device__ static int item() { return threadIdx.x / G; }
  __device__ static int lane() { return threadIdx.x % G; }
  __device__ static index_t vertex_offset(index_t v, index_t C) { return v * C; }
  __device__ static index_t channel_stride(index_t) { return 1; }
  template <class W>
  __device__ static W total(W partial) {
#pragma unroll
    for (int offset = G / 2; offset > 0; offset /= 2) partial += __shfl_xor_sync(0xFFFFFFFFu, partial, offset);
    return partial;
  }
};

// Calls visit(a_c, z_c) for the lane's share of the channels c of the items at a and z.
template <class Split, class W, class T, class Visit>
__device__ void visit_lane_channels(const T* a, const T* z, index_t channels, index_t stride, Visit visit) {
  constexpr int V = Split::width;
  for (index_t c = index_t(Split::lane()) * V; c < channels; c += index_t(Split::lanes) * V) {
    const Vec<W, V> x = load_vec<W, V>(a + c * stride), y = load_vec<W, V>(z + c * stride);
#pragma unroll
    for (int j = 0; j < V; ++j) visit(x.v[j], y.v[j]);
  }
}

// A cosine weight's norm: sqrt of the summed squares, kept off zero.
template <class W>
__device__ W vertex_norm(W squares) {
  return max(sqrt(squares), W(1e-12));
}

// Each edge's lanes sum its dissimilarity terms, and for the cosine also both ends' squares: the
// norms come from the rows the dot product loads anyway, in the same order a kernel of vertex
// norms summed them. That kernel, launched first, cost more than the sums: H200, batch 1, fp16
// channels-last, µs a call for both against the one, 160 x 200x336 19.7 -> 15.5, 320 x 100x168
// 9.3 -> 6.8, 640 x 50x84 7.5 -> 5.7, 1280 x 25x42 4.7 -> 3.1 (l2, one kernel throughout: 13.8,
// 6.7, 5.1, 3.0).
template <class Split, class T, class W>
__global__ void edge_weights_kernel(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                                    Metric metric, W* weights) {
  const index_t L = shape.vertices, tiles = (shape.edges + Split::items - 1) / Split::items;
  const index_t b = blockIdx.x / tiles, e = (blockIdx.x % tiles) * Split::items + Split::item();
  index_t u = -1, v = -1;
  if (e < shape.edges) {
    const index_t* pair = edges + (shape.shared_edges ? 0 : b * shape.edges * 2) + 2 * e;
    u = pair[0];
    v = pair[1];
  }
  const bool valid = u >= 0 && u < L && v >= 0 && v < L;  // ids out of range: weight 0
  const bool cosine = metric == Metric::cosine;
  W sum = 0, squares_u = 0, squares_v = 0;
  if (valid) {
    const T* sample = features + b * channels * L;
    visit_lane_channels<Split, W>(sample + Split::vertex_offset(u, channels),
                                  sample + Split::vertex_offset(v, channels), channels, Split::channel_stride(L),
                                  [&](W a, W z) {
                                    if (cosine) {
                                      sum += a * z;
                                      squares_u += a * a;
                                      squares_v += z * z;
                                    } else {
                                      sum += metric == Metric::l1 ? abs(a - z) : (a - z) * (a - z);
                                    }
                                  });
  }
  // The metric is the same for the whole block, as Split::total's barriers ask.
  const W total = Split::total(sum);
  const W norm_product =
      cosine ? vertex_norm(Split::total(squares_u)) * vertex_norm(Split::total(squares_v)) : W(1);
  if (e < shape.edges && Split::lane() == 0) {
    W weight = 0;
    if (valid) weight = cosine ? W(1) - total / norm_product : total;
    weights[b * shape.edges + e] = weight;
  }
}

template <class Split, class T, class W>
void launch_edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                         Metric metric, W* weights, cudaStream_t stream) {
  const index_t tiles = (shape.edges + Split::items - 1) / Split::items;
  edge_weights_kernel<Split><<<static_cast<unsigned>(shape.batch * tiles), kThreads, 0, stream>>>(
      shape, channels, features, edges, metric, weights);
  detail::check_launch("edge_weights_kernel");
}

// Vertex-major rows are read 16 bytes a lane where every row starts on such a boundary; a group of
// 8 lanes takes an item whose channels are at most 64 such loads, 32 lanes a wider one. Against a
// warp an item with loads of one element (H100, fp16, µs a call, norms and weights): 1 × 160 ×
// 200x336 73 -> 20, 1 × 320 × 100x168 24 -> 10, 16 × 96 × 128x128 268 -> 75, 128 × 80 × 56x56
// 394 -> 104 (fp32: 80 -> 51, 24 -> 21, 270 -> 106, 405 -> 147).
template <class T, class W>
void vertex_major_edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                               Metric metric, W* weights, cudaStream_t stream) {
  constexpr int V = 16 / sizeof(T);
  const bool aligned = channels % V == 0 && reinterpret_cast<std::uintptr_t>(features) % 16 == 0;
  if (!aligned)
    launch_edge_weights<VertexMajor<32, 1>>(shape, channels, features, edges, metric, weights, stream);
  else if (channels / V <= 64)
    launch_edge_weights<VertexMajor<8, V>>(shape, channels, features, edges, metric, weights, stream);
  else
    launch_edge_weights<VertexMajor<32, V>>(shape, channels, features, edges, metric, weights, stream);
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

template <class T, class W>
void edge_weights(GraphShape shape, index_t channels, const T* features, const index_t* edges,
                  Metric metric, W* weights, cudaStream_t stream, FeatureLayout layout) {
  if (shape.batch * shape.edges == 0) return;
  if (layout == FeatureLayout::vertex_major)
    vertex_major_edge_weights(shape, channels, features, edges, metric, weights, stream);
  else
    launch_edge_weights<ChannelMajor>(shape, channels, features, edges, metric, weights, stream);
}

#define GROOT_INSTANTIATE(T, W)                                                                                  \
  template void edge_weights<T, W>(GraphShape, index_t, const T*, const index_t*, Metric, W*, cudaStream_t, \
                                   FeatureLayout);
GROOT_INSTANTIATE(float, float)
GROOT_INSTANTIATE(double, double)
GROOT_INSTANTIATE(__half, float)
GROOT_INSTANTIATE(__nv_bfloat16, float)
#undef GROOT_INSTANTIATE

}  // namespace groot::cuda
