// Helpers shared by the CUDA kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "groot/cuda.hpp"

namespace groot::cuda::detail {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw CudaError(std::string(what) + ": " + cudaGetErrorString(status));
}

// Checks the launch that just happened (configuration errors surface here, not at sync).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// An attribute of the current device (multiprocessors, shared memory per block, ...).
inline int device_attribute(cudaDeviceAttr attribute) {
  int device = 0, value = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&value, attribute, device), "cudaDeviceGetAttribute");
  return value;
}

// What the driver says of a kernel's dynamic shared memory on one device: the most it may take
// beside its static shared memory, and the most it has been allowed so far. Asked once per kernel
// and device and kept, since the queries are driver calls at every launch otherwise.
struct SharedMemoryGrant {
  std::size_t most = 0;
  std::size_t allowed = 0;
};

class SharedMemoryGrants {
 public:
  // Calls update(grant) on `kernel`'s grant on the current device, under the table's lock, and
  // returns the grant as it leaves it.
  template <class Update>
  static SharedMemoryGrant with(const void* kernel, Update&& update) {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    const Key key{kernel, device};
    std::unique_lock<std::mutex> lock(mutex());
    auto found = table().find(key);
    if (found == table().end()) {
      lock.unlock();  // ask the driver unlocked; a grant is only stored once it is whole
      const SharedMemoryGrant fresh{most_beside(kernel), 0};
      lock.lock();
      found = table().emplace(key, fresh).first;
    }
    update(found->second);
    return found->second;
  }

 private:
  using Key = std::pair<const void*, int>;
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<Key, SharedMemoryGrant>& table() {
    static std::map<Key, SharedMemoryGrant> t;
    return t;
  }
  // On the current device (the key's).
  static std::size_t most_beside(const void* kernel) {
    cudaFuncAttributes attributes{};
    check(cudaFuncGetAttributes(&attributes, kernel), "cudaFuncGetAttributes");
    return static_cast<std::size_t>(device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin)) -
           attributes.sharedSizeBytes;
  }
};

// The most dynamic shared memory `kernel` may launch with on the current device, beside its own.
template <class Kernel>
std::size_t max_dynamic_shared(Kernel* kernel) {
  return SharedMemoryGrants::with(reinterpret_cast<const void*>(kernel), [](SharedMemoryGrant&) {}).most;
}

// Whether `dynamic_bytes` of shared memory fit on the current device beside `kernel`'s own.
template <class Kernel>
bool fits_in_shared(Kernel* kernel, std::size_t dynamic_bytes) {
  return dynamic_bytes <= max_dynamic_shared(kernel);
}

// Lets `kernel` launch with up to `wanted` bytes of dynamic shared memory (beyond 48 KB a kernel
// must opt in) and returns what it may take: `wanted`, clipped to what the device allows.
template <class Kernel>
std::size_t allow_dynamic_shared(Kernel* kernel, std::size_t wanted) {
  std::size_t bytes = 0;
  SharedMemoryGrants::with(reinterpret_cast<const void*>(kernel), [&](SharedMemoryGrant& grant) {
    bytes = std::min(wanted, grant.most);
    if (bytes <= grant.allowed) return;
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
          "cudaFuncSetAttribute");
    grant.allowed = bytes;
  });
  return bytes;
}

inline unsigned blocks_for(index_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// Accumulation type: float for float/half/bfloat16 storage, double for double.
template <class T>
struct Accumulator {
  using type = float;
};
template <>
struct Accumulator<double> {
  using type = double;
};
template <class T>
using acc_t = typename Accumulator<T>::type;

template <class A, class T>
__device__ __forceinline__ A load_as(const T* p) {
  return static_cast<A>(*p);
}
template <>
__device__ __forceinline__ float load_as<float, __half>(const __half* p) {
  return __half2float(*p);
}
template <>
__device__ __forceinline__ float load_as<float, __nv_bfloat16>(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}

template <class T, class A>
__device__ __forceinline__ T store_as(A value) {
  return static_cast<T>(value);
}
template <>
__device__ __forceinline__ __half store_as<__half, float>(float value) {
  return __float2half(value);
}
template <>
__device__ __forceinline__ __nv_bfloat16 store_as<__nv_bfloat16, float>(float value) {
  return __float2bfloat16(value);
}

// Carves typed arrays out of one workspace allocation, each aligned to 256 bytes. Used twice:
// once with base = nullptr to size the workspace, once to lay it out.
class WorkspaceLayout {
 public:
  explicit WorkspaceLayout(void* base = nullptr) : base_(static_cast<char*>(base)) {}
  template <class T>
  T* take(std::size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* p = reinterpret_cast<T*>(base_ + offset_);
    offset_ += count * sizeof(T);
    return p;
  }
  std::size_t bytes() const { return offset_; }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

}  // namespace groot::cuda::detail
