"""Visualisations of tree-topology scanning as NumPy arrays and PIL images (no Gradio here).

Affinity maps S(click, ·) under the tree, raster and cross scans; the spanning tree drawn over an
image; BFS depth; edge-weight histograms; per-pixel features from colour and position or from a
GrootV backbone.
"""

from .affinity import (
    chain_affinity,
    column_order,
    cross_affinity_map,
    raster_affinity_map,
    raster_order,
    tree_affinity,
    tree_affinity_map,
)
from .canvas import blend, display_scale, mark_cell, upscale
from .colormap import apply_colormap, log_scale
from .decay import EdgeDecay
from .depth import bfs_depth
from .features import colour_position_features, fit_to_grid
from .grootv_features import CheckpointError, GrootVUnavailable, grootv_features, load_grootv
from .histogram import weight_histogram
from .tree_overlay import draw_tree

__all__ = [
    "CheckpointError",
    "EdgeDecay",
    "GrootVUnavailable",
    "apply_colormap",
    "bfs_depth",
    "blend",
    "chain_affinity",
    "colour_position_features",
    "column_order",
    "cross_affinity_map",
    "display_scale",
    "draw_tree",
    "fit_to_grid",
    "grootv_features",
    "load_grootv",
    "log_scale",
    "mark_cell",
    "raster_affinity_map",
    "raster_order",
    "tree_affinity",
    "tree_affinity_map",
    "upscale",
    "weight_histogram",
]
