// Borůvka's minimum spanning tree on the device: one thread block per graph, or, for a few large
// graphs (dense prediction), every step of a round over the whole GPU (steps_over_grid()).
//
// Each round, every component finds its lightest outgoing edge under the strict order
// (weight, edge index): an atomicMin over order-preserving weight bits, then an atomicMin over
// the indices of edges at that weight — both order-independent, so the tree is deterministic and
// identical to the CPU's. Components then hook onto the component their edge reaches (mutual
// picks of the same edge are the only cycles; the smaller label stays the root), the hooks are
// flattened to their roots, and every vertex takes its new label.
#include <climits>

#include "block_scan.cuh"
#include "common.cuh"
#include "ordered_bits.hpp"

namespace groot::cuda {
namespace {

// Every pass of a round is a loop over the graph's vertices or edges with a dependent load per
// item; the largest block keeps the most of them in flight (H200: 4.9 -> 2.7 ms for a 67 000-
// vertex grid, 0.14 -> 0.11 ms for 128 graphs of 56x56, against 512 threads).
constexpr int kThreads = 1024;
using key_t = unsigned long long;
constexpr key_t kNoKey = ~key_t(0);

struct GraphWorkspace {
  int* label;     // component label of each vertex (a vertex id)
  int* hook;      // per root: the root it joins this round
  key_t* lightest_key;
  int* lightest_edge;
  int* in_tree;   // per edge: 1 if chosen; reused for output positions
};

GraphWorkspace layout(detail::WorkspaceLayout& w, GraphShape shape) {
  const auto graphs = static_cast<std::size_t>(shape.batch);
  const auto L = static_cast<std::size_t>(shape.vertices), E = static_cast<std::size_t>(shape.edges);
  return {w.take<int>(graphs * L), w.take<int>(graphs * L), w.take<key_t>(graphs * L),
          w.take<int>(graphs * L), w.take<int>(graphs * E)};
}

// One graph's inputs and workspace, and the steps of a Borůvka round on one vertex, component
// or edge: the block kernel loops them over a graph with barriers in between, the grid kernels
// over every graph at once with launches in between.
template <class T>
struct Graph {
  int L, E;
  const index_t* edges;
  const T* weights;
  int* label;
  int* hook;
  key_t* lightest_key;
  int* lightest_edge;
  int* in_tree;

  __device__ Graph(GraphShape shape, const index_t* all_edges, const T* all_weights, const GraphWorkspace& ws,
                   index_t b)
      : L(static_cast<int>(shape.vertices)),
        E(static_cast<int>(shape.edges)),
        edges(all_edges + (shape.shared_edges ? 0 : b * E * 2)),
        weights(all_weights + b * E),
        label(ws.label + b * L),
        hook(ws.hook + b * L),
        lightest_key(ws.lightest_key + b * L),
        lightest_edge(ws.lightest_edge + b * L),
        in_tree(ws.in_tree + b * E) {}

  __device__ bool endpoints(int e, int& u, int& v) const {
    u = static_cast<int>(edges[2 * e]);
    v = static_cast<int>(edges[2 * e + 1]);
    return u >= 0 && u < L && v >= 0 && v < L;  // ids out of range: the edge is ignored
  }
  __device__ bool crosses(int e, int& u, int& v) const { return endpoints(e, u, v) && label[u] != label[v]; }

  __device__ void start_vertex(int v) const { label[v] = v; }
  __device__ void start_edge(int e) const { in_tree[e] = 0; }
  __device__ void clear_lightest(int c) const {
    lightest_key[c] = kNoKey;
    lightest_edge[c] = INT_MAX;
  }
  // The lightest weight leaving each component, then the lowest edge index at that weight.
  __device__ void offer_weight(int e) const {
    int u, v;
    if (!crosses(e, u, v)) return;
    const key_t key = groot::detail::ordered_bits(weights[e]);
    atomicMin(&lightest_key[label[u]], key);
    atomicMin(&lightest_key[label[v]], key);
  }
  __device__ void offer_edge(int e) const {
    int u, v;
    if (!crosses(e, u, v)) return;
    const key_t key = groot::detail::ordered_bits(weights[e]);
    if (key == lightest_key[label[u]]) atomicMin(&lightest_edge[label[u]], e);
    if (key == lightest_key[label[v]]) atomicMin(&lightest_edge[label[v]], e);
  }
  // A component hooks onto the one its edge reaches (hook[c] != c exactly when it picked one).
  __device__ void hook_component(int c) const {
    hook[c] = c;
    if (label[c] != c || lightest_edge[c] == INT_MAX) return;
    const int e = lightest_edge[c];
    int u, v;
    endpoints(e, u, v);
    hook[c] = label[u] == c ? label[v] : label[u];
    in_tree[e] = 1;
  }
  // Two components that picked the same edge point at each other: the smaller stays root.
  __device__ void mark_mutual(int c) const {
    const int h = hook[c];
    if (h != c && hook[h] == c && c < h) lightest_edge[c] = -1;
  }
  __device__ void settle_mutual(int c) const {
    if (lightest_edge[c] == -1) hook[c] = c;
  }
  // Follows the hooks to the root (they form a forest once mutual picks are settled); shortcuts
  // other threads write meanwhile only skip ancestors. The block kernel jumps pointers instead.
  __device__ void flatten(int c) const {
    int root = c;
    while (hook[root] != root) root = hook[root];
    hook[c] = root;
  }
  __device__ void relabel(int v) const { label[v] = hook[label[v]]; }
};

template <class T>
__global__ void __launch_bounds__(kThreads) boruvka_kernel(GraphShape shape, const index_t* all_edges,
                                                           const T* all_weights, GraphWorkspace ws) {
  const Graph<T> g(shape, all_edges, all_weights, ws, blockIdx.x);
  __shared__ int picked, moved;
  auto each = [&](int count, auto&& step) {
    for (int i = threadIdx.x; i < count; i += kThreads) step(i);
    __syncthreads();
  };

  each(g.L, [&](int v) { g.start_vertex(v); });
  each(g.E, [&](int e) { g.start_edge(e); });
  // Components at least halve each round, so 64 rounds bound any graph.
  for (int round = 0; round < 64; ++round) {
    if (threadIdx.x == 0) picked = 0;
    each(g.L, [&](int c) { g.clear_lightest(c); });
    each(g.E, [&](int e) { g.offer_weight(e); });
    each(g.E, [&](int e) { g.offer_edge(e); });
    each(g.L, [&](int c) {
      g.hook_component(c);
      if (g.hook[c] != c) atomicOr(&picked, 1);
    });
    if (!picked) break;
    each(g.L, [&](int c) { g.mark_mutual(c); });
    each(g.L, [&](int c) { g.settle_mutual(c); });
    do {  // pointer jumping flattens the hooks
      __syncthreads();  // every thread has read the last round's `moved`
      if (threadIdx.x == 0) moved = 0;
      __syncthreads();
      each(g.L, [&](int c) {
        const int h = g.hook[c], hh = g.hook[h];
        if (hh != h) {
          g.hook[c] = hh;
          atomicOr(&moved, 1);
        }
      });
    } while (moved);
    each(g.L, [&](int v) { g.relabel(v); });
  }
}

// One step of a round over every graph at once, for a few large graphs (one launch a step):
// `per_graph` items (vertices or edges) in each graph. (A step is named by an enum: nvcc cannot
// launch kernels templated on a member-function pointer.)
enum class Step {
  start_vertex, start_edge, clear_lightest, offer_weight, offer_edge, hook, mark_mutual, settle_mutual, flatten,
  relabel
};

template <class T, Step kStep>
__global__ void boruvka_step_kernel(GraphShape shape, const index_t* all_edges, const T* all_weights,
                                    GraphWorkspace ws, index_t per_graph) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < shape.batch * per_graph;
       i += index_t(gridDim.x) * blockDim.x) {
    const Graph<T> g(shape, all_edges, all_weights, ws, i / per_graph);
    const int item = static_cast<int>(i % per_graph);
    if constexpr (kStep == Step::start_vertex) g.start_vertex(item);
    if constexpr (kStep == Step::start_edge) g.start_edge(item);
    if constexpr (kStep == Step::clear_lightest) g.clear_lightest(item);
    if constexpr (kStep == Step::offer_weight) g.offer_weight(item);
    if constexpr (kStep == Step::offer_edge) g.offer_edge(item);
    if constexpr (kStep == Step::hook) g.hook_component(item);
    if constexpr (kStep == Step::mark_mutual) g.mark_mutual(item);
    if constexpr (kStep == Step::settle_mutual) g.settle_mutual(item);
    if constexpr (kStep == Step::flatten) g.flatten(item);
    if constexpr (kStep == Step::relabel) g.relabel(item);
  }
}

// Writes each graph's chosen edges in edge order; slots a broken graph leaves empty get -1.
template <class T>
__global__ void __launch_bounds__(kThreads) write_tree_kernel(GraphShape shape, const index_t* all_edges,
                                                              const T* all_weights, index_t* all_trees,
                                                              GraphWorkspace ws) {
  const Graph<T> g(shape, all_edges, all_weights, ws, blockIdx.x);
  const int chosen = detail::exclusive_scan<kThreads>(g.in_tree, g.in_tree, g.E);
  index_t* tree = all_trees + index_t(blockIdx.x) * (g.L - 1) * 2;
  for (int e = threadIdx.x; e < g.E; e += kThreads) {
    const bool last = e + 1 == g.E;
    const int next = last ? chosen : g.in_tree[e + 1];
    if (next != g.in_tree[e] && g.in_tree[e] < g.L - 1) {
      tree[2 * g.in_tree[e]] = g.edges[2 * e];
      tree[2 * g.in_tree[e] + 1] = g.edges[2 * e + 1];
    }
  }
  for (int i = chosen + threadIdx.x; i < g.L - 1; i += kThreads) tree[2 * i] = tree[2 * i + 1] = -1;
}

// A block per graph walks ~2(L + E) items a round on one multiprocessor; steps over the whole
// GPU cost ~8 launches a round, ~0.3-0.45 ms in all. Measured on an H100 (ms, block / grid):
// 1 × 200×336 2.67 / 0.64, 2 × 100×168 0.59 / 0.54, 16 × 128×128 0.58 / 0.54, 1 × 50×84
// 0.11 / 0.45, 128 × 56×56 0.11 / 0.54. So only graphs of 32 768 vertices or more go over the grid.
bool steps_over_grid(GraphShape shape) { return shape.vertices >= (index_t(1) << 15); }

template <class T>
void run_steps_over_grid(GraphShape shape, const index_t* edges, const T* weights, const GraphWorkspace& ws,
                         cudaStream_t stream) {
  auto launch = [&](auto kernel, index_t per_graph) {
    kernel<<<detail::blocks_for(shape.batch * per_graph, 256), 256, 0, stream>>>(shape, edges, weights, ws,
                                                                                  per_graph);
    detail::check_launch("boruvka_step_kernel");
  };
  const index_t L = shape.vertices, E = shape.edges;
  launch(boruvka_step_kernel<T, Step::start_vertex>, L);
  launch(boruvka_step_kernel<T, Step::start_edge>, E);
  int rounds = 1;
  while ((index_t(1) << (rounds - 1)) < L) ++rounds;  // components at least halve each round
  for (int round = 0; round < rounds; ++round) {
    launch(boruvka_step_kernel<T, Step::clear_lightest>, L);
    launch(boruvka_step_kernel<T, Step::offer_weight>, E);
    launch(boruvka_step_kernel<T, Step::offer_edge>, E);
    launch(boruvka_step_kernel<T, Step::hook>, L);
    launch(boruvka_step_kernel<T, Step::mark_mutual>, L);
    launch(boruvka_step_kernel<T, Step::settle_mutual>, L);
    launch(boruvka_step_kernel<T, Step::flatten>, L);
    launch(boruvka_step_kernel<T, Step::relabel>, L);
  }
}

}  // namespace

std::size_t minimum_spanning_tree_workspace_bytes(GraphShape shape) {
  detail::WorkspaceLayout w;
  layout(w, shape);
  return w.bytes();
}

template <class T>
void minimum_spanning_tree(GraphShape shape, const index_t* edges, const T* weights, index_t* tree,
                           void* workspace, cudaStream_t stream) {
  if (shape.batch == 0 || shape.vertices <= 1) return;
  detail::WorkspaceLayout w(workspace);
  const GraphWorkspace ws = layout(w, shape);
  const auto graphs = static_cast<unsigned>(shape.batch);
  if (steps_over_grid(shape)) {
    run_steps_over_grid(shape, edges, weights, ws, stream);
  } else {
    boruvka_kernel<T><<<graphs, kThreads, 0, stream>>>(shape, edges, weights, ws);
    detail::check_launch("boruvka_kernel");
  }
  write_tree_kernel<T><<<graphs, kThreads, 0, stream>>>(shape, edges, weights, tree, ws);
  detail::check_launch("write_tree_kernel");
}

template void minimum_spanning_tree<float>(GraphShape, const index_t*, const float*, index_t*, void*, cudaStream_t);
template void minimum_spanning_tree<double>(GraphShape, const index_t*, const double*, index_t*, void*, cudaStream_t);

}  // namespace groot::cuda
