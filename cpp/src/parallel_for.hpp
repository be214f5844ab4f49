// Runs fn(i) for i in [0, n) on up to num_threads() threads, the core's own or the parallel
// runner's. If calls throw, the exception of the lowest i is rethrown on the caller's thread once
// all threads have stopped: the same error as a sequential loop, whatever the timing.
#pragma once

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "groot/parallel.hpp"
#include "groot/types.hpp"

namespace groot::detail {

// `cost_per_item` (rough element count) keeps small problems on the caller's thread, where
// starting threads would cost more than the work.
template <class Fn>
void parallel_for(index_t n, index_t cost_per_item, Fn&& fn) {
  constexpr index_t kMinCostPerThread = 1 << 15;
  const index_t by_cost = std::max<index_t>(1, n * cost_per_item / kMinCostPerThread);
  const index_t workers = std::min<index_t>({static_cast<index_t>(num_threads()), n, by_cost});
  if (workers <= 1) {
    for (index_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::exception_ptr error;
  index_t error_at = n;
  std::mutex error_mutex;
  auto run_range = [&](index_t begin, index_t end) {
    index_t i = begin;
    try {
      for (; i < end; ++i) fn(i);
    } catch (...) {
      // Each range stops at its first failure and ranges ascend, so the lowest failing i is the
      // lowest of the ranges' first failures.
      std::lock_guard<std::mutex> lock(error_mutex);
      if (i < error_at) {
        error_at = i;
        error = std::current_exception();
      }
    }
  };
  if (const ParallelRunner& runner = parallel_runner()) {
    runner(n, workers, run_range);
  } else {
    const auto run_worker = [&](index_t worker) {
      run_range(n * worker / workers, n * (worker + 1) / workers);
    };
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(workers - 1));
    for (index_t worker = 1; worker < workers; ++worker) threads.emplace_back(run_worker, worker);
    run_worker(0);
    for (auto& thread : threads) thread.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace groot::detail
