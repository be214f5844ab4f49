#include <vector>

#include "groot/groot.hpp"
#include "harness.hpp"

using groot::index_t;

TEST(bfs_visits_levels_in_edge_order) {
  // Star around 2 with a tail: edges (2,0) (1,2) (2,3) (3,4).
  const std::vector<index_t> tree = {2, 0, 1, 2, 2, 3, 3, 4};
  std::vector<index_t> order(5), parent(5);
  groot::bfs({1, 5}, tree, 2, order, parent);
  CHECK((order == std::vector<index_t>{2, 0, 1, 3, 4}));
  CHECK((parent == std::vector<index_t>{2, 2, -1, 2, 3}));
  groot::validate_schedule({1, 5}, order, parent);
}

TEST(bfs_rejects_non_trees) {
  std::vector<index_t> order(4), parent(4);
  const std::vector<index_t> cycle = {0, 1, 1, 2, 2, 0};
  CHECK_THROWS(groot::bfs({1, 4}, cycle, 0, order, parent), "does not span");
  const std::vector<index_t> path = {0, 1, 1, 2, 2, 3};
  CHECK_THROWS(groot::bfs({1, 4}, path, 4, order, parent), "root");
  const std::vector<index_t> out_of_range = {0, 1, 1, 7, 2, 3};
  CHECK_THROWS(groot::bfs({1, 4}, out_of_range, 0, order, parent), "tree");
}

TEST(schedules_are_validated) {
  const std::vector<index_t> order = {0, 2, 1}, parent = {-1, 2, 0};
  groot::validate_schedule({1, 3}, order, parent);
  const std::vector<index_t> child_first = {0, 1, 2};
  CHECK_THROWS(groot::validate_schedule({1, 3}, child_first, parent), "before its child");
  const std::vector<index_t> repeated = {0, 2, 2};
  CHECK_THROWS(groot::validate_schedule({1, 3}, repeated, parent), "permutation");
}
