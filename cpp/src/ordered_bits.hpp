// Unsigned integers that sort like floating-point weights: the MST's comparison key, on the CPU
// and in the CUDA kernels alike.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GROOT_HOST_DEVICE __host__ __device__
#else
#define GROOT_HOST_DEVICE
#endif

namespace groot::detail {

// For finite weights: a < b exactly when ordered_bits(a) < ordered_bits(b). -0 and +0 are equal
// weights and share one key.
GROOT_HOST_DEVICE inline std::uint32_t ordered_bits(float w) {
  if (w == 0) w = 0;
  std::uint32_t bits;
  std::memcpy(&bits, &w, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

GROOT_HOST_DEVICE inline std::uint64_t ordered_bits(double w) {
  if (w == 0) w = 0;
  std::uint64_t bits;
  std::memcpy(&bits, &w, sizeof bits);
  return (bits >> 63) ? ~bits : bits | (std::uint64_t{1} << 63);
}

}  // namespace groot::detail
