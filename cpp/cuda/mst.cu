// Borůvka's minimum spanning tree on the device: one thread block per graph when the graphs are
// many or small (its per-vertex arrays, and with float weights its edges too, in shared memory
// where they fit), or, when they are too few to fill the GPU and too large for one block's shared
// memory, every graph over the whole GPU in one cooperative launch whose steps meet at grid-wide
// barriers (spread_over_grid()).
//
// Each round, every component finds its lightest outgoing edge under the strict order
// (weight, edge index) by atomicMin: float weights pack both into one 64-bit key; double weights
// need a second pass for the index at the lightest weight. Both are order-independent, so the
// tree is deterministic and identical to the CPU's. Components then hook onto the component their
// edge reaches (mutual picks of the same edge are the only cycles; the smaller label stays the
// root), the hooks are flattened to their roots, and every vertex takes its new label.
#include <cooperative_groups.h>

#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <climits>
#include <type_traits>

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
  int* relabel_to;  // grid kernel: the next round's labels, written while `label` is read
  int* hook;      // per root: the root it joins this round
  int* next;      // block kernel: the hooks being settled or flattened (it and `hook` swap roles)
  key_t* lightest_key;
  int* lightest_edge;  // double weights only
  int* in_tree;   // per edge: 1 if chosen
  int* picked;    // grid path: per round parity, whether any component hooked
  int* chosen_before;  // per edge of the whole batch: chosen edges up to it (inclusive prefix sum)
  void* scan_temp;     // CUB's scratch for that sum
  std::size_t scan_temp_bytes;
};

// Scratch CUB needs for the prefix sum over all B * E flags.
std::size_t scan_temp_bytes(GraphShape shape) {
  std::size_t bytes = 0;
  detail::check(cub::DeviceScan::InclusiveSum(nullptr, bytes, static_cast<const int*>(nullptr),
                                              static_cast<int*>(nullptr), shape.batch * shape.edges),
                "cub::DeviceScan::InclusiveSum");
  return bytes;
}

GraphWorkspace layout(detail::WorkspaceLayout& w, GraphShape shape) {
  const auto graphs = static_cast<std::size_t>(shape.batch);
  const auto L = static_cast<std::size_t>(shape.vertices), E = static_cast<std::size_t>(shape.edges);
  GraphWorkspace ws{w.take<int>(graphs * L),   w.take<int>(graphs * L), w.take<int>(graphs * L),
                    w.take<int>(graphs * L),   w.take<key_t>(graphs * L), w.take<int>(graphs * L),
                    w.take<int>(graphs * E),   w.take<int>(2),            w.take<int>(graphs * E)};
  ws.scan_temp_bytes = scan_temp_bytes(shape);
  ws.scan_temp = w.take<unsigned char>(ws.scan_temp_bytes);
  return ws;
}

// Where the block kernel keeps a graph: its components in global or shared memory, and with
// them in shared memory, its edges too (and which edges it chose). The grid kernel keeps nothing.
enum class OnChip { nothing, components, components_and_edges };

// Float weights and the edge index share one 64-bit key (weight bits above, index below), so a
// single atomicMin finds the lightest edge; double weights fill the key on their own. In shared
// memory that atomicMin is a compare-and-swap loop, yet both ways around it were slower there
// (H100, the block kernel on a 50x84 grid, 54 µs): two passes of 32-bit atomics, the weight then
// the least index at it, ~62 µs; reading the key first to skip the swap where it is no lower,
// 82 µs. The pass over the edges is bound by shared-memory traffic, not by retries.
template <class T>
constexpr bool kPackedKey = sizeof(T) == 4;

// An endpoint out of range, in a staged edge (16-bit vertex ids: graphs under 2^16 - 1 vertices).
constexpr unsigned kNoVertex = 0xFFFF;

// One graph's inputs and workspace, and the steps of a Borůvka round on one vertex, component
// or edge: the block kernel loops them over a graph with barriers in between, the grid kernel
// over every graph at once with grid-wide barriers in between.
//
// kLabelsTrail: the vertices take their new labels in the next round's first step, beside the
// edges' offers, which then find an endpoint's component through its label and the hooks. The
// grid kernel does so, one grid-wide barrier a round less (H200, MST µs a call: 1 × 200x336
// 170 -> 162, 2 × 200x336 313 -> 295). The block kernel relabels in a step of its own: the second
// dependent load an endpoint costs it more than a barrier (16 × 128x128, components in global
// memory: 330 -> 383; no change with them on chip).
template <class T, OnChip kOnChip, bool kLabelsTrail = false>
struct Graph {
  // Per edge, whether it was chosen: bytes in shared memory beside staged edges, else ints in the
  // workspace (the prefix sum that writes the tree reads them).
  using Chosen = std::conditional_t<kOnChip == OnChip::components_and_edges, unsigned char, int>;

  int L, E;
  const index_t* edges;
  const T* weights;
  int* label;
  int* relabel_to;
  int* hook;
  int* next;
  key_t* lightest_key;
  int* lightest_edge;  // double weights only
  Chosen* in_tree;
  // Block kernel with float weights: each edge's endpoints (u | v << 16) and its weight's ordered
  // bits, staged in shared memory by keep_edges_in (else null: read from global memory).
  unsigned* staged_ends = nullptr;
  unsigned* staged_bits = nullptr;

  __device__ Graph(GraphShape shape, const index_t* all_edges, const T* all_weights, const GraphWorkspace& ws,
                   index_t b)
      : L(static_cast<int>(shape.vertices)),
        E(static_cast<int>(shape.edges)),
        edges(all_edges + (shape.shared_edges ? 0 : b * E * 2)),
        weights(all_weights + b * E),
        label(ws.label + b * L),
        relabel_to(ws.relabel_to + b * L),
        hook(ws.hook + b * L),
        next(ws.next + b * L),
        lightest_key(ws.lightest_key + b * L),
        lightest_edge(ws.lightest_edge + b * L) {
    if constexpr (kOnChip != OnChip::components_and_edges) in_tree = ws.in_tree + b * E;
  }

  // Points the per-vertex arrays at `shared` (component_bytes<T>(L) of it): a block that holds a
  // whole graph's components then runs each round's atomics and hook chasing on chip.
  __device__ void keep_components_in(unsigned char* shared) {
    lightest_key = reinterpret_cast<key_t*>(shared);
    label = reinterpret_cast<int*>(lightest_key + L);
    hook = label + L;
    next = hook + L;
    lightest_edge = next + L;  // double weights only
  }

  // Stages every edge into `shared` (staged_edge_bytes of it, after the components), with room
  // for the chosen flags; the caller then waits at a barrier. Each pass of a round over the edges
  // then reads and writes no global memory.
  __device__ void keep_edges_in(unsigned* shared) {
    staged_ends = shared;
    staged_bits = shared + E;
    in_tree = reinterpret_cast<Chosen*>(staged_bits + E);
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
      const index_t u = edges[2 * e], v = edges[2 * e + 1];
      const unsigned su = has_vertex(u) ? static_cast<unsigned>(u) : kNoVertex;
      const unsigned sv = has_vertex(v) ? static_cast<unsigned>(v) : kNoVertex;
      staged_ends[e] = su | sv << 16;
      staged_bits[e] = static_cast<unsigned>(groot::detail::ordered_bits(weights[e]));
    }
  }

  __device__ bool endpoints(int e, int& u, int& v) const {
    if (staged_ends) {
      const unsigned ends = staged_ends[e];
      u = static_cast<int>(ends & 0xFFFFu);
      v = static_cast<int>(ends >> 16);
      return u != kNoVertex && v != kNoVertex;
    }
    const index_t gu = edges[2 * e], gv = edges[2 * e + 1];
    u = static_cast<int>(gu);
    v = static_cast<int>(gv);
    return has_vertex(gu) && has_vertex(gv);  // ids out of range: the edge is ignored
  }
  // Tested on the 64-bit id, before any narrowing: 2^32 + 3 is no vertex 3.
  __device__ bool has_vertex(index_t id) const { return id >= 0 && id < L; }
  // The component of vertex v this round.
  __device__ int component(int v) const {
    if constexpr (kLabelsTrail)
      return hook[label[v]];
    else
      return label[v];
  }
  __device__ bool crosses(int e, int& u, int& v) const {
    if (!endpoints(e, u, v)) return false;
    u = component(u);
    v = component(v);
    return u != v;
  }

  __device__ void start_vertex(int v) const {
    label[v] = hook[v] = v;
    clear_lightest(v);
  }
  __device__ void start_edge(int e) const { in_tree[e] = 0; }
  __device__ void clear_lightest(int c) const {
    lightest_key[c] = kNoKey;
    if constexpr (!kPackedKey<T>) lightest_edge[c] = INT_MAX;
  }
  // The lightest key leaving each component (with double weights, only the weight so far).
  __device__ void offer_weight(int e) const {
    int u, v;
    if (!crosses(e, u, v)) return;
    key_t key = staged_bits ? staged_bits[e] : groot::detail::ordered_bits(weights[e]);
    if constexpr (kPackedKey<T>) key = key << 32 | static_cast<unsigned>(e);
    atomicMin(&lightest_key[u], key);
    atomicMin(&lightest_key[v], key);
  }
  // Double weights: the lowest edge index at the lightest weight.
  __device__ void offer_edge(int e) const {
    int u, v;
    if (!crosses(e, u, v)) return;
    const key_t key = groot::detail::ordered_bits(weights[e]);
    if (key == lightest_key[u]) atomicMin(&lightest_edge[u], e);
    if (key == lightest_key[v]) atomicMin(&lightest_edge[v], e);
  }
  __device__ int lightest(int c) const {
    if constexpr (kPackedKey<T>)
      return lightest_key[c] == kNoKey ? INT_MAX : static_cast<int>(lightest_key[c] & 0xffffffffu);
    else
      return lightest_edge[c];
  }
  // A component hooks onto the one its edge reaches; returns whether it picked one. Its lightest
  // key starts over for the next round (nothing else reads it before then).
  __device__ bool hook_component(int c) const {
    hook[c] = c;
    const int e = lightest(c);
    clear_lightest(c);
    if (label[c] != c || e == INT_MAX) return false;
    int u, v;
    endpoints(e, u, v);
    hook[c] = label[u] == c ? label[v] : label[u];
    in_tree[e] = 1;
    return true;
  }
  // Two components that picked the same edge point at each other: the smaller stays root.
  __device__ int settled_hook(int c) const {
    const int h = hook[c];
    return h != c && c < h && hook[h] == c ? c : h;
  }
  // Follows the hooks to the root (the grid kernel), settling mutual picks on the way: the hooks
  // form a forest but for those pairs, whose smaller member is the root. Other threads meanwhile
  // write only roots, so what c reads leads to the same one. That is one grid-wide barrier a round
  // less than settling first (H100, µs a call: 1 × 200x336 197 -> 181, 2 × 200x336 357 -> 327,
  // 1 × 100x168 99 -> 90). The block kernel settles the pairs first and jumps pointers instead.
  __device__ void flatten(int c) const {
    int root = c;
    for (int h = hook[root]; h != root; h = hook[root]) {
      if (hook[h] == root) {
        root = min(root, h);
        break;
      }
      root = h;
    }
    hook[c] = root;
  }
  // The vertex takes its component's new label: in place, or with kLabelsTrail into relabel_to
  // (the caller swaps the two arrays after the step's barrier).
  __device__ void relabel(int v) const {
    if constexpr (kLabelsTrail)
      relabel_to[v] = hook[label[v]];
    else
      label[v] = hook[label[v]];
  }
};

// Shared memory a block needs to hold a graph's per-vertex arrays (Graph::keep_components_in):
// graphs of up to ~11 000 vertices (float weights). The edges stay in global memory. H100, ms a
// call with the tree written out, components in global -> shared memory, same runs: 128 x 56x56
// 0.101 -> 0.085, 128 x 28x28 0.051 -> 0.048, 1 x 50x84 0.094 -> 0.087, 1 x 100x120 0.226 ->
// 0.190 (the grid kernel: 0.100). Settling and flattening the hooks in place, as before, raced
// (benignly) between threads; racecheck sees shared memory, so they now write a second array and
// swap (on another H100, 128 x 56x56 / 128 x 28x28 / 1 x 50x84: 0.082 / 0.044 / 0.083 ms;
// copying the array back instead, 0.099 / 0.065 / 0.090).
template <class T>
__host__ __device__ std::size_t component_bytes(index_t L) {
  return std::size_t(L) * (sizeof(key_t) + 3 * sizeof(int) + (kPackedKey<T> ? 0 : sizeof(int)));
}

// Shared memory for a graph's edges and their chosen flags beside its components
// (Graph::keep_edges_in), or 0 where they are not staged (double weights; graphs of 2^16 - 1
// vertices or more).
template <class T>
std::size_t staged_edge_bytes(GraphShape shape) {
  return kPackedKey<T> && shape.vertices < kNoVertex ? std::size_t(shape.edges) * (2 * sizeof(unsigned) + 1) : 0;
}

// The block kernel with the whole graph on chip writes the chosen edges into the tree's slots
// itself, in edge order (the workspace's prefix sum and write_tree_kernel's order), and -1 into
// the slots left empty where the graph is no tree. Called by the whole block after the rounds.
template <class T>
__device__ void write_tree(const Graph<T, OnChip::components_and_edges>& g, index_t* tree) {
  __shared__ int chosen;
  const int slots = g.L - 1;
  detail::exclusive_scan<kThreads>(g.in_tree, g.E, [&](int e, int before) {
    if (g.in_tree[e] && before < slots) {
      int u, v;
      g.endpoints(e, u, v);
      tree[2 * before] = u;
      tree[2 * before + 1] = v;
    }
    if (e == g.E - 1) chosen = before + g.in_tree[e];
  });
  for (int slot = min(chosen, slots) + threadIdx.x; slot < slots; slot += kThreads)
    tree[2 * slot] = tree[2 * slot + 1] = -1;
}

template <class T, OnChip kOnChip>
__global__ void __launch_bounds__(kThreads) boruvka_kernel(GraphShape shape, const index_t* all_edges,
                                                           const T* all_weights, GraphWorkspace ws,
                                                           index_t* trees) {
  using G = Graph<T, kOnChip>;
  G g(shape, all_edges, all_weights, ws, blockIdx.x);
  if constexpr (kOnChip != OnChip::nothing) {
    extern __shared__ __align__(8) unsigned char components[];
    g.keep_components_in(components);
    if constexpr (kOnChip == OnChip::components_and_edges)
      g.keep_edges_in(reinterpret_cast<unsigned*>(components + component_bytes<T>(g.L)));
  }
  auto each = [&](int count, auto&& step) {
    for (int i = threadIdx.x; i < count; i += kThreads) step(i);
    __syncthreads();
  };

  for (int v = threadIdx.x; v < g.L; v += kThreads) g.start_vertex(v);
  each(g.E, [&](int e) { g.start_edge(e); });
  // Components at least halve each round, so 64 rounds bound any graph.
  for (int round = 0; round < 64; ++round) {
    each(g.E, [&](int e) { g.offer_weight(e); });
    if constexpr (!kPackedKey<T>) each(g.E, [&](int e) { g.offer_edge(e); });
    bool hooked = false;
    for (int c = threadIdx.x; c < g.L; c += kThreads) hooked |= g.hook_component(c);
    if (!__syncthreads_or(hooked)) break;
    // Settling and each pointer jump read `hook` and write `next`, and then the two swap: no thread
    // reads a hook that another writes in the same step.
    const auto swap_hooks = [&] {
      int* const settled = g.next;
      g.next = g.hook;
      g.hook = settled;
    };
    each(g.L, [&](int c) { g.next[c] = g.settled_hook(c); });
    swap_hooks();
    bool moved;
    do {  // pointer jumping flattens the hooks
      bool moved_here = false;
      for (int c = threadIdx.x; c < g.L; c += kThreads) {
        const int h = g.hook[c], hh = g.hook[h];
        g.next[c] = hh;
        moved_here |= hh != h;
      }
      moved = __syncthreads_or(moved_here);
      swap_hooks();
    } while (moved);
    each(g.L, [&](int v) { g.relabel(v); });
  }
  if constexpr (kOnChip == OnChip::components_and_edges)
    write_tree(g, trees + blockIdx.x * (shape.vertices - 1) * 2);
}

// The same rounds over every graph at once, for graphs too few to give each multiprocessor one:
// every block of a cooperative launch takes items of all graphs, and a grid-wide barrier ends
// each step.
template <class T, int kThreads>
__global__ void __launch_bounds__(kThreads) boruvka_grid_kernel(GraphShape shape, const index_t* all_edges,
                                                                const T* all_weights, GraphWorkspace ws) {
  using G = Graph<T, OnChip::nothing, true>;
  const cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const index_t first = blockIdx.x * index_t(kThreads) + threadIdx.x;
  const index_t stride = index_t(gridDim.x) * kThreads;
  // Every thread swaps the two label arrays after each round's first step, so `labels` is the
  // same in all of them.
  GraphWorkspace labels = ws;
  // visit: a step over the items of every graph; each: the same, then a grid-wide barrier.
  auto visit = [&](index_t per_graph, auto&& step) {
    for (index_t i = first; i < shape.batch * per_graph; i += stride)
      step(G(shape, all_edges, all_weights, labels, i / per_graph), static_cast<int>(i % per_graph));
  };
  auto each = [&](index_t per_graph, auto&& step) {
    visit(per_graph, step);
    grid.sync();
  };

  if (first == 0) ws.picked[0] = ws.picked[1] = 0;
  visit(shape.vertices, [](const G& g, int v) { g.start_vertex(v); });
  each(shape.edges, [](const G& g, int e) { g.start_edge(e); });
  for (int round = 0; round < 64; ++round) {
    // The flag of the round after this one was last read a round ago, many barriers back.
    int* picked = ws.picked + (round & 1);
    // The last round's labels, beside the offers to the components they name.
    visit(shape.vertices, [](const G& g, int v) { g.relabel(v); });
    each(shape.edges, [](const G& g, int e) { g.offer_weight(e); });
    if constexpr (!kPackedKey<T>) each(shape.edges, [](const G& g, int e) { g.offer_edge(e); });
    int* const relabelled = labels.relabel_to;
    labels.relabel_to = labels.label;
    labels.label = relabelled;
    each(shape.vertices, [&](const G& g, int c) {
      if (g.hook_component(c)) atomicOr(picked, 1);
    });
    if (!*static_cast<volatile int*>(picked)) break;
    if (first == 0) ws.picked[(round + 1) & 1] = 0;
    each(shape.vertices, [](const G& g, int c) { g.flatten(c); });
  }
}

// Writes each graph's chosen edges in edge order from the prefix sum of the flags over the whole
// batch (one pass over every graph's edges and tree slots at once: a block per graph spent ~0.15 ms
// on one 200x336 grid); slots a broken graph leaves empty get -1.
constexpr int kWriteThreads = 256;

__global__ void __launch_bounds__(kWriteThreads) write_tree_kernel(GraphShape shape, unsigned blocks_per_graph,
                                                                   const index_t* all_edges, const int* in_tree,
                                                                   const int* chosen_before, index_t* all_trees) {
  const index_t E = shape.edges, slots = shape.vertices - 1;
  const index_t b = blockIdx.x / blocks_per_graph;
  const index_t i = (blockIdx.x % blocks_per_graph) * kWriteThreads + threadIdx.x;
  const index_t base = b == 0 ? 0 : chosen_before[b * E - 1];  // chosen in the graphs before b
  index_t* tree = all_trees + b * slots * 2;
  if (i < E && in_tree[b * E + i]) {
    const index_t slot = chosen_before[b * E + i] - 1 - base;
    if (slot < slots) {
      const index_t* edge = all_edges + (shape.shared_edges ? 0 : b * E * 2) + 2 * i;
      tree[2 * slot] = edge[0];
      tree[2 * slot + 1] = edge[1];
    }
  }
  const index_t chosen = chosen_before[b * E + E - 1] - base;
  if (i >= chosen && i < slots) tree[2 * i] = tree[2 * i + 1] = -1;
}


// Whether a block holds a whole graph, components and edges, in shared memory.
template <class T>
bool fits_on_chip(GraphShape shape) {
  if constexpr (kPackedKey<T>) {
    const std::size_t staged = staged_edge_bytes<T>(shape);
    return staged > 0 && detail::fits_in_shared(boruvka_kernel<T, OnChip::components_and_edges>,
                                                component_bytes<T>(shape.vertices) + staged);
  } else {
    return false;
  }
}

// A block per graph takes ~22 ns a vertex with its edges in global memory, all graphs at once;
// the grid kernel ~0.08 ms of barriers plus ~1.5 ns a vertex of the whole batch. Measured on an
// H200 (ms, block / grid): 1 × 32×32 0.038 / 0.050, 1 × 50×84 0.079 / 0.074, 1 × 128×128
// 0.324 / 0.125, 1 × 200×336 1.60 / 0.35, 2 × 200×336 1.61 / 0.50, 16 × 64×64 0.081 / 0.174,
// 16 × 128×128 0.355 / 0.505, 128 × 56×56 0.078 / 0.626. So the grid runs where
// 22 L > 80 000 + 1.5 B L (in ns). A block that holds the graph's edges too is faster than the grid
// even for one graph (H100, µs with the tree written out, components on chip -> and edges, against
// the grid: 1 × 50×84 78 -> 61 / 78, 1 × 64×64 68 -> 54 / 70, 16 × 64×64 75 -> 59 / 180,
// 128 × 56×56 69 -> 60 / 641), so such graphs (`on_chip`: fits_on_chip) never take the grid.
bool spread_over_grid(GraphShape shape, bool on_chip) {
  return !on_chip && shape.vertices * (44 - 3 * shape.batch) > 160'000 &&
         detail::device_attribute(cudaDevAttrCooperativeLaunch) != 0;
}

// A block of kThreads for every kThreads items, as many as fit on the device's `sms`
// multiprocessors at once (a cooperative launch needs them all resident).
template <class T, int kThreads>
void launch_over_grid(GraphShape shape, index_t items, index_t sms, const index_t* edges, const T* weights,
                      GraphWorkspace ws, cudaStream_t stream) {
  const auto kernel = boruvka_grid_kernel<T, kThreads>;
  int per_multiprocessor = 0;
  detail::check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_multiprocessor, kernel, kThreads, 0),
                "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  const auto resident = static_cast<unsigned>(per_multiprocessor * sms);
  const unsigned blocks = std::min(detail::blocks_for(items, kThreads), resident);
  void* args[] = {&shape, &edges, &weights, &ws};
  detail::check(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), blocks, kThreads, args, 0, stream),
                "boruvka_grid_kernel");
}

// Blocks of 1024 threads where that still gives three multiprocessors in four one, else of 256:
// a grid-wide barrier costs more the more blocks meet at it. H200, MST µs a call, 256 -> 1024
// threads a block: 1 × 200x336 (131 blocks of 1024) 162 -> 152, 2 × 200x336 294 -> 257; but
// 1 × 100x168, in 33 blocks of 1024 against 131 of 256, 76 -> 82.
template <class T>
void run_over_grid(GraphShape shape, const index_t* edges, const T* weights, GraphWorkspace ws,
                   cudaStream_t stream) {
  const index_t items = shape.batch * std::max(shape.vertices, shape.edges);
  const auto sms = static_cast<index_t>(detail::device_attribute(cudaDevAttrMultiProcessorCount));
  if (4 * items >= 3 * 1024 * sms)
    launch_over_grid<T, 1024>(shape, items, sms, edges, weights, ws, stream);
  else
    launch_over_grid<T, 256>(shape, items, sms, edges, weights, ws, stream);
}

// A block per graph, with as much of the graph in shared memory as fits (`on_chip`: all of it,
// fits_on_chip; the blocks then write the tree).
template <class T>
void run_in_blocks(GraphShape shape, const index_t* edges, const T* weights, GraphWorkspace ws, bool on_chip,
                   index_t* tree, cudaStream_t stream) {
  const auto launch = [&](auto kernel, std::size_t shared) {
    if (shared > 0) detail::allow_dynamic_shared(kernel, shared);
    kernel<<<static_cast<unsigned>(shape.batch), kThreads, shared, stream>>>(shape, edges, weights, ws, tree);
    detail::check_launch("boruvka_kernel");
  };
  const std::size_t components = component_bytes<T>(shape.vertices);
  if constexpr (kPackedKey<T>) {
    if (on_chip)
      return launch(boruvka_kernel<T, OnChip::components_and_edges>, components + staged_edge_bytes<T>(shape));
  }
  if (detail::fits_in_shared(boruvka_kernel<T, OnChip::components>, components))
    launch(boruvka_kernel<T, OnChip::components>, components);
  else
    launch(boruvka_kernel<T, OnChip::nothing>, 0);
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
  const bool on_chip = fits_on_chip<T>(shape);
  if (spread_over_grid(shape, on_chip))
    run_over_grid(shape, edges, weights, ws, stream);
  else
    run_in_blocks(shape, edges, weights, ws, on_chip, tree, stream);
  if (on_chip) return;  // its blocks wrote the tree
  if (shape.edges == 0) {  // no edge to choose: every slot is empty
    detail::check(cudaMemsetAsync(tree, 0xFF, std::size_t(shape.batch * (shape.vertices - 1) * 2) * sizeof(index_t),
                                  stream),
                  "cudaMemsetAsync");
    return;
  }
  std::size_t temp_bytes = ws.scan_temp_bytes;
  detail::check(cub::DeviceScan::InclusiveSum(ws.scan_temp, temp_bytes, ws.in_tree, ws.chosen_before,
                                              shape.batch * shape.edges, stream),
                "cub::DeviceScan::InclusiveSum");
  const unsigned blocks_per_graph = detail::blocks_for(std::max(shape.edges, shape.vertices - 1), kWriteThreads);
  write_tree_kernel<<<graphs * blocks_per_graph, kWriteThreads, 0, stream>>>(shape, blocks_per_graph, edges,
                                                                             ws.in_tree, ws.chosen_before, tree);
  detail::check_launch("write_tree_kernel");
}

template void minimum_spanning_tree<float>(GraphShape, const index_t*, const float*, index_t*, void*, cudaStream_t);
template void minimum_spanning_tree<double>(GraphShape, const index_t*, const double*, index_t*, void*, cudaStream_t);

}  // namespace groot::cuda
