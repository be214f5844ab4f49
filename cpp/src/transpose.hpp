// Square tile transposes between channel-major rows and vertex-major Lanes: a tile is
// Lanes<T>::width channels by as many vertices.
#pragma once

#include <cstring>

#include "groot/types.hpp"
#include "lanes.hpp"

namespace groot::detail {

template <class T>
using Vector = decltype(Lanes<T>::v);

#if defined(__GNUC__)
// The tile stays in registers: rounds of two-input shuffles, each pairing elements at half the
// distance of the round before (in-lane unpacks, then in-lane pair moves for float, then 128-bit
// halves), which GCC and Clang lower to unpck/shufps/vperm2f128 under AVX, to SSE without it.
typedef int ShuffleOf8 __attribute__((vector_size(32)));
typedef long long ShuffleOf4 __attribute__((vector_size(32)));
#if defined(__clang__)
#define GROOT_SHUFFLE(Index, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define GROOT_SHUFFLE(Index, a, b, ...) __builtin_shuffle(a, b, Index{__VA_ARGS__})
#endif

// Rows are only as aligned as T: vector loads and stores through a type that says so.
template <class T>
struct UnalignedVector {
  typedef T type __attribute__((vector_size(32), aligned(sizeof(T)), may_alias));
};

template <class T>
inline void load_vector(const T* from, Vector<T>& to) {
  to = *reinterpret_cast<const typename UnalignedVector<T>::type*>(from);
}

template <class T>
inline void store_vector(const Vector<T>& value, T* to) {
  *reinterpret_cast<typename UnalignedVector<T>::type*>(to) = value;
}

// In place: r[j] becomes column j of the tile whose rows r held.
inline void transpose_in_registers(Vector<float>* r) {
  Vector<float> t[8], s[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = GROOT_SHUFFLE(ShuffleOf8, r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = GROOT_SHUFFLE(ShuffleOf8, r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4) {
    for (int h = 0; h < 2; ++h) {
      s[i + 2 * h] = GROOT_SHUFFLE(ShuffleOf8, t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      s[i + 2 * h + 1] =
          GROOT_SHUFFLE(ShuffleOf8, t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = GROOT_SHUFFLE(ShuffleOf8, s[j], s[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[j + 4] = GROOT_SHUFFLE(ShuffleOf8, s[j], s[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

inline void transpose_in_registers(Vector<double>* r) {
  Vector<double> t[4];
  for (int i = 0; i < 4; i += 2) {
    t[i] = GROOT_SHUFFLE(ShuffleOf4, r[i], r[i + 1], 0, 4, 2, 6);
    t[i + 1] = GROOT_SHUFFLE(ShuffleOf4, r[i], r[i + 1], 1, 5, 3, 7);
  }
  for (int j = 0; j < 2; ++j) {
    r[j] = GROOT_SHUFFLE(ShuffleOf4, t[j], t[j + 2], 0, 1, 4, 5);
    r[j + 2] = GROOT_SHUFFLE(ShuffleOf4, t[j], t[j + 2], 2, 3, 6, 7);
  }
}
#undef GROOT_SHUFFLE
#else

template <class T>
inline void load_vector(const T* from, Vector<T>& to) {
  std::memcpy(&to, from, sizeof(to));
}

template <class T>
inline void store_vector(const Vector<T>& value, T* to) {
  std::memcpy(to, &value, sizeof(value));
}

template <class Tile>
inline void transpose_in_registers(Tile* r) {
  constexpr int width = sizeof(Tile) / sizeof(r[0][0]);
  for (int i = 0; i < width; ++i)
    for (int j = i + 1; j < width; ++j) {
      const auto upper = r[i][j];
      r[i][j] = r[j][i];
      r[j][i] = upper;
    }
}
#endif

// lanes[j].v[i] = rows[i * stride + j] for i, j < width.
template <class T>
inline void load_tile(const T* rows, index_t stride, Lanes<T>* lanes) {
  constexpr int width = Lanes<T>::width;
  Vector<T> tile[width];
  for (int i = 0; i < width; ++i) load_vector(rows + i * stride, tile[i]);
  transpose_in_registers(tile);
  for (int j = 0; j < width; ++j) lanes[j].v = tile[j];
}

// rows[i * stride + j] = lanes[j].v[i] for i, j < width.
template <class T>
inline void store_tile(const Lanes<T>* lanes, T* rows, index_t stride) {
  constexpr int width = Lanes<T>::width;
  Vector<T> tile[width];
  for (int j = 0; j < width; ++j) tile[j] = lanes[j].v;
  transpose_in_registers(tile);
  for (int i = 0; i < width; ++i) store_vector(tile[i], rows + i * stride);
}

}  // namespace groot::detail
