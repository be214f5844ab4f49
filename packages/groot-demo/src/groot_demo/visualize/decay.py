"""Input-dependent decay of an edge, shared by the tree, raster and cross scans."""

from __future__ import annotations

from dataclasses import dataclass

import groot_core
import torch

# Smallest normaliser: a constant image has all-zero edge weights.
_MIN_SCALE = 1e-6


@dataclass(frozen=True)
class EdgeDecay:
    """How much of a signal passes along an edge (i, j): ``exp(-(step + strength * w(i, j) / scale))``.

    ``w`` is :func:`groot_core.edge_weights`' dissimilarity (``metric``: cosine, l1 or l2) of the
    endpoint features. Dividing by ``scale`` (the mean weight over the image's grid edges) makes
    ``strength`` mean the same for every metric and feature source; ``step`` is a small cost per
    hop, so affinity fades with path length even inside a uniform region. All three scans use the
    same rule, so their maps differ only by topology.
    """

    metric: str
    strength: float
    scale: float
    step: float = 0.02

    @classmethod
    def for_grid(cls, metric: str, strength: float, grid_weights: torch.Tensor) -> EdgeDecay:
        """Normalise by the mean of ``grid_weights`` ``(E,)``, the weights of all grid edges."""
        return cls(metric, strength, max(float(grid_weights.mean()), _MIN_SCALE))

    def log_decay(self, features: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """Log decay ``(P,)`` of edges ``pairs`` ``(P, 2)`` joining vertices of ``features`` ``(1, C, L)``."""
        weights = groot_core.edge_weights(features, pairs, self.metric)[0]
        return -(self.step + self.strength * weights / self.scale)
