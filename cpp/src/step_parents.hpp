// The parents of a schedule's BFS steps, the form in which the tree scan reads a schedule.
#pragma once

#include <vector>

#include "groot/span.hpp"
#include "groot/types.hpp"

namespace groot::detail {

// Checks (order, parent) as validate_schedule does and returns step_parent (B, L) with
// step_parent[b, k] = parent[b, order[b, k]], -1 at step 0. Parallel over samples.
std::vector<index_t> checked_step_parents(TreeShape shape, span<const index_t> order,
                                          span<const index_t> parent);

}  // namespace groot::detail
