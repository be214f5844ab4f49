#include <algorithm>
#include <utility>
#include <vector>

#include "groot/groot.hpp"
#include "harness.hpp"

using groot::index_t;

namespace {

// Paths 0-1-…-(V-1) in order, for `batch` samples: valid schedules the checks walk in parallel.
struct Paths {
  std::vector<index_t> order, parent;
};

Paths paths(index_t batch, index_t vertices) {
  Paths p;
  for (index_t b = 0; b < batch; ++b)
    for (index_t v = 0; v < vertices; ++v) {
      p.order.push_back(v);
      p.parent.push_back(v - 1);
    }
  return p;
}

}  // namespace

TEST(loops_run_on_a_parallel_runner_and_report_the_lowest_failure) {
  const index_t batch = 64, vertices = 2000;
  groot::set_num_threads(4);
  std::vector<std::pair<index_t, index_t>> ranges;
  // Runs the ranges last first, on the calling thread: the first failure met is not the lowest.
  groot::set_parallel_runner([&](index_t n, index_t workers, const groot::ParallelBody& body) {
    for (index_t w = workers - 1; w >= 0; --w) {
      ranges.emplace_back(n * w / workers, n * (w + 1) / workers);
      body(ranges.back().first, ranges.back().second);
    }
  });
  Paths p = paths(batch, vertices);
  groot::validate_schedule({batch, vertices}, p.order, p.parent);
  CHECK(ranges.size() == 4);
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 0; i < ranges.size(); ++i)
    CHECK(ranges[i].first == (i == 0 ? 0 : ranges[i - 1].second));
  CHECK(ranges.back().second == batch);
  for (index_t b : {20, 50}) p.order[b * vertices + 7] = 3;
  CHECK_THROWS(groot::validate_schedule({batch, vertices}, p.order, p.parent), "batch 20");
  groot::set_parallel_runner({});
  ranges.clear();
  CHECK_THROWS(groot::validate_schedule({batch, vertices}, p.order, p.parent), "batch 20");
  CHECK(ranges.empty());
  groot::set_num_threads(0);
}
