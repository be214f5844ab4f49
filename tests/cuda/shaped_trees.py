"""Trees of shapes that grid MSTs do not give, for the CUDA tests and the sanitizer workload."""

from __future__ import annotations

import groot_core as gc
import torch


def star(n: int, device: str | torch.device = "cpu") -> gc.BFS:
    """Vertex 0 with the other ``n - 1`` vertices hanging from it."""
    parent = torch.zeros(1, n, dtype=torch.long, device=device)
    parent[0, 0] = -1
    return gc.BFS(torch.arange(n, device=device)[None], parent)


def spider(legs: int, length: int, device: str | torch.device = "cpu") -> gc.BFS:
    """A root with ``legs`` paths of ``length`` vertices hanging from it, in BFS order, ids shuffled."""
    ids = (torch.randperm(legs * length) + 1).view(legs, length)
    order = torch.cat([torch.zeros(1, dtype=torch.long), ids.t().reshape(-1)])
    parent = torch.empty(1 + legs * length, dtype=torch.long)
    parent[0] = -1
    parent[ids[:, 0]] = 0
    parent[ids[:, 1:]] = ids[:, :-1]
    return gc.BFS(order[None].to(device), parent[None].to(device))
