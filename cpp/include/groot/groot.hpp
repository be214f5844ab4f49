// The groot core: graphs, minimum spanning trees, BFS schedules and tree scans.
#pragma once

#include "groot/bfs.hpp"
#include "groot/edge_weights.hpp"
#include "groot/error.hpp"
#include "groot/graph.hpp"
#include "groot/mst.hpp"
#include "groot/parallel.hpp"
#include "groot/span.hpp"
#include "groot/tree_scan.hpp"
#include "groot/types.hpp"
