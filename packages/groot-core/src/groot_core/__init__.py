"""groot_core: tree-topology scans (GrootVL, arXiv 2406.02395) for PyTorch and NumPy.

Build a tree over a graph (:func:`grid_edges`, :func:`sequence_edges`, :func:`edge_weights`,
:func:`minimum_spanning_tree`, :func:`bfs`, or :func:`grid_tree` in one call), then aggregate
features along it with :func:`tree_scan`. :mod:`groot_core.reference` holds slow pure-PyTorch
twins; :mod:`groot_core.numpy` the same functions on NumPy arrays; :mod:`groot_core.memory` the
cache that CPU scan outputs come from.
"""

from ._types import BFS, Metric, ScanMode
from .memory import cpu_output_cache_bytes, cpu_output_cache_limit, set_cpu_output_cache_limit
from .ops import with_cuda
from .scan import tree_scan
from .trees import bfs, edge_weights, grid_edges, grid_tree, minimum_spanning_tree, sequence_edges

__version__ = "0.1.0"

__all__ = [
    "BFS",
    "Metric",
    "ScanMode",
    "bfs",
    "cpu_output_cache_bytes",
    "cpu_output_cache_limit",
    "edge_weights",
    "grid_edges",
    "grid_tree",
    "minimum_spanning_tree",
    "sequence_edges",
    "set_cpu_output_cache_limit",
    "tree_scan",
    "with_cuda",
]
