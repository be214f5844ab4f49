"""Random trees, schedules and graphs for the core tests, built without groot_core."""

from __future__ import annotations

from collections import deque

import torch
from groot_core import BFS

SHAPES = ("random", "deep", "star")


def random_parents(num_vertices: int, generator: torch.Generator, shape: str = "random") -> torch.Tensor:
    """``(L,)`` parent array of a random tree whose root is not vertex 0 (for L > 1).

    ``shape``: ``"random"`` (each vertex hangs off a uniformly chosen earlier one, depth ~ log L),
    ``"deep"`` (off one of the last three, depth ~ L/2) or ``"star"`` (all off the root).
    """
    perm = torch.randperm(num_vertices, generator=generator)
    if num_vertices > 1 and perm[0] == 0:
        perm[[0, 1]] = perm[[1, 0]]
    parent = torch.full((num_vertices,), -1, dtype=torch.int64)
    for k in range(1, num_vertices):
        if shape == "random":
            j = int(torch.randint(k, (1,), generator=generator))
        elif shape == "deep":
            j = max(0, k - 1 - int(torch.randint(3, (1,), generator=generator)))
        elif shape == "star":
            j = 0
        else:
            raise ValueError(shape)
        parent[perm[k]] = perm[j]
    return parent


def bfs_schedule(parents: torch.Tensor, generator: torch.Generator) -> BFS:
    """A BFS of each ``(B, L)`` parent array, visiting the children of a vertex in random order."""
    orders = []
    for parent in parents.tolist():
        children: list[list[int]] = [[] for _ in parent]
        for v, p in enumerate(parent):
            if p >= 0:
                children[p].append(v)
        queue = deque([parent.index(-1)])
        order = []
        while queue:
            u = queue.popleft()
            order.append(u)
            shuffled = torch.randperm(len(children[u]), generator=generator).tolist()
            queue.extend(children[u][i] for i in shuffled)
        orders.append(order)
    return BFS(torch.tensor(orders, dtype=torch.int64).reshape(parents.shape), parents.clone())


def tree_edges(parent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``(L-1, 2)`` edges of a parent array, in random order and random orientation."""
    child = (parent >= 0).nonzero().flatten()
    edges = torch.stack([child, parent[child]], dim=1)
    flip = torch.rand(len(edges), generator=generator) < 0.5
    edges[flip] = edges[flip].flip(1)
    return edges[torch.randperm(len(edges), generator=generator)]


def random_connected_graph(num_vertices: int, extra_edges: int, generator: torch.Generator) -> torch.Tensor:
    """``(L-1 + extra, 2)`` edges of a connected multigraph: a random tree plus random edges
    (possibly parallel), shuffled."""
    tree = tree_edges(random_parents(num_vertices, generator), generator)
    start = torch.randint(num_vertices, (extra_edges,), generator=generator)
    step = torch.randint(1, max(num_vertices, 2), (extra_edges,), generator=generator)  # no self-loops
    extra = torch.stack([start, (start + step) % num_vertices], dim=1)
    edges = torch.cat([tree, extra])
    return edges[torch.randperm(len(edges), generator=generator)]
