"""GrootL's selective scan: ``h = chain + s · tree``, then ``y = C · h``.

Both branches scan Mamba's discretised inputs with the state dimension folded into channels
(``D·N`` channels, d-major): ``decay = exp(Δ·A)`` and ``x = Δ·B·u``. The chain is Mamba's own
recurrence ``h_t = decay_t · h_{t-1} + x_t``: a leaves→root tree scan over the chain rooted at
the last token. In the tree branch the state of child c flows into its parent with the decay of
token ``c + 1`` (the token after c in the sequence), which is the chain's rule on the chain.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from groot_core import BFS, tree_scan

from .tree import chain_schedule

__all__ = ["recurrent_ssm", "tree_ssm"]


def _decay(dt: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Mamba's ``exp(Δ·A)``, ``(B, D, N, L)`` in A's dtype."""
    return torch.exp(a[None, :, :, None] * dt[:, :, None, :])


def _input(u: torch.Tensor, dt: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mamba's ``x = Δ·B·u``, ``(B, D, N, L)`` in A's dtype."""
    return (dt[:, :, None, :] * b.transpose(1, 2)[:, None].to(a.dtype)) * u[:, :, None, :].to(a.dtype)


def tree_ssm(
    u: torch.Tensor,
    dt: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    tree: BFS | None,
    scale: float,
    tree_from: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scan a whole sequence from a zero state.

    Args:
        u: conv output ``(B, D, L)``.
        dt: step Δ after softplus, ``(B, D, L)``.
        a: ``A = -exp(A_log)``, ``(D, N)``, float32 (float64 for float64 models): the dtype of
            the scan.
        b, c: input and output matrices, ``(B, L, N)``.
        tree: BFS of the token tree rooted at ``L-1``; ``None`` when the tree is the chain.
        scale: tree-branch weight s (0: plain Mamba, the tree is not scanned).
        tree_from: ``(B,)`` int64 or ``None``; positions ``t < tree_from[b]`` read the chain in
            place of the tree branch (the strictly causal rule).

    Returns:
        ``y = Σ_n C·h``, ``(B, D, L)`` in u's dtype, and the last state ``h[..., L-1]``,
        ``(B, D, N)`` in A's dtype.
    """
    batch, channels, length = u.shape
    states = a.shape[1]
    x = _input(u, dt, a, b).reshape(batch, channels * states, length)
    # Child c enters its parent with the decay of token c + 1 (the root, token L-1, has no edge).
    child_decay = _decay(F.pad(dt[..., 1:], (0, 1)), a).reshape(batch, channels * states, length)
    h = tree_scan(x, child_decay, chain_schedule(batch, length, u.device), mode="root")
    if tree is None:
        if scale:
            h = h * (1 + scale)
    else:
        branch = tree_scan(x, child_decay, tree, mode="root")
        if tree_from is not None:
            reads_tree = torch.arange(length, device=u.device) >= tree_from[:, None, None]
            branch = torch.where(reads_tree, branch, h)
        h = h + scale * branch
    h = h.reshape(batch, channels, states, length)
    y = torch.einsum("bdnl,bln->bdl", h.to(u.dtype), c)
    return y, h[..., -1]


def recurrent_ssm(
    state: torch.Tensor,
    u: torch.Tensor,
    dt: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    input_scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Continue from a cached state, one token at a time: ``h ← decay·h + input_scale·x``.

    Args:
        state: ``(B, D, N)`` state after the previous token.
        u, dt, a, b, c: as in :func:`tree_ssm`, for the new tokens.
        input_scale: ``1 + s``: past the span a token is a chain link in both branches, so the
            combined state ``chain + s·tree`` follows Mamba's recurrence with x scaled by 1 + s.

    Returns:
        ``y`` ``(B, D, L)`` in u's dtype, and the new state ``(B, D, N)`` in A's dtype.
    """
    decay, x = _decay(dt, a), _input(u, dt, a, b)
    h = state.to(a.dtype)
    outputs = []
    for t in range(u.shape[-1]):
        h = decay[..., t] * h + input_scale * x[..., t]
        outputs.append(torch.einsum("bdn,bn->bd", h.to(u.dtype), c[:, t]))
    return torch.stack(outputs, dim=-1), h
