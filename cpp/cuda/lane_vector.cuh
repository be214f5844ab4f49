// A lane's channels as a small vector: W values in the accumulation type with elementwise
// arithmetic rounded as written, loaded from and stored to rows of any storage type as one
// aligned access.
#pragma once

#include "common.cuh"

namespace groot::cuda {
namespace {

// Arithmetic rounded as written: the compiler may not fuse a product into a sum on its own. It
// fused `a * b + c * d` differently for one channel a lane and for two, so results moved in the
// last bit with the rows' alignment; `mul_add` is the one fused step, placed by hand.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub_rn(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float fma_rn(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ __forceinline__ double fma_rn(double a, double b, double c) { return __fma_rn(a, b, c); }

// A lane's W channels in the accumulation type A, with elementwise arithmetic, so that the scan
// formulas read the same for one channel or several.
template <class A, int W>
struct Vec {
  A v[W];

  __device__ static Vec fill(A value) {
    Vec out;
#pragma unroll
    for (int j = 0; j < W; ++j) out.v[j] = value;
    return out;
  }
  template <class Op>
  __device__ friend Vec zip(const Vec& a, const Vec& b, Op op) {
    Vec out;
#pragma unroll
    for (int j = 0; j < W; ++j) out.v[j] = op(a.v[j], b.v[j]);
    return out;
  }
  __device__ friend Vec operator+(const Vec& a, const Vec& b) {
    return zip(a, b, [](A x, A y) { return add_rn(x, y); });
  }
  __device__ friend Vec operator-(const Vec& a, const Vec& b) {
    return zip(a, b, [](A x, A y) { return sub_rn(x, y); });
  }
  __device__ friend Vec operator*(const Vec& a, const Vec& b) {
    return zip(a, b, [](A x, A y) { return mul_rn(x, y); });
  }
  // a * b + c in one rounding.
  __device__ friend Vec mul_add(const Vec& a, const Vec& b, Vec c) {
#pragma unroll
    for (int j = 0; j < W; ++j) c.v[j] = fma_rn(a.v[j], b.v[j], c.v[j]);
    return c;
  }
};

// W elements of T as one aligned access: a vector load or store where W * sizeof(T) allows.
template <class T, int W>
struct alignas(W * sizeof(T)) Chunk {
  T v[W];
};

template <class A, int W, class T>
__device__ __forceinline__ Vec<A, W> load_vec(const T* p) {
  const Chunk<T, W> chunk = *reinterpret_cast<const Chunk<T, W>*>(p);
  Vec<A, W> out;
#pragma unroll
  for (int j = 0; j < W; ++j) out.v[j] = detail::load_as<A>(&chunk.v[j]);
  return out;
}

template <class T, class A, int W>
__device__ __forceinline__ void store_vec(T* p, const Vec<A, W>& value) {
  Chunk<T, W> chunk;
#pragma unroll
  for (int j = 0; j < W; ++j) chunk.v[j] = detail::store_as<T>(value.v[j]);
  *reinterpret_cast<Chunk<T, W>*>(p) = chunk;
}

}  // namespace
}  // namespace groot::cuda
