"""One pass of the demo: features → spanning tree → the three affinity maps, depth and histogram, timed.

Everything here returns arrays and PIL images; :mod:`groot_demo.app` only wires it to Gradio.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import groot_core
import numpy as np
import torch
from PIL import Image

from .visualize import (
    EdgeDecay,
    apply_colormap,
    bfs_depth,
    blend,
    colour_position_features,
    cross_affinity_map,
    display_scale,
    draw_tree,
    fit_to_grid,
    grootv_features,
    log_scale,
    mark_cell,
    raster_affinity_map,
    tree_affinity_map,
    upscale,
    weight_histogram,
)

if TYPE_CHECKING:
    from groot_core import BFS

COLOUR_POSITION = "colour + position"
# Feature source shown to the user → GrootV stage (None: raw colour and position).
FEATURE_SOURCES: dict[str, int | None] = {COLOUR_POSITION: None, "GrootV stage 1": 1, "GrootV stage 2": 2}
METRICS = ("cosine", "l1", "l2")
AFFINITY_FLOOR = 1e-4


@dataclass(frozen=True)
class GridFeatures:
    """Per-cell features ``(1, C, H, W)`` and the image resampled to the same H×W grid ``(H, W, 3)`` uint8."""

    features: torch.Tensor
    rgb: np.ndarray
    milliseconds: float


@dataclass(frozen=True)
class Exploration:
    """What one click shows. Maps are ``(H, W)`` float in [0, 1]; ``depth`` ``(H, W)`` int64.

    ``milliseconds`` maps each timed step (spanning tree, BFS, each scan) to its wall time.
    """

    cell: tuple[int, int]
    tree: BFS
    tree_edges: torch.Tensor
    grid_weights: np.ndarray
    tree_weights: np.ndarray
    tree_map: np.ndarray
    raster_map: np.ndarray
    cross_map: np.ndarray
    depth: np.ndarray
    milliseconds: dict[str, float]


@dataclass(frozen=True)
class Views:
    """Display images (PIL RGB) of an :class:`Exploration`; all but ``histogram`` share one size."""

    image: Image.Image
    tree_map: Image.Image
    raster_map: Image.Image
    cross_map: Image.Image
    tree_overlay: Image.Image
    depth: Image.Image
    histogram: Image.Image


def compute_features(
    image: Image.Image,
    source: str,
    size: int,
    load_model: Callable[[], torch.nn.Module],
    device: torch.device,
) -> GridFeatures:
    """Features of an RGB ``image`` on a grid whose longer side is ``size`` (colour + position) or
    ``size`` / stride (GrootV stage 1: 4, stage 2: 8). ``load_model`` is called only for GrootV sources.
    """
    if source not in FEATURE_SOURCES:
        raise ValueError(f"feature source must be one of {list(FEATURE_SOURCES)}, got {source!r}")
    stage = FEATURE_SOURCES[source]
    resized = fit_to_grid(image, size)
    start = time.perf_counter()
    if stage is None:
        features = colour_position_features(resized).to(device)
    else:
        features = grootv_features(load_model(), resized, stage).to(device)
    milliseconds = _elapsed_ms(start, device)
    h, w = features.shape[-2:]
    rgb = np.asarray(resized if stage is None else resized.resize((w, h), Image.Resampling.BOX))
    return GridFeatures(features.float(), rgb, milliseconds)


def explore(grid: GridFeatures, metric: str, strength: float, click: tuple[float, float]) -> Exploration:
    """Build the grid's minimum spanning tree and compute everything one click shows.

    Args:
        grid: features and image on the analysis grid.
        metric: ``"cosine"``, ``"l1"`` or ``"l2"``, for the tree and the decays.
        strength: decay strength (see :class:`~groot_demo.visualize.EdgeDecay`).
        click: the clicked point as fractions (y, x) of the image's height and width, in [0, 1].
    """
    features = grid.features
    _, channels, h, w = features.shape
    device = features.device
    cell = (min(int(click[0] * h), h - 1), min(int(click[1] * w), w - 1))
    flat = features.reshape(1, channels, h * w)
    milliseconds = {}

    start = time.perf_counter()
    edges = groot_core.grid_edges(h, w, device=device)
    weights = groot_core.edge_weights(flat, edges, metric)
    tree_edges = groot_core.minimum_spanning_tree(edges, weights, h * w)
    milliseconds["spanning tree (edge weights + MST)"] = _elapsed_ms(start, device)

    start = time.perf_counter()
    tree = groot_core.bfs(tree_edges, h * w, root=cell[0] * w + cell[1])
    milliseconds["BFS from the click"] = _elapsed_ms(start, device)

    decay = EdgeDecay.for_grid(metric, strength, weights[0])
    maps = {}
    for name, compute in (
        ("tree", lambda: tree_affinity_map(features, tree, decay, cell)),
        ("raster", lambda: raster_affinity_map(features, decay, cell)),
        ("cross", lambda: cross_affinity_map(features, decay, cell)),
    ):
        start = time.perf_counter()
        maps[name] = compute()
        milliseconds[f"{name} scan affinity"] = _elapsed_ms(start, device)

    tree_weights = groot_core.edge_weights(flat, tree_edges[0], metric)[0]
    return Exploration(
        cell=cell,
        tree=tree,
        tree_edges=tree_edges[0],
        grid_weights=weights[0].cpu().numpy(),
        tree_weights=tree_weights.cpu().numpy(),
        tree_map=maps["tree"],
        raster_map=maps["raster"],
        cross_map=maps["cross"],
        depth=bfs_depth(tree).reshape(h, w),
        milliseconds=milliseconds,
    )


def render(grid: GridFeatures, result: Exploration, metric: str) -> Views:
    """Display images of ``result``: maps in log scale over the grey image, the clicked cell ringed."""
    h, w = grid.rgb.shape[:2]
    scale = display_scale(h, w)

    def heat(values: np.ndarray, colormap: str) -> Image.Image:
        coloured = upscale(blend(apply_colormap(values, colormap), grid.rgb), scale)
        return Image.fromarray(mark_cell(coloured, result.cell, scale))

    return Views(
        image=Image.fromarray(mark_cell(upscale(grid.rgb, scale), result.cell, scale)),
        tree_map=heat(log_scale(result.tree_map, AFFINITY_FLOOR), "inferno"),
        raster_map=heat(log_scale(result.raster_map, AFFINITY_FLOOR), "inferno"),
        cross_map=heat(log_scale(result.cross_map, AFFINITY_FLOOR), "inferno"),
        tree_overlay=Image.fromarray(
            mark_cell(draw_tree(grid.rgb, result.tree_edges, scale), result.cell, scale)
        ),
        depth=heat(result.depth / max(int(result.depth.max()), 1), "viridis"),
        histogram=weight_histogram(result.grid_weights, result.tree_weights, metric),
    )


def timing_table(grid: GridFeatures, result: Exploration, source: str) -> str:
    """Markdown table of the measured wall times, with the device and problem size they belong to."""
    h, w = grid.rgb.shape[:2]
    device = grid.features.device
    if device.type == "cuda":
        where = f"GPU ({torch.cuda.get_device_name(device)})"
    else:
        where = f"CPU ({torch.get_num_threads()} threads)"
    rows = [f"| {source} features | {grid.milliseconds:.1f} |"]
    rows += [f"| {step} | {ms:.1f} |" for step, ms in result.milliseconds.items()]
    return "\n".join(
        [
            f"Measured on this machine's **{where}**, grid {h}×{w} = {h * w} vertices, "
            f"{result.grid_weights.size} grid edges (wall time of this request; features are cached per "
            "image and settings).",
            "",
            "| step | ms |",
            "| --- | ---: |",
            *rows,
        ]
    )


def _elapsed_ms(start: float, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000
