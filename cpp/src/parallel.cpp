#include "groot/parallel.hpp"

#include <atomic>
#include <thread>
#include <utility>

namespace groot {
namespace {
std::atomic<int> configured_threads{0};

ParallelRunner& runner_slot() {
  static ParallelRunner runner;
  return runner;
}
}  // namespace

int num_threads() {
  const int configured = configured_threads.load(std::memory_order_relaxed);
  if (configured > 0) return configured;
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

void set_num_threads(int n) { configured_threads.store(n > 0 ? n : 0, std::memory_order_relaxed); }

void set_parallel_runner(ParallelRunner runner) { runner_slot() = std::move(runner); }

const ParallelRunner& parallel_runner() { return runner_slot(); }

}  // namespace groot
