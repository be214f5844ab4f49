"""groot_demo.visualize against brute force (networkx paths, explicit loops) and hand-worked examples."""

from __future__ import annotations

import itertools
import math

import groot_core
import networkx as nx
import numpy as np
import pytest
import torch
from groot_demo.visualize import (
    EdgeDecay,
    apply_colormap,
    bfs_depth,
    chain_affinity,
    colour_position_features,
    column_order,
    cross_affinity_map,
    draw_tree,
    fit_to_grid,
    log_scale,
    mark_cell,
    raster_affinity_map,
    tree_affinity,
    tree_affinity_map,
    weight_histogram,
)
from PIL import Image


def dissimilarity(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """Edge weight written out from its definition, independently of groot_core."""
    if metric == "cosine":
        return 1 - float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b))
    if metric == "l1":
        return float(np.abs(a - b).sum())
    return float(((a - b) ** 2).sum())


def spanning_tree(features: torch.Tensor, metric: str, root: int) -> groot_core.BFS:
    _, channels, h, w = features.shape
    edges = groot_core.grid_edges(h, w)
    weights = groot_core.edge_weights(features.reshape(1, channels, h * w), edges, metric)
    return groot_core.bfs(groot_core.minimum_spanning_tree(edges, weights, h * w), h * w, root=root)


def tree_graph(tree: groot_core.BFS) -> nx.Graph:
    parent = tree.parent[0].tolist()
    return nx.Graph([(v, p) for v, p in enumerate(parent) if p >= 0])


@pytest.mark.parametrize("metric", ["cosine", "l1", "l2"])
def test_tree_affinity_map_is_the_path_product(metric: str) -> None:
    torch.manual_seed({"cosine": 0, "l1": 1, "l2": 2}[metric])
    h, w, click = 5, 6, (3, 2)
    features = torch.randn(1, 4, h, w)
    tree = spanning_tree(features, metric, root=7)  # a root other than the click: S does not depend on it
    decay = EdgeDecay(metric, strength=0.8, scale=0.5, step=0.05)

    result = tree_affinity_map(features, tree, decay, click)

    graph = tree_graph(tree)
    assert nx.is_tree(graph) and graph.number_of_nodes() == h * w
    flat = features.reshape(4, h * w).numpy().astype(np.float64)
    start = click[0] * w + click[1]
    expected = np.zeros(h * w)
    for target in range(h * w):
        path = nx.shortest_path(graph, start, target)
        expected[target] = math.prod(
            math.exp(-(0.05 + 0.8 * dissimilarity(flat[:, i], flat[:, j], metric) / 0.5))
            for i, j in itertools.pairwise(path)
        )
    np.testing.assert_allclose(result, expected.reshape(h, w), rtol=1e-4, atol=1e-7)


def test_tree_affinity_of_a_random_tree_with_given_decays() -> None:
    rng = np.random.default_rng(5)
    n = 40
    labels = rng.permutation(n)
    edges = [(labels[v], labels[rng.integers(v)]) for v in range(1, n)]  # each vertex hangs on an earlier one
    tree = groot_core.bfs(torch.tensor([edges]), n, root=int(labels[0]))
    log_decay = torch.from_numpy(-rng.uniform(0.0, 0.7, n))
    click = 11

    result = tree_affinity(log_decay, tree, click).numpy()

    graph = tree_graph(tree)
    parent = tree.parent[0].numpy()
    for target in range(n):
        path = nx.shortest_path(graph, click, target)
        # each tree edge carries the decay of its child end
        logs = [log_decay[i if parent[i] == j else j].item() for i, j in itertools.pairwise(path)]
        assert result[target] == pytest.approx(math.exp(sum(logs)), rel=1e-9)


# 3×3 single-channel features whose raster-order neighbours differ by 1, 2, …, 8 (L1 distance).
HAND_FEATURES = torch.tensor([[0.0, 1, 3], [6, 10, 15], [21, 28, 36]]).reshape(1, 1, 3, 3)
HAND_DECAY = EdgeDecay("l1", strength=1.0, scale=10.0, step=0.0)  # decay of a link = exp(-distance / 10)


def test_raster_map_by_hand() -> None:
    # Click the centre (value 10): the raster chain runs 0-1-3-6-[10]-15-21-28-36, so the summed
    # distance to each pixel is |value - 10|.
    expected = np.exp(-np.array([[1.0, 0.9, 0.7], [0.4, 0.0, 0.5], [1.1, 1.8, 2.6]]))
    np.testing.assert_allclose(raster_affinity_map(HAND_FEATURES, HAND_DECAY, (1, 1)), expected, rtol=1e-6)


def test_cross_map_by_hand() -> None:
    # Rows: as in the raster test. Columns: the chain 0-6-21-1-[10]-28-3-15-36 gives distances
    # 50, 44, 29, 9 before the click and 18, 43, 55, 76 after it (tenths below). Every pixel is before
    # the click in one row scan and one column scan; the click is in all four.
    row = np.array([[1.0, 0.9, 0.7], [0.4, 0.0, 0.5], [1.1, 1.8, 2.6]])
    column = np.array([[5.0, 0.9, 4.3], [4.4, 0.0, 5.5], [2.9, 1.8, 7.6]])
    expected = (np.exp(-row) + np.exp(-column)) / 4
    expected[1, 1] = 1.0
    np.testing.assert_allclose(cross_affinity_map(HAND_FEATURES, HAND_DECAY, (1, 1)), expected, rtol=1e-6)


@pytest.mark.parametrize("direction", ["both", "forward", "backward"])
def test_chain_affinity_matches_a_loop(direction: str) -> None:
    rng = np.random.default_rng(7)
    n, click = 30, 12
    order = torch.from_numpy(rng.permutation(n))
    log_decay = torch.from_numpy(rng.uniform(-0.5, 0.3, n - 1))  # also gains > 1: no sign assumptions

    result = chain_affinity(log_decay, order, int(order[click]), direction).numpy()

    expected = np.zeros(n)
    for k in range(n):
        if (direction == "forward" and k > click) or (direction == "backward" and k < click):
            continue
        low, high = sorted((k, click))
        expected[order[k]] = math.exp(sum(log_decay[low:high].tolist()))
    np.testing.assert_allclose(result, expected, rtol=1e-9)


def test_column_order() -> None:
    assert column_order(2, 3).tolist() == [0, 3, 1, 4, 2, 5]


def test_bfs_depth_is_the_tree_distance_from_the_root() -> None:
    torch.manual_seed(3)
    tree = spanning_tree(torch.randn(1, 3, 7, 9), "l2", root=20)
    lengths = nx.single_source_shortest_path_length(tree_graph(tree), 20)
    assert bfs_depth(tree).tolist() == [lengths[v] for v in range(63)]


def test_draw_tree_draws_exactly_the_tree_edges() -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    # 2×2 grid, vertices 0 1 / 2 3: edges 0-1, 0-2, 2-3 (no 1-3)
    canvas = draw_tree(rgb, torch.tensor([[0, 1], [0, 2], [3, 2]]), scale=3)
    drawn = canvas.any(axis=-1)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1, 1:5] = True  # 0-1: along row 1 from column 1 to 4 (the two cell centres)
    expected[1:5, 1] = True  # 0-2
    expected[4, 1:5] = True  # 2-3
    np.testing.assert_array_equal(drawn, expected)


def test_colormap_ends_and_log_scale() -> None:
    colours = apply_colormap(np.array([0.0, 1.0, 2.0, np.nan]), "viridis")
    assert colours.tolist() == [
        [0x44, 0x01, 0x54],
        [0xFD, 0xE7, 0x25],
        [0xFD, 0xE7, 0x25],
        [0x44, 0x01, 0x54],
    ]
    luminance = apply_colormap(np.linspace(0, 1, 50), "inferno").astype(float) @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luminance) > 0)
    np.testing.assert_allclose(log_scale(np.array([1.0, 1e-2, 1e-4, 1e-9, 0.0])), [1.0, 0.5, 0.0, 0.0, 0.0])


def test_mark_cell_rings_the_cell_and_leaves_its_centre() -> None:
    image = np.full((40, 40, 3), 128, dtype=np.uint8)
    marked = mark_cell(image, (2, 3), scale=8)  # centre of cell (2, 3) is pixel (20, 28)
    assert marked[20, 28].tolist() == [128, 128, 128]
    ring = np.argwhere((marked != 128).any(axis=-1))
    distance = np.hypot(ring[:, 0] + 0.5 - 20, ring[:, 1] + 0.5 - 28)
    assert 9 < distance.min() and distance.max() < 15
    assert image[0, 0].tolist() == [128, 128, 128]  # the input is untouched


def test_weight_histogram_shows_both_series() -> None:
    rng = np.random.default_rng(0)
    chart = np.asarray(weight_histogram(rng.random(500), rng.random(100) * 0.3, "l2", size=(400, 200)))
    assert chart.shape == (200, 400, 3)
    assert np.all(chart == (240, 150, 30), axis=-1).sum() > 500  # tree bars
    assert np.all(chart == (150, 150, 160), axis=-1).sum() > 500  # grid bars


def test_colour_position_features() -> None:
    image = Image.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8))  # 1×2: red, blue
    features = colour_position_features(image, position_weight=2.0)
    assert features.shape == (1, 5, 1, 2)
    np.testing.assert_allclose(features[0, :, 0, 0], [0.5, 0, -0.5, 0, -0.5])
    np.testing.assert_allclose(features[0, :, 0, 1], [-0.5, 0, 0.5, 0, 0.5])


def test_fit_to_grid_keeps_the_aspect_ratio() -> None:
    assert fit_to_grid(Image.new("RGB", (400, 100)), 64).size == (64, 16)
    assert fit_to_grid(Image.new("RGB", (3, 1000)), 50).size == (1, 50)
    assert fit_to_grid(Image.new("RGB", (10, 20)), 40).size == (20, 40)


def test_edge_decay_of_a_constant_image_is_finite() -> None:
    features = torch.ones(1, 3, 4, 4)
    decay = EdgeDecay.for_grid("cosine", 2.0, torch.zeros(24))
    result = raster_affinity_map(features, decay, (0, 0))
    assert np.all(np.isfinite(result)) and result[0, 0] == 1
    np.testing.assert_allclose(result.reshape(-1), np.exp(-0.02 * np.arange(16)), rtol=1e-6)
