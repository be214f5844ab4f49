// CPU tree scan. One task per (sample, channel); the passes run in place in the output rows.
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
#include "groot/tree_scan.hpp"

#include <algorithm>
#include <vector>

#include "groot/bfs.hpp"
#include "checks.hpp"
#include "parallel_for.hpp"

namespace groot {
namespace {

struct Schedule {
  const index_t* order;
  const index_t* parent;
  index_t vertices;
};

// values_v += Σ_children w_c values_c, children before parents.
template <class T>
void gather_up(const Schedule& s, const T* w, T* values) {
  for (index_t k = s.vertices - 1; k > 0; --k) {
    const index_t v = s.order[k];
    values[s.parent[v]] += w[v] * values[v];
  }
}

template <class T>
void check_scan_arguments(ChannelShape shape, span<const T> decay, span<const index_t> order,
                          span<const index_t> parent) {
  const index_t numel = shape.numel();
  detail::check_non_negative(shape.batch, "batch");
  detail::check_non_negative(shape.channels, "channels");
  GROOT_CHECK(shape.vertices >= 1, "the scan needs at least one vertex, got L = ", shape.vertices);
  detail::check_size(decay, numel, "decay");
  validate_schedule({shape.batch, shape.vertices}, order, parent);
}

}  // namespace

template <class T>
void tree_scan_forward(ChannelShape shape, span<const T> x, span<const T> decay,
                       span<const index_t> order, span<const index_t> parent, ScanMode mode,
                       span<T> y) {
  detail::check_size(x, shape.numel(), "x");
  detail::check_size(y, shape.numel(), "y");
  check_scan_arguments(shape, decay, order, parent);
  const index_t L = shape.vertices;
  detail::parallel_for(shape.batch * shape.channels, 4 * L, [&](index_t row) {
    const index_t b = row / shape.channels;
    const Schedule s{order.data() + b * L, parent.data() + b * L, L};
    const T* w = decay.data() + row * L;
    T* out = y.data() + row * L;
    std::copy_n(x.data() + row * L, L, out);
    gather_up(s, w, out);
    if (mode == ScanMode::root) return;
    for (index_t k = 1; k < L; ++k) {
      const index_t v = s.order[k];
      out[v] = out[v] * (T(1) - w[v] * w[v]) + w[v] * out[s.parent[v]];
    }
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
  check_scan_arguments(shape, decay, order, parent);
  const index_t L = shape.vertices;
  detail::parallel_for(shape.batch * shape.channels, 8 * L, [&](index_t row) {
    thread_local std::vector<T> scratch;
    scratch.resize(static_cast<std::size_t>(L));
    const index_t b = row / shape.channels;
    const Schedule s{order.data() + b * L, parent.data() + b * L, L};
    const T* w = decay.data() + row * L;
    T* up = scratch.data();  // up(x), then y (mode all)
    T* gx = grad_x.data() + row * L;
    T* gw = grad_decay.data() + row * L;
    std::copy_n(x.data() + row * L, L, up);
    gather_up(s, w, up);
    std::copy_n(grad_y.data() + row * L, L, gx);
    gw[s.order[0]] = T(0);
    if (mode == ScanMode::root) {
      for (index_t k = 1; k < L; ++k) {
        const index_t v = s.order[k], p = s.parent[v];
        gx[v] += w[v] * gx[p];
        gw[v] = gx[p] * up[v];
      }
      return;
    }
    gather_up(s, w, gx);
    for (index_t k = 1; k < L; ++k) {
      const index_t v = s.order[k], p = s.parent[v];
      const T wv = w[v], up_x = up[v], up_g = gx[v];
      gw[v] = up_g * (up[p] - wv * up_x) + up_x * (gx[p] - wv * up_g);
      up[v] = up_x * (T(1) - wv * wv) + wv * up[p];
      gx[v] = up_g * (T(1) - wv * wv) + wv * gx[p];
    }
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
