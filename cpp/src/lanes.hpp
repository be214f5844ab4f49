// Lanes<T>: one vertex's values for a block of channels, 32 bytes, with elementwise arithmetic.
//
// Under GCC and Clang the value is a vector extension type, so `a * b + c` is SIMD code on every
// target (one AVX register, or two SSE ones) whatever the optimiser makes of the loop around it;
// elsewhere it is an array with elementwise loops.
#pragma once

namespace groot::detail {

#if defined(__GNUC__)
template <class T>
struct VectorOf32Bytes {
  typedef T type __attribute__((vector_size(32)));
};
#else
template <class T>
struct VectorOf32Bytes {
  struct type {
    T e[32 / sizeof(T)];
    T& operator[](int c) { return e[c]; }
    const T& operator[](int c) const { return e[c]; }
  };
};
#endif

template <class T>
struct alignas(32) Lanes {
  static constexpr int width = 32 / sizeof(T);
  typename VectorOf32Bytes<T>::type v;

  // The lanes as an array (vector extension types alias their element type).
  T* data() { return reinterpret_cast<T*>(&v); }
  const T* data() const { return reinterpret_cast<const T*>(&v); }

  static Lanes splat(T value) {
    Lanes out;
    for (int c = 0; c < width; ++c) out.v[c] = value;
    return out;
  }
};

#if defined(__GNUC__)
template <class T>
inline Lanes<T> operator+(const Lanes<T>& a, const Lanes<T>& b) { return {a.v + b.v}; }
template <class T>
inline Lanes<T> operator-(const Lanes<T>& a, const Lanes<T>& b) { return {a.v - b.v}; }
template <class T>
inline Lanes<T> operator*(const Lanes<T>& a, const Lanes<T>& b) { return {a.v * b.v}; }
#else
template <class T, class Op>
inline Lanes<T> elementwise(const Lanes<T>& a, const Lanes<T>& b, Op op) {
  Lanes<T> out;
  for (int c = 0; c < Lanes<T>::width; ++c) out.v[c] = op(a.v[c], b.v[c]);
  return out;
}
template <class T>
inline Lanes<T> operator+(const Lanes<T>& a, const Lanes<T>& b) {
  return elementwise(a, b, [](T p, T q) { return p + q; });
}
template <class T>
inline Lanes<T> operator-(const Lanes<T>& a, const Lanes<T>& b) {
  return elementwise(a, b, [](T p, T q) { return p - q; });
}
template <class T>
inline Lanes<T> operator*(const Lanes<T>& a, const Lanes<T>& b) {
  return elementwise(a, b, [](T p, T q) { return p * q; });
}
#endif

}  // namespace groot::detail
