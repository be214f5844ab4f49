"""Trees of shapes that grid MSTs do not give, for the CUDA tests and the sanitizer workload."""

from __future__ import annotations

import groot_core as gc
import torch


def star(n: int, device: str | torch.device = "cpu") -> gc.BFS:
    """Vertex 0 with the other ``n - 1`` vertices hanging from it."""
    parent = torch.zeros(1, n, dtype=torch.long, device=device)
    parent[0, 0] = -1
    return gc.BFS(torch.arange(n, device=device)[None], parent)


def spider(legs: int, length: int, device: str | torch.device = "cpu", *, handle: int = 0) -> gc.BFS:
    """A root with ``legs`` paths of ``length`` vertices hanging from it, in BFS order, ids shuffled.

    With a ``handle``, the legs hang from the end of a path of that many vertices below the root
    (a broom: a wide level under a narrow one).
    """
    n = 1 + handle + legs * length
    shuffled = torch.randperm(n - 1) + 1
    stem, ids = shuffled[:handle], shuffled[handle:].view(legs, length)
    path = torch.cat([torch.zeros(1, dtype=torch.long), stem])
    order = torch.cat([path, ids.t().reshape(-1)])
    parent = torch.empty(n, dtype=torch.long)
    parent[0] = -1
    parent[path[1:]] = path[:-1]
    parent[ids[:, 0]] = path[-1]
    parent[ids[:, 1:]] = ids[:, :-1]
    return gc.BFS(order[None].to(device), parent[None].to(device))
