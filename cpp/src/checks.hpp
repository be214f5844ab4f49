// Argument checks shared by the core's entry points.
#pragma once

#include "groot/error.hpp"
#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot::detail {

template <class T>
void check_size(span<T> values, index_t expected, const char* name) {
  GROOT_CHECK(static_cast<index_t>(values.size()) == expected, name, " must hold ", expected,
              " values, got ", values.size());
}

inline void check_non_negative(index_t value, const char* name) {
  GROOT_CHECK(value >= 0, name, " must be non-negative, got ", value);
}

inline void check_vertex(index_t vertex, index_t vertices, const char* name) {
  GROOT_CHECK(vertex >= 0 && vertex < vertices, name, " holds vertex id ", vertex,
              ", out of range for ", vertices, " vertices");
}

}  // namespace groot::detail
