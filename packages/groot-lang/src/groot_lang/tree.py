"""The token trees a GrootL mixer scans: the plain chain and the paper's windowed MST."""

from __future__ import annotations

import torch
from groot_core import BFS, bfs, edge_weights, minimum_spanning_tree, sequence_edges

__all__ = ["chain_schedule", "token_tree"]

# Above every real weight (-cos ∈ [-1, 1]): an edge outside the span is never in the MST, because
# the always-present chain edges close a cycle of cheaper edges around it.
_EXCLUDED = 2.0


def chain_schedule(batch: int, length: int, device: torch.device | str | None = None) -> BFS:
    """The chain ``0 – 1 – … – (L-1)`` rooted at the last token, as a BFS schedule.

    Returns:
        :class:`groot_core.BFS` with ``order`` = L-1, L-2, …, 0 and ``parent[t] = t + 1``
        (``-1`` at the root), both ``(batch, length)`` int64.
    """
    order = torch.arange(length - 1, -1, -1, device=device)
    parent = torch.arange(1, length + 1, device=device)
    parent[-1] = -1
    return BFS(order.expand(batch, length).contiguous(), parent.expand(batch, length).contiguous())


@torch.no_grad()
def token_tree(
    step_input: torch.Tensor, b: torch.Tensor, spans: torch.Tensor, k: int, valid: torch.Tensor | None = None
) -> BFS:
    """Minimum spanning tree of the token graph, rooted at the last token.

    Token t inside its sequence's span (``t < spans[b]``) is linked to ``t-1 … t-k``; later tokens
    only to ``t-1``. An edge costs the cosine distance of the scan inputs ``x_t = a_t ⊗ b_t``
    (``a = Δ·u``, the state dimension folded into channels). Since
    ``cos(a_s ⊗ b_s, a_t ⊗ b_t) = cos(a_s, a_t) · cos(b_s, b_t)``, the ``D·N``-channel features
    are never built. Padding tokens keep only their chain edges: left padding then hangs below
    the first real token and never lies on a path between real tokens.

    Args:
        step_input: ``a = Δ·u``, ``(B, D, L)``.
        b: the input matrix B, ``(B, N, L)``.
        spans: ``(B,)`` int64 span lengths (on the device of ``step_input``).
        k: graph window.
        valid: ``(B, L)`` bool, ``False`` at padding (the attention mask), or ``None``.

    Returns:
        :class:`groot_core.BFS` of the tree from root ``L-1``, ``(B, L)`` each.
    """
    length = step_input.shape[-1]
    edges = sequence_edges(length, k, device=step_input.device)
    cosine = (1 - edge_weights(step_input, edges, "cosine")) * (1 - edge_weights(b, edges, "cosine"))
    inside = edges[:, 1] < spans[:, None]
    if valid is not None:
        inside &= valid[:, edges[:, 0]] & valid[:, edges[:, 1]]
    inside |= edges[:, 1] - edges[:, 0] == 1
    weights = torch.where(inside, -cosine, _EXCLUDED)
    return bfs(minimum_spanning_tree(edges, weights, length), length, root=length - 1)
