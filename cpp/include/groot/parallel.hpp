// How the core's batched CPU loops run in parallel: on how many threads, and on whose.
#pragma once

#include <functional>

#include "groot/types.hpp"

namespace groot {

// Defaults to the hardware concurrency; set_num_threads(n < 1) restores the default.
int num_threads();
void set_num_threads(int n);

// Runs body(begin, end) over at most `workers` consecutive ranges that together cover [0, n), in
// parallel, and returns once all have run. The core's body never throws.
using ParallelBody = std::function<void(index_t begin, index_t end)>;
using ParallelRunner = std::function<void(index_t n, index_t workers, const ParallelBody& body)>;

// The loops start threads of their own unless a runner is set. A framework with a thread pool of
// its own should pass it here, so that two pools do not take turns on the same cores (an OpenMP
// pool keeps its threads spinning for a while after each of its loops). An empty runner restores
// the core's threads. Set it before any loop runs, not while one does. Each thread keeps its
// loops' scratch between calls (a scan's: up to ~200 bytes a vertex), the runner's threads too.
void set_parallel_runner(ParallelRunner runner);
const ParallelRunner& parallel_runner();

}  // namespace groot
