"""Pure-PyTorch twins of the groot_core operators.

Written independently of the C++ core, straight from the definitions, and slow (Python loops over
vertices): for tests, debugging and reading. Signatures and results match :mod:`groot_core`.
"""

from __future__ import annotations

from collections import deque

import torch

from ._types import BFS, Metric, ScanMode

__all__ = [
    "BFS",
    "bfs",
    "edge_weights",
    "grid_edges",
    "grid_tree",
    "minimum_spanning_tree",
    "sequence_edges",
    "tree_scan",
]


def grid_edges(h: int, w: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Edges ``(E, 2)`` of the 4-connected h×w grid: vertical pairs, then horizontal, row-major."""
    ids = torch.arange(h * w, device=device).reshape(h, w)
    vertical = torch.stack([ids[:-1, :].reshape(-1), ids[1:, :].reshape(-1)], dim=1)
    horizontal = torch.stack([ids[:, :-1].reshape(-1), ids[:, 1:].reshape(-1)], dim=1)
    return torch.cat([vertical, horizontal])


def sequence_edges(n: int, k: int = 3, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Edges ``(E, 2)`` linking token t to t-1 … t-k, grouped by offset, each group by t."""
    groups = [
        torch.stack([torch.arange(n - j, device=device), torch.arange(j, n, device=device)], dim=1)
        for j in range(1, k + 1)
        if j < n
    ]
    return torch.cat(groups) if groups else torch.empty(0, 2, dtype=torch.int64, device=device)


def edge_weights(features: torch.Tensor, edges: torch.Tensor, metric: Metric = "cosine") -> torch.Tensor:
    """Dissimilarity ``(B, E)`` of the endpoint features ``(B, C, L)`` of each edge."""
    a = features[:, :, edges[:, 0]]
    b = features[:, :, edges[:, 1]]
    if metric == "cosine":
        eps = 1e-12
        na = a.norm(dim=1).clamp_min(eps)
        nb = b.norm(dim=1).clamp_min(eps)
        return 1 - (a * b).sum(dim=1) / (na * nb)
    if metric == "l1":
        return (a - b).abs().sum(dim=1)
    if metric == "l2":
        return ((a - b) ** 2).sum(dim=1)
    raise ValueError(f"metric must be 'cosine', 'l1' or 'l2', got {metric!r}")


def _find(root: list[int], v: int) -> int:
    """Union-find root of v, halving the path on the way."""
    while root[v] != v:
        root[v] = root[root[v]]
        v = root[v]
    return v


def minimum_spanning_tree(edges: torch.Tensor, weights: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """Kruskal with a stable sort by (weight, edge index); tree edges ``(B, L-1, 2)`` in input order."""
    batch = weights.shape[0]
    trees = []
    for b in range(batch):
        graph_edges = edges[b] if edges.dim() == 3 else edges
        order = sorted(range(weights.shape[1]), key=lambda e: (weights[b, e].item(), e))
        root = list(range(num_vertices))
        chosen = []
        for e in order:
            u, v = _find(root, int(graph_edges[e, 0])), _find(root, int(graph_edges[e, 1]))
            if u != v:
                root[u] = v
                chosen.append(e)
        if len(chosen) != num_vertices - 1:
            raise ValueError("graph is disconnected")
        trees.append(graph_edges[sorted(chosen)])
    return torch.stack(trees) if trees else torch.empty(0, num_vertices - 1, 2, dtype=torch.int64)


def bfs(tree: torch.Tensor, num_vertices: int, root: int = 0) -> BFS:
    """Breadth-first order and parents of each tree ``(B, L-1, 2)``; neighbours in tree-edge order."""
    orders, parents = [], []
    for b in range(tree.shape[0]):
        neighbours: list[list[int]] = [[] for _ in range(num_vertices)]
        for u, v in tree[b].tolist():
            neighbours[u].append(v)
            neighbours[v].append(u)
        parent = [-2] * num_vertices
        parent[root] = -1
        order, queue = [], deque([root])
        while queue:
            u = queue.popleft()
            order.append(u)
            for v in neighbours[u]:
                if parent[v] == -2:
                    parent[v] = u
                    queue.append(v)
        if len(order) != num_vertices:
            raise ValueError("tree does not span all vertices")
        orders.append(order)
        parents.append(parent)
    shape = (tree.shape[0], num_vertices)
    return BFS(
        torch.tensor(orders, dtype=torch.int64).reshape(shape),
        torch.tensor(parents, dtype=torch.int64).reshape(shape),
    )


def tree_scan(
    x: torch.Tensor, decay: torch.Tensor, tree: BFS | torch.Tensor, mode: ScanMode = "all"
) -> torch.Tensor:
    """Two-pass tree scan over ``(B, D, L)``: leaves→root sums, then (mode ``"all"``) root→leaves."""
    if not isinstance(tree, BFS):
        tree = bfs(tree, x.shape[-1])
    outputs = []
    for b in range(x.shape[0]):
        order = tree.order[b].tolist()
        parent = tree.parent[b].tolist()
        up = [x[b, :, v] for v in range(x.shape[-1])]
        for v in reversed(order[1:]):
            up[parent[v]] = up[parent[v]] + decay[b, :, v] * up[v]
        y = list(up)
        if mode == "all":
            for v in order[1:]:
                w = decay[b, :, v]
                y[v] = up[v] * (1 - w * w) + w * y[parent[v]]
        elif mode != "root":
            raise ValueError(f"mode must be 'all' or 'root', got {mode!r}")
        outputs.append(torch.stack(y, dim=-1))
    return torch.stack(outputs) if outputs else torch.empty_like(x)


def grid_tree(guide: torch.Tensor, metric: Metric = "cosine", root: int = 0) -> BFS:
    """BFS-ordered MST of the 4-connected grid of a ``(B, C, H, W)`` guide."""
    batch, channels, h, w = guide.shape
    edges = grid_edges(h, w)
    weights = edge_weights(guide.detach().reshape(batch, channels, h * w), edges, metric)
    return bfs(minimum_spanning_tree(edges, weights, h * w), h * w, root)
