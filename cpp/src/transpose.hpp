// Small square tile transposes between channel-major rows and vertex-major lanes.
#pragma once

#include "groot/types.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define GROOT_SSE2 1
#endif

namespace groot::detail {

// Side of the tile that transpose_tile moves: one 16-byte vector of T.
template <class T>
constexpr index_t kTile = 16 / sizeof(T);

// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < kTile<T>.
template <class T>
inline void transpose_tile(const T* src, index_t src_stride, T* dst, index_t dst_stride) {
  for (index_t i = 0; i < kTile<T>; ++i)
    for (index_t j = 0; j < kTile<T>; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
}

#ifdef GROOT_SSE2
template <>
inline void transpose_tile<float>(const float* src, index_t src_stride, float* dst,
                                  index_t dst_stride) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + src_stride);
  __m128 r2 = _mm_loadu_ps(src + 2 * src_stride), r3 = _mm_loadu_ps(src + 3 * src_stride);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + dst_stride, r1);
  _mm_storeu_ps(dst + 2 * dst_stride, r2);
  _mm_storeu_ps(dst + 3 * dst_stride, r3);
}

template <>
inline void transpose_tile<double>(const double* src, index_t src_stride, double* dst,
                                   index_t dst_stride) {
  const __m128d r0 = _mm_loadu_pd(src), r1 = _mm_loadu_pd(src + src_stride);
  _mm_storeu_pd(dst, _mm_unpacklo_pd(r0, r1));
  _mm_storeu_pd(dst + dst_stride, _mm_unpackhi_pd(r0, r1));
}
#endif

}  // namespace groot::detail
