#include "output_cache.hpp"

#include "groot/torch.hpp"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace groot::adapter {
namespace {

constexpr std::size_t kMinCachedBytes = std::size_t(1) << 20;
constexpr std::size_t kDefaultLimit = std::size_t(256) << 20;
constexpr std::size_t kAlignment = 64;  // PyTorch's CPU alignment
// Sizes round up to this, so that outputs of nearly one size share blocks.
constexpr std::size_t kGranule = std::size_t(1) << 16;

// Set once the cache is destroyed at exit: tensors freed after that go straight to free().
std::atomic<bool> closed{false};

class OutputCache final : public c10::Allocator {
 public:
  ~OutputCache() override {
    closed = true;
    set_limit(0);
  }

  c10::DataPtr allocate(std::size_t bytes) override {
    if (bytes < kMinCachedBytes) return c10::GetCPUAllocator()->allocate(bytes);
    const std::size_t size = (bytes + kGranule - 1) / kGranule * kGranule;
    void* block = take(size);
    if (block == nullptr) {
      block = std::aligned_alloc(kAlignment, size);
      TORCH_CHECK(block != nullptr, "groot: out of memory allocating a ", bytes, "-byte CPU output");
      const std::lock_guard<std::mutex> lock(mutex_);
      sizes_.emplace(block, size);
    }
    return {block, block, &release, c10::Device(c10::DeviceType::CPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  void set_limit(std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    while (cached_ > limit_) {
      const auto largest = std::prev(free_.end());
      cached_ -= largest->first;
      sizes_.erase(largest->second);
      std::free(largest->second);
      free_.erase(largest);
    }
  }

  std::size_t cached() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  std::size_t limit() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }

  static OutputCache& instance() {
    static OutputCache cache;
    return cache;
  }

 private:
  void* take(std::size_t size) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto found = free_.find(size);
    if (found == free_.end()) return nullptr;
    void* block = found->second;
    cached_ -= size;
    free_.erase(found);
    return block;
  }

  static void release(void* block) {
    if (closed)
      std::free(block);
    else
      instance().keep(block);
  }

  void keep(void* block) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      const std::size_t size = sizes_.at(block);
      if (cached_ + size <= limit_) {
        free_.emplace(size, block);
        cached_ += size;
        return;
      }
      sizes_.erase(block);
    }
    std::free(block);
  }

  std::mutex mutex_;
  std::unordered_map<void*, std::size_t> sizes_;  // every block this cache allocated and not freed
  std::multimap<std::size_t, void*> free_;         // size -> block, for the blocks not in use
  std::size_t cached_ = 0;
  std::size_t limit_ = kDefaultLimit;
};

}  // namespace

at::Tensor empty_cpu_output(at::IntArrayRef sizes, at::ScalarType dtype) {
  return at::detail::empty_generic(sizes, &OutputCache::instance(), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                   dtype, std::nullopt);
}

}  // namespace groot::adapter

namespace groot::torch {

void set_cpu_output_cache_limit(std::size_t bytes) { adapter::OutputCache::instance().set_limit(bytes); }

std::size_t cpu_output_cache_bytes() { return adapter::OutputCache::instance().cached(); }

std::size_t cpu_output_cache_limit() { return adapter::OutputCache::instance().limit(); }

}  // namespace groot::torch
