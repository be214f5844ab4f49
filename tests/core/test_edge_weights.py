"""groot_core.edge_weights against the metric formulas written in torch."""

from __future__ import annotations

import groot_core as gc
import pytest
import torch
import torch.nn.functional as F
from brute_force import grid_edges
from random_trees import random_connected_graph

METRICS = ["cosine", "l1", "l2"]


def expected_weights(features: torch.Tensor, edges: torch.Tensor, metric: str) -> torch.Tensor:
    """``(B, E)`` in float64; edges ``(E, 2)`` or ``(B, E, 2)``."""
    features = features.double()
    edges = edges.expand(features.shape[0], -1, -1)
    index = lambda k: edges[:, :, k][:, None, :].expand(-1, features.shape[1], -1)  # noqa: E731
    a, b = features.gather(2, index(0)), features.gather(2, index(1))  # (B, C, E)
    if metric == "cosine":
        return 1 - (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1)
    if metric == "l1":
        return (a - b).abs().sum(1)
    return (a - b).square().sum(1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("metric", METRICS)
def test_grid_weights(metric, dtype, rng):
    features = torch.randn(3, 17, 12 * 13, generator=rng, dtype=dtype)
    features[1, :, 5] = 0  # a zero vector: cosine dissimilarity 1, like F.normalize
    edges = grid_edges(12, 13)
    result = gc.edge_weights(features, edges, metric)
    assert result.dtype == dtype and result.shape == (3, len(edges))
    tolerance = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(
        result.double(), expected_weights(features, edges, metric), rtol=tolerance, atol=tolerance
    )


@pytest.mark.parametrize("metric", METRICS)
def test_per_graph_edges(metric, rng):
    features = torch.randn(4, 6, 80, generator=rng, dtype=torch.float64)
    edges = torch.stack([random_connected_graph(80, 100, rng) for _ in range(4)])
    result = gc.edge_weights(features, edges, metric)
    torch.testing.assert_close(result, expected_weights(features, edges, metric), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_reduced_precision_features_give_float32_weights(dtype, metric, rng):
    features = torch.randn(2, 8, 30, generator=rng).to(dtype)
    edges = grid_edges(5, 6)
    result = gc.edge_weights(features, edges, metric)
    assert result.dtype == torch.float32
    torch.testing.assert_close(
        result.double(), expected_weights(features, edges, metric), rtol=1e-5, atol=1e-5
    )


def test_weights_are_not_differentiable(rng):
    features = torch.randn(1, 4, 9, generator=rng, requires_grad=True)
    assert not gc.edge_weights(features, grid_edges(3, 3)).requires_grad
