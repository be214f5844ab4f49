// CPU tree scan.
//
// Notation (one channel): w_v = decay of the edge (v, parent v); up_v = Σ_{j in subtree(v)}
// S(v, j) x_j. Leaves→root: up_v = x_v + Σ_children w_c up_c. Root→leaves (mode all):
// y_v = up_v (1 - w_v²) + w_v y_parent, which adds what lies outside v's subtree.
//
// Backward, mode all: S is symmetric, so grad_x = S g is the forward scan of g. An edge (v, p)
// lies on the path i–j exactly when one end is in subtree(v), which gives
//   dL/dw_v = up(g)_v (y_p - w_v up_v) + up_v (grad_x_p - w_v up(g)_v),
// every factor a by-product of the two passes.
// Backward, mode root: y = U x with U(i, j) = S(i, j) for j in subtree(i), so grad_x = Uᵀ g is a
// root→leaves pass grad_x_v = g_v + w_v grad_x_p, and dL/dw_v = grad_x_p · up_v.
//
// Layout. A channel's passes are chains of dependent scalar steps through scattered vertices, and
// run one channel at a time they are bound by latency, not bandwidth. So one task takes a block of
// Lanes::width channels of one sample (they share the tree) vertex-major: each step of a pass then
// moves one SIMD vector of channels (Lanes), and the index reads are shared by the whole block.
// Channel-major rows are transposed into that order tile by tile; vertex-major arrays already hold
// a vertex's channels of a block as one vector.
#include "groot/tree_scan.hpp"

#include <algorithm>
#include <vector>

#include "checks.hpp"
#include "lanes.hpp"
#include "parallel_for.hpp"
#include "step_parents.hpp"
#include "transpose.hpp"

namespace groot {
namespace {

using detail::Lanes;

// The BFS schedule of one sample as the passes read it: step k visits vertex[k], whose parent is
// parent[k]; step 0 is the root.
struct Steps {
  const index_t* vertex;  // the sample's BFS order
  const index_t* parent;
  index_t count;
  index_t size() const { return count; }
};

// Where a block's values lie: channel c of vertex v at first[c * channel + v * vertex], first
// being the block's first channel at vertex 0.
struct BlockStrides {
  index_t channel, vertex;
};

BlockStrides block_strides(ChannelShape shape, FeatureLayout layout) {
  if (layout == FeatureLayout::vertex_major) return {1, shape.channels};
  return {shape.vertices, 1};
}

// A task's channels go in blocks of Lanes::width, each block's L lanes after the one before
// (how many blocks a task takes: blocks_per_task).
template <class T>
index_t blocks_of(index_t count) {
  return (count + Lanes<T>::width - 1) / Lanes<T>::width;
}

// The task's `count` channels into vertex-major lanes, block after block; lanes past `count` are
// zero, so they compute zeros. Full blocks go by whole vectors (vertex-major) or whole tiles up to
// their last few vertices (channel-major); the rest element by element.
template <class T>
void load_block(const T* first, BlockStrides at, index_t count, index_t vertices, Lanes<T>* lanes) {
  constexpr index_t width = Lanes<T>::width;
  const index_t blocks = blocks_of<T>(count);
  const auto element = [&](index_t c, index_t v) {
    return c < count ? first[c * at.channel + v * at.vertex] : T(0);
  };
  if (at.channel == 1) {  // vertex by vertex, all of a vertex's channels at once
    for (index_t v = 0; v < vertices; ++v) {
      const T* channels = first + v * at.vertex;
      for (index_t j = 0; j < blocks; ++j) {
        Lanes<T>& lane = lanes[j * vertices + v];
        if ((j + 1) * width <= count) {
          detail::load_vector(channels + j * width, lane.v);
        } else {
          for (index_t c = 0; c < width; ++c) lane.v[c] = element(j * width + c, v);
        }
      }
    }
    return;
  }
  for (index_t j = 0; j < blocks; ++j) {
    Lanes<T>* block = lanes + j * vertices;
    index_t v = 0;
    if ((j + 1) * width <= count)
      for (; v + width <= vertices; v += width)
        detail::load_tile(first + j * width * at.channel + v, at.channel, block + v);
    for (; v < vertices; ++v)
      for (index_t c = 0; c < width; ++c) block[v].v[c] = element(j * width + c, v);
  }
}

template <class T>
void store_block(const Lanes<T>* lanes, BlockStrides at, index_t count, index_t vertices,
                 T* first) {
  constexpr index_t width = Lanes<T>::width;
  const index_t blocks = blocks_of<T>(count);
  // Channels c of block j, up to `count`, from its lanes at vertex v.
  const auto put = [&](index_t j, index_t v, const Lanes<T>& lane) {
    for (index_t c = j * width; c < std::min(count, (j + 1) * width); ++c)
      first[c * at.channel + v * at.vertex] = lane.v[c - j * width];
  };
  if (at.channel == 1) {
    for (index_t v = 0; v < vertices; ++v) {
      T* channels = first + v * at.vertex;
      for (index_t j = 0; j < blocks; ++j) {
        const Lanes<T>& lane = lanes[j * vertices + v];
        if ((j + 1) * width <= count) {
          detail::store_vector(lane.v, channels + j * width);
        } else {
          put(j, v, lane);
        }
      }
    }
    return;
  }
  for (index_t j = 0; j < blocks; ++j) {
    const Lanes<T>* block = lanes + j * vertices;
    index_t v = 0;
    if ((j + 1) * width <= count)
      for (; v + width <= vertices; v += width)
        detail::store_tile(block + v, first + j * width * at.channel + v, at.channel);
    for (; v < vertices; ++v) put(j, v, block[v]);
  }
}

// values_v += Σ_children w_c values_c, children before parents, for one or more value buffers
// in the same walk.
template <class T, class... Values>
void gather_up(const Steps& s, const Lanes<T>* w, Values*... values) {
  for (index_t k = s.size() - 1; k > 0; --k) {
    const index_t v = s.vertex[k], p = s.parent[k];
    ((values[p] = values[p] + w[v] * values[v]), ...);
  }
}

// values_v = values_v (1 - w_v²) + w_v values_parent, parents before children: turns up-sums
// into the full sums of mode all.
template <class T>
void spread_down(const Steps& s, const Lanes<T>* w, Lanes<T>* values) {
  const Lanes<T> one = Lanes<T>::splat(1);
  for (index_t k = 1; k < s.size(); ++k) {
    const index_t v = s.vertex[k];
    values[v] = values[v] * (one - w[v] * w[v]) + w[v] * values[s.parent[k]];
  }
}

// The backward's root→leaves pass, mode all: up and up_g become y and grad_x, and w is replaced
// by dL/dw (step k reads w only at its own vertex, so the buffer can be reused).
template <class T>
void spread_down_with_gradient(const Steps& s, Lanes<T>* w, Lanes<T>* up, Lanes<T>* up_g) {
  const Lanes<T> one = Lanes<T>::splat(1);
  for (index_t k = 1; k < s.size(); ++k) {
    const index_t v = s.vertex[k], p = s.parent[k];
    const Lanes<T> wv = w[v], ux = up[v], ug = up_g[v], yp = up[p], gp = up_g[p];
    const Lanes<T> keep = one - wv * wv;
    w[v] = ug * (yp - wv * ux) + ux * (gp - wv * ug);
    up[v] = ux * keep + wv * yp;
    up_g[v] = ug * keep + wv * gp;
  }
  w[s.vertex[0]] = Lanes<T>::splat(0);
}

// The backward's root→leaves pass, mode root: g becomes grad_x and w becomes dL/dw.
template <class T>
void spread_down_root_gradient(const Steps& s, Lanes<T>* w, const Lanes<T>* up, Lanes<T>* g) {
  for (index_t k = 1; k < s.size(); ++k) {
    const index_t v = s.vertex[k];
    const Lanes<T> gp = g[s.parent[k]], wv = w[v];
    w[v] = gp * up[v];
    g[v] = g[v] + wv * gp;
  }
  w[s.vertex[0]] = Lanes<T>::splat(0);
}

// Checks the arguments every scan entry point shares; returns the schedule's step parents.
template <class T>
std::vector<index_t> checked_schedule(ChannelShape shape, span<const T> decay,
                                      span<const index_t> order, span<const index_t> parent) {
  const index_t numel = shape.numel();
  detail::check_non_negative(shape.batch, "batch");
  detail::check_non_negative(shape.channels, "channels");
  GROOT_CHECK(shape.vertices >= 1, "the scan needs at least one vertex, got L = ", shape.vertices);
  detail::check_size(decay, numel, "decay");
  return detail::checked_step_parents({shape.batch, shape.vertices}, order, parent);
}

// On x86-64 Linux, GCC compiles the block kernels twice, for AVX2 and for the baseline (SSE2),
// and the loader picks one for the machine: a Lanes vector is then one AVX register.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GROOT_SIMD_CLONES __attribute__((flatten, target_clones("avx2", "default")))
#else
#define GROOT_SIMD_CLONES
#endif

// The forward of one block: `count` channels of x and decay to the same channels of y, through
// two buffers of L lanes.
template <class T>
GROOT_SIMD_CLONES void forward_block(const Steps& s, BlockStrides at, index_t count, const T* x,
                                     const T* decay, ScanMode mode, Lanes<T>* buffers, T* y) {
  const index_t L = s.size(), blocks = blocks_of<T>(count);
  Lanes<T>* values = buffers;
  Lanes<T>* w = buffers + blocks * L;
  load_block(x, at, count, L, values);
  load_block(decay, at, count, L, w);
  for (index_t j = 0; j < blocks; ++j) {
    gather_up(s, w + j * L, values + j * L);
    if (mode == ScanMode::all) spread_down(s, w + j * L, values + j * L);
  }
  store_block(values, at, count, L, y);
}

// The backward of one block, through three buffers of L lanes.
template <class T>
GROOT_SIMD_CLONES void backward_block(const Steps& s, BlockStrides at, index_t count,
                                      const T* grad_y, const T* x, const T* decay, ScanMode mode,
                                      Lanes<T>* buffers, T* grad_x, T* grad_decay) {
  const index_t L = s.size(), blocks = blocks_of<T>(count);
  Lanes<T>* up = buffers;  // up(x), then y (mode all)
  Lanes<T>* w = buffers + blocks * L;  // decay, then dL/d decay
  Lanes<T>* g = buffers + 2 * blocks * L;  // grad_y, then up(grad_y) (mode all), then grad_x
  load_block(x, at, count, L, up);
  load_block(decay, at, count, L, w);
  load_block(grad_y, at, count, L, g);
  for (index_t j = 0; j < blocks; ++j) {
    Lanes<T>*bw = w + j * L, *bu = up + j * L, *bg = g + j * L;
    if (mode == ScanMode::all) {
      gather_up(s, bw, bu, bg);
      spread_down_with_gradient(s, bw, bu, bg);
    } else {
      gather_up(s, bw, bu);
      spread_down_root_gradient(s, bw, bu, bg);
    }
  }
  store_block(g, at, count, L, grad_x);
  store_block(w, at, count, L, grad_decay);
}

// Blocks a task takes. Channel-major rows: one. Vertex-major arrays: a task reads one stretch of
// each vertex's channels, far from the next vertex's, so every task of a sample sweeps all of its
// pages (at 160 channels of 56×56, one block a task made the forward take twice as long as with
// channel-major rows). So a task takes as many blocks as leave each thread two tasks and keep
// its lanes within kTaskBytes, since they are walked again and again (at 200×200, three blocks,
// 7.7 MB, took 15 ms forward against 8.4 ms for two), but at least two (a 64-byte line of a
// vertex's channels); then the sample's blocks are shared out evenly.
template <class T>
index_t blocks_per_task(ChannelShape shape, FeatureLayout layout, index_t buffers) {
  constexpr index_t kTaskBytes = index_t(6) << 20;
  if (layout != FeatureLayout::vertex_major) return 1;
  const index_t per_sample = blocks_of<T>(shape.channels);
  const index_t fit = kTaskBytes / (buffers * shape.vertices * index_t(sizeof(Lanes<T>)));
  const index_t spread = shape.batch * per_sample / (2 * static_cast<index_t>(num_threads()));
  const index_t most = std::max<index_t>(per_sample, 2);
  const index_t blocks = std::clamp<index_t>(std::min(fit, spread), 2, most);
  const index_t tasks = (per_sample + blocks - 1) / blocks;
  return (per_sample + tasks - 1) / tasks;
}

// Runs block(steps, strides, channel count, offset of its first value, buffers) over every
// task's channels (blocks_per_task), in parallel. Each thread keeps its `buffers` × blocks × L
// lanes between tasks. Every task of a sample walks the same steps, so their parents come looked
// up (checked_schedule).
template <class T, class Block>
void for_each_block(ChannelShape shape, FeatureLayout layout, span<const index_t> order,
                    const std::vector<index_t>& step_parent, index_t buffers, Block&& block) {
  const index_t L = shape.vertices, D = shape.channels;
  const BlockStrides at = block_strides(shape, layout);
  const index_t width = blocks_per_task<T>(shape, layout, buffers) * Lanes<T>::width;
  const index_t tasks_per_sample = (D + width - 1) / width;
  detail::parallel_for(shape.batch * tasks_per_sample, 4 * buffers * width * L, [&](index_t i) {
    thread_local std::vector<Lanes<T>> scratch;
    const index_t b = i / tasks_per_sample, first = i % tasks_per_sample * width;
    const index_t count = std::min(width, D - first);
    scratch.resize(static_cast<std::size_t>(buffers * blocks_of<T>(count) * L));
    block(Steps{order.data() + b * L, step_parent.data() + b * L, L}, at, count,
          b * L * D + first * at.channel, scratch.data());
  });
}

}  // namespace

template <class T>
void tree_scan_forward(ChannelShape shape, span<const T> x, span<const T> decay,
                       span<const index_t> order, span<const index_t> parent, ScanMode mode,
                       span<T> y, FeatureLayout layout) {
  detail::check_size(x, shape.numel(), "x");
  detail::check_size(y, shape.numel(), "y");
  const std::vector<index_t> step_parent = checked_schedule(shape, decay, order, parent);
  for_each_block<T>(shape, layout, order, step_parent, 2,
                    [&](const Steps& s, BlockStrides at, index_t count, index_t offset,
                        Lanes<T>* buffers) {
    forward_block(s, at, count, x.data() + offset, decay.data() + offset, mode, buffers,
                  y.data() + offset);
  });
}

template <class T>
void tree_scan_backward(ChannelShape shape, span<const T> grad_y, span<const T> x,
                        span<const T> decay, span<const index_t> order,
                        span<const index_t> parent, ScanMode mode, span<T> grad_x,
                        span<T> grad_decay, FeatureLayout layout) {
  for (auto [values, name] : {std::pair{grad_y, "grad_y"}, std::pair{x, "x"}})
    detail::check_size(values, shape.numel(), name);
  detail::check_size(grad_x, shape.numel(), "grad_x");
  detail::check_size(grad_decay, shape.numel(), "grad_decay");
  const std::vector<index_t> step_parent = checked_schedule(shape, decay, order, parent);
  for_each_block<T>(shape, layout, order, step_parent, 3,
                    [&](const Steps& s, BlockStrides at, index_t count, index_t offset,
                        Lanes<T>* buffers) {
    backward_block(s, at, count, grad_y.data() + offset, x.data() + offset, decay.data() + offset,
                   mode, buffers, grad_x.data() + offset, grad_decay.data() + offset);
  });
}

#define GROOT_INSTANTIATE(T)                                                                    \
  template void tree_scan_forward<T>(ChannelShape, span<const T>, span<const T>,                \
                                     span<const index_t>, span<const index_t>, ScanMode,        \
                                     span<T>, FeatureLayout);                                   \
  template void tree_scan_backward<T>(ChannelShape, span<const T>, span<const T>, span<const T>, \
                                      span<const index_t>, span<const index_t>, ScanMode,       \
                                      span<T>, span<T>, FeatureLayout);
GROOT_INSTANTIATE(float)
GROOT_INSTANTIATE(double)
#undef GROOT_INSTANTIATE

}  // namespace groot
