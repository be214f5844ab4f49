#include "groot/types.hpp"

#include "groot/error.hpp"

namespace groot {

Metric parse_metric(std::string_view name) {
  if (name == "cosine") return Metric::cosine;
  if (name == "l1") return Metric::l1;
  if (name == "l2") return Metric::l2;
  detail::throw_invalid("metric must be 'cosine', 'l1' or 'l2', got '", name, "'");
}

ScanMode parse_scan_mode(std::string_view name) {
  if (name == "all") return ScanMode::all;
  if (name == "root") return ScanMode::root;
  detail::throw_invalid("mode must be 'all' or 'root', got '", name, "'");
}

}  // namespace groot
