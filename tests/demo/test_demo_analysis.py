"""groot_demo.analysis on a bundled sample: the tree follows the object, the raster scan runs along rows."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from groot_demo.analysis import GridFeatures, compute_features, explore, render, timing_table
from groot_demo.images import load_image
from groot_demo.samples import sample_path

# The "shapes" sample (160×120) has a disc of radius 28 centred at pixel (45, 45).
DISC_CENTRE, DISC_RADIUS = (45.0, 45.0), 28.0


def no_model() -> torch.nn.Module:
    raise AssertionError("colour + position features must not load a model")


@pytest.fixture(scope="module")
def shapes_grid() -> GridFeatures:
    return compute_features(
        load_image(sample_path("shapes")), "colour + position", 64, no_model, torch.device("cpu")
    )


@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
def test_tree_map_follows_the_disc_and_raster_map_follows_rows(
    shapes_grid: GridFeatures, metric: str
) -> None:
    result = explore(shapes_grid, metric, 1.0, (DISC_CENTRE[0] / 120, DISC_CENTRE[1] / 160))
    h, w = shapes_grid.rgb.shape[:2]
    assert (h, w) == (48, 64)
    yy, xx = np.mgrid[0:h, 0:w]
    radius = np.hypot((yy + 0.5) * 120 / h - DISC_CENTRE[0], (xx + 0.5) * 160 / w - DISC_CENTRE[1])
    inside, outside = radius < DISC_RADIUS - 4, radius > DISC_RADIUS + 4
    other_rows = np.abs(yy - result.cell[0]) >= 3

    for affinity in (result.tree_map, result.raster_map, result.cross_map):
        assert affinity[result.cell] == pytest.approx(1.0)
        assert affinity.min() >= 0 and affinity.max() <= 1 + 1e-6
    assert np.median(result.tree_map[inside]) > 1e-3
    assert result.tree_map[outside].max() < 1e-4
    assert result.raster_map[inside & other_rows].max() < 1e-6
    assert np.median(result.cross_map[inside]) < 1e-6


def test_the_tree_is_a_minimum_spanning_tree(shapes_grid: GridFeatures) -> None:
    result = explore(shapes_grid, "l2", 1.0, (0.1, 0.9))
    h, w = shapes_grid.rgb.shape[:2]
    grid = nx.grid_2d_graph(h, w)
    weight = {}
    features = shapes_grid.features[0].numpy().astype(np.float64)
    for a, b in grid.edges:
        weight[(a, b)] = ((features[:, a[0], a[1]] - features[:, b[0], b[1]]) ** 2).sum()
    nx.set_edge_attributes(grid, weight, "weight")
    best = sum(d["weight"] for *_, d in nx.minimum_spanning_edges(grid, data=True))
    assert result.tree_edges.shape == (h * w - 1, 2)
    assert result.tree_weights.sum() == pytest.approx(best, rel=1e-5)
    assert result.tree.order[0, 0].item() == result.cell[0] * w + result.cell[1]  # BFS rooted at the click
    assert result.depth[result.cell] == 0


def test_render_and_timing(shapes_grid: GridFeatures) -> None:
    result = explore(shapes_grid, "cosine", 2.0, (0.5, 0.5))
    views = render(shapes_grid, result, "cosine")
    sizes = {
        v.size
        for v in (
            views.image,
            views.tree_map,
            views.raster_map,
            views.cross_map,
            views.tree_overlay,
            views.depth,
        )
    }
    assert sizes == {(64 * 5, 48 * 5)}  # display scale 5 for a 64-wide grid
    table = timing_table(shapes_grid, result, "colour + position")
    for step in (
        "spanning tree",
        "BFS",
        "tree scan",
        "raster scan",
        "cross scan",
        "CPU",
        "48×64 = 3072 vertices",
    ):
        assert step in table


def test_unknown_feature_source(shapes_grid: GridFeatures) -> None:
    with pytest.raises(ValueError, match="feature source"):
        compute_features(load_image(sample_path("cells")), "edges", 32, no_model, torch.device("cpu"))
