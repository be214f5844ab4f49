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
// Lanes::width channels of one sample (they share the tree) and transposes it vertex-major: each
// step of a pass then moves one SIMD vector of channels (Lanes), and the index reads are shared by
// the whole block.
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

// The block of `count` channel rows (each `vertices` long, one after the other) into
// vertex-major lanes; lanes past `count` are zero, so they compute zeros. A full block goes
// through whole tiles up to its last few vertices, the rest element by element.
template <class T>
void load_block(const T* rows, index_t count, index_t vertices, Lanes<T>* block) {
  constexpr index_t width = Lanes<T>::width;
  const index_t tiled = count == width ? vertices / width * width : 0;
  for (index_t v = 0; v < tiled; v += width) detail::load_tile(rows + v, vertices, block + v);
  for (index_t v = tiled; v < vertices; ++v)
    for (index_t c = 0; c < width; ++c) block[v].v[c] = c < count ? rows[c * vertices + v] : T(0);
}

template <class T>
void store_block(const Lanes<T>* block, index_t count, index_t vertices, T* rows) {
  constexpr index_t width = Lanes<T>::width;
  const index_t tiled = count == width ? vertices / width * width : 0;
  for (index_t v = 0; v < tiled; v += width) detail::store_tile(block + v, rows + v, vertices);
  for (index_t v = tiled; v < vertices; ++v)
    for (index_t c = 0; c < count; ++c) rows[c * vertices + v] = block[v].v[c];
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

// The forward of one block: `count` rows of x and decay (L apart) to the same rows of y, through
// two buffers of L lanes.
template <class T>
GROOT_SIMD_CLONES void forward_block(const Steps& s, index_t count, const T* x, const T* decay,
                                     ScanMode mode, Lanes<T>* buffers, T* y) {
  const index_t L = s.size();
  Lanes<T>* values = buffers;
  Lanes<T>* w = buffers + L;
  load_block(x, count, L, values);
  load_block(decay, count, L, w);
  gather_up(s, w, values);
  if (mode == ScanMode::all) spread_down(s, w, values);
  store_block(values, count, L, y);
}

// The backward of one block, through three buffers of L lanes.
template <class T>
GROOT_SIMD_CLONES void backward_block(const Steps& s, index_t count, const T* grad_y, const T* x,
                                      const T* decay, ScanMode mode, Lanes<T>* buffers,
                                      T* grad_x, T* grad_decay) {
  const index_t L = s.size();
  Lanes<T>* up = buffers;  // up(x), then y (mode all)
  Lanes<T>* w = buffers + L;  // decay, then dL/d decay
  Lanes<T>* g = buffers + 2 * L;  // grad_y, then up(grad_y) (mode all), then grad_x
  load_block(x, count, L, up);
  load_block(decay, count, L, w);
  load_block(grad_y, count, L, g);
  if (mode == ScanMode::all) {
    gather_up(s, w, up, g);
    spread_down_with_gradient(s, w, up, g);
  } else {
    gather_up(s, w, up);
    spread_down_root_gradient(s, w, up, g);
  }
  store_block(g, count, L, grad_x);
  store_block(w, count, L, grad_decay);
}

// Runs block(steps, channel count, offset of its first row, buffers) over every block of
// channels, in parallel. Each thread keeps its `buffers` × L lanes between blocks. Every block of
// a sample walks the same steps, so their parents come looked up (checked_schedule).
template <class T, class Block>
void for_each_block(ChannelShape shape, span<const index_t> order,
                    const std::vector<index_t>& step_parent, index_t buffers, Block&& block) {
  const index_t width = Lanes<T>::width, L = shape.vertices;
  const index_t blocks_per_sample = (shape.channels + width - 1) / width;
  detail::parallel_for(shape.batch * blocks_per_sample, 4 * buffers * width * L, [&](index_t i) {
    thread_local std::vector<Lanes<T>> scratch;
    const index_t b = i / blocks_per_sample, first = i % blocks_per_sample * width;
    scratch.resize(static_cast<std::size_t>(buffers * L));
    block(Steps{order.data() + b * L, step_parent.data() + b * L, L},
          std::min(width, shape.channels - first), (b * shape.channels + first) * L, scratch.data());
  });
}

}  // namespace

template <class T>
void tree_scan_forward(ChannelShape shape, span<const T> x, span<const T> decay,
                       span<const index_t> order, span<const index_t> parent, ScanMode mode,
                       span<T> y) {
  detail::check_size(x, shape.numel(), "x");
  detail::check_size(y, shape.numel(), "y");
  const std::vector<index_t> step_parent = checked_schedule(shape, decay, order, parent);
  for_each_block<T>(shape, order, step_parent, 2,
                    [&](const Steps& s, index_t count, index_t offset, Lanes<T>* buffers) {
    forward_block(s, count, x.data() + offset, decay.data() + offset, mode, buffers,
                  y.data() + offset);
  });
}

template <class T>
void tree_scan_backward(ChannelShape shape, span<const T> grad_y, span<const T> x,
                        span<const T> decay, span<const index_t> order,
                        span<const index_t> parent, ScanMode mode, span<T> grad_x,
                        span<T> grad_decay) {
  for (auto [values, name] : {std::pair{grad_y, "grad_y"}, std::pair{x, "x"}})
    detail::check_size(values, shape.numel(), name);
  detail::check_size(grad_x, shape.numel(), "grad_x");
  detail::check_size(grad_decay, shape.numel(), "grad_decay");
  const std::vector<index_t> step_parent = checked_schedule(shape, decay, order, parent);
  for_each_block<T>(shape, order, step_parent, 3,
                    [&](const Steps& s, index_t count, index_t offset, Lanes<T>* buffers) {
    backward_block(s, count, grad_y.data() + offset, x.data() + offset, decay.data() + offset,
                   mode, buffers, grad_x.data() + offset, grad_decay.data() + offset);
  });
}

#define GROOT_INSTANTIATE(T)                                                                    \
  template void tree_scan_forward<T>(ChannelShape, span<const T>, span<const T>,                \
                                     span<const index_t>, span<const index_t>, ScanMode,        \
                                     span<T>);                                                  \
  template void tree_scan_backward<T>(ChannelShape, span<const T>, span<const T>, span<const T>, \
                                      span<const index_t>, span<const index_t>, ScanMode,       \
                                      span<T>, span<T>);
GROOT_INSTANTIATE(float)
GROOT_INSTANTIATE(double)
#undef GROOT_INSTANTIATE

}  // namespace groot
