#include "groot/graph.hpp"

#include "checks.hpp"

namespace groot {

index_t grid_edge_count(index_t height, index_t width) {
  detail::check_non_negative(height, "height");
  detail::check_non_negative(width, "width");
  if (height == 0 || width == 0) return 0;
  return (height - 1) * width + height * (width - 1);
}

void grid_edges(index_t height, index_t width, span<index_t> edges) {
  detail::check_size(edges, 2 * grid_edge_count(height, width), "edges");
  index_t* out = edges.data();
  for (index_t r = 0; r + 1 < height; ++r) {
    for (index_t c = 0; c < width; ++c) {
      *out++ = r * width + c;
      *out++ = (r + 1) * width + c;
    }
  }
  for (index_t r = 0; r < height; ++r) {
    for (index_t c = 0; c + 1 < width; ++c) {
      *out++ = r * width + c;
      *out++ = r * width + c + 1;
    }
  }
}

index_t sequence_edge_count(index_t length, index_t window) {
  detail::check_non_negative(length, "length");
  GROOT_CHECK(window >= 1, "window must be at least 1, got ", window);
  index_t count = 0;
  for (index_t j = 1; j <= window && j < length; ++j) count += length - j;
  return count;
}

void sequence_edges(index_t length, index_t window, span<index_t> edges) {
  detail::check_size(edges, 2 * sequence_edge_count(length, window), "edges");
  index_t* out = edges.data();
  for (index_t j = 1; j <= window && j < length; ++j) {
    for (index_t t = j; t < length; ++t) {
      *out++ = t - j;
      *out++ = t;
    }
  }
}

}  // namespace groot
