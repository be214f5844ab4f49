// Index type and problem shapes shared by every part of the core.
#pragma once

#include <cstdint>
#include <string_view>

namespace groot {

// Vertex and edge ids, and every size; matches torch.int64 and numpy.int64.
using index_t = std::int64_t;

// B graphs of L vertices, each with E edges. With shared_edges one (E, 2) edge list serves every
// graph; otherwise the edge list is (B, E, 2).
struct GraphShape {
  index_t batch = 0;
  index_t vertices = 0;
  index_t edges = 0;
  bool shared_edges = true;
};

// B trees of L vertices.
struct TreeShape {
  index_t batch = 0;
  index_t vertices = 0;
};

// Features or scan inputs laid out (B, C, L), contiguous.
struct ChannelShape {
  index_t batch = 0;
  index_t channels = 0;
  index_t vertices = 0;
  index_t numel() const { return batch * channels * vertices; }
};

enum class Metric { cosine, l1, l2 };

// How (B, C, L) features lie in memory: per sample, C rows of L values (channel-major, a contiguous
// (B, C, L) array) or L rows of C values (vertex-major: the (B, L, C) array of a channels-last model).
enum class FeatureLayout { channel_major, vertex_major };
enum class ScanMode { all, root };

// Parse "cosine" | "l1" | "l2"; throws InvalidArgument naming `metric` otherwise.
Metric parse_metric(std::string_view name);
// Parse "all" | "root"; throws InvalidArgument naming `mode` otherwise.
ScanMode parse_scan_mode(std::string_view name);

}  // namespace groot
