"""GrootV's token mixer: a selective state-space model whose recurrence runs over a tree of the image grid.

Per token ``u`` (the activated depthwise-conv features, ``D = ssm_ratio * dim`` channels) the layer
forms Mamba's input-dependent step ``delta = softplus(W_dt (W_x u) + b_dt)``, the drive
``delta * B * u`` and the per-token decay ``exp(delta * A)`` (one state per channel), scans them over the
grid (by default the minimum spanning tree of ``u`` under cosine distance), then reads out
``out_norm(h_norm(h) * C + D_skip * u) * silu(z)``.

Parameter names and shapes follow the released GrootVL checkpoints (``x_proj_weight``, ``dt_projs_*``
stacked over K = 1 scan direction, ``A_logs``, ``Ds``).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable

import groot_core
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import fusion
from .fusion import NormArgs, as_input, layer_norm, norm_args
from .grid_scans import Metric, Scan, grid_tree, scan_grid
from .side_tree import TreeOnSideStream

__all__ = ["TreeSSM"]

# The paper's readout multiplies the normalised state by C per token, which fixes the state size at one.
D_STATE = 1


def _discretise(
    u: torch.Tensor,
    dt: torch.Tensor,
    b: torch.Tensor,
    dt_bias: torch.Tensor,
    a_logs: torch.Tensor,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scan's inputs ``(B, L, D)``: the drive ``delta * B * u`` and the decay ``exp(delta * A)``,
    from ``u``/``dt`` ``(B, L, D)`` and ``b`` ``(B, L, 1)``."""
    u, dt, b = u.to(dtype), dt.to(dtype), b.to(dtype)
    delta = F.softplus(dt + dt_bias.to(dtype))
    decay = torch.exp(delta * -torch.exp(a_logs.to(dtype).view(-1)))
    return delta * b * u, decay


def _read_out(
    h: torch.Tensor,
    u: torch.Tensor,
    c: torch.Tensor,
    skip: torch.Tensor,
    gate: torch.Tensor,
    h_norm: NormArgs,
    out_norm: NormArgs,
    dtype: torch.dtype,
) -> torch.Tensor:
    """``out_norm(h_norm(h) * C + D * u)`` in u's dtype, gated by ``silu(gate)``, for the scanned
    state ``h`` ``(B, L, D)``; ``(B, L, D)``.

    The gate is applied here, not after the call, so that the compiled region fuses it: on its own
    it took two more passes over memory, strided ones (the gate is half of the input projection).
    """
    h = layer_norm(h, h_norm)
    y = layer_norm(h * c.to(dtype) + skip.to(dtype) * u.to(dtype), out_norm)
    return y.to(u.dtype) * F.silu(gate)


def _scan_tokens(
    drive: torch.Tensor, decay: torch.Tensor, scan: Scan, height: int, width: int, tree: groot_core.BFS | None
) -> torch.Tensor:
    """The grid scan of token-major ``(B, L, D)`` inputs; ``(B, L, D)``.

    The scan gets their ``(B, D, L)`` views and gives one back, so the steps around it only ever see
    token-major tensors: compiled, their gradients then come in the memory layout that the scan's
    backward reads and writes, with no copy between them.
    """
    h = scan_grid(
        drive.transpose(1, 2), decay.transpose(1, 2), scan=scan, height=height, width=width, tree=tree
    )
    return h.transpose(1, 2)


def _scan_read_out(
    drive: torch.Tensor,
    decay: torch.Tensor,
    u: torch.Tensor,
    c: torch.Tensor,
    gate: torch.Tensor,
    skip: torch.Tensor,
    h_norm: NormArgs,
    out_norm: NormArgs,
    dtype: torch.dtype,
    scan: Scan,
    height: int,
    width: int,
    tree: groot_core.BFS | None,
) -> torch.Tensor:
    """The scan and the read-out as one function (compiled apart from the discretisation when the
    tree is built beside it, on a side stream)."""
    fusion.static_channels(drive, decay, u, gate)
    h = _scan_tokens(drive, decay, scan, height, width, tree)
    return _read_out(h, u, c, skip, gate, h_norm, out_norm, dtype)


def _discretise_apart(
    u: torch.Tensor,
    dt: torch.Tensor,
    b: torch.Tensor,
    dt_bias: torch.Tensor,
    a_logs: torch.Tensor,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_discretise` as a compiled step of its own, issued before the tree is joined."""
    fusion.static_channels(u, dt)
    return _discretise(u, dt, b, dt_bias, a_logs, dtype)


def _discretise_scan_read_out(
    u: torch.Tensor,
    dt: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    gate: torch.Tensor,
    dt_bias: torch.Tensor,
    a_logs: torch.Tensor,
    skip: torch.Tensor,
    h_norm: NormArgs,
    out_norm: NormArgs,
    dtype: torch.dtype,
    scan: Scan,
    height: int,
    width: int,
    tree: groot_core.BFS | None,
) -> torch.Tensor:
    """The three steps as one function, compiled as one region: one call on the host per layer,
    and the partitioner decides what the backward keeps or recomputes."""
    fusion.static_channels(u, dt, gate)
    drive, decay = _discretise(u, dt, b, dt_bias, a_logs, dtype)
    return _scan_read_out(drive, decay, u, c, gate, skip, h_norm, out_norm, dtype, scan, height, width, tree)


class TreeSSM(nn.Module):
    """Tree state-space mixer over channels-last feature maps.

    Args:
        dim: input/output channels C.
        ssm_ratio: inner width D = ssm_ratio * C.
        d_conv: depthwise conv kernel size (odd, so that the grid keeps its size).
        dt_min, dt_max, dt_init_floor: range of Mamba's initial step sizes.
        scan: ``"tree"`` (paper), ``"raster"`` or ``"cross"``; see :mod:`groot_vision.grid_scans`.
        metric: distance between neighbouring tokens that the tree minimises (``"cosine"`` in the paper).
        force_fp32_scan: run the selective-scan arithmetic in at least float32, also under autocast
            (the paper's choice).
        recompute_elementwise: in training, keep only the scan's own tensors and recompute the cheap
            elementwise steps around it in the backward pass (same results, far less activation memory).
        fuse_elementwise: compile the elementwise steps before and after the scan, with the scan,
            into one ``torch.compile`` region: fused kernels (a few passes over memory instead of a
            dozen) and one call on the host per layer; the partitioner picks what the backward keeps,
            so recompute_elementwise is moot. ``None``: on CUDA inputs when Triton is installed, not
            on CPU (where compiling costs more than it saves for a model run once), and in inference
            only on inputs large enough to pay for the compiled call's host time
            (:func:`groot_vision.fusion.fuses_scan`). Both are moot
            inside a ``torch.compile`` of the whole model, which fuses these steps with the rest.
    """

    def __init__(
        self,
        dim: int,
        *,
        ssm_ratio: float = 2.0,
        d_conv: int = 3,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        scan: Scan = "tree",
        metric: Metric = "cosine",
        force_fp32_scan: bool = True,
        recompute_elementwise: bool = True,
        fuse_elementwise: bool | None = None,
    ) -> None:
        super().__init__()
        if d_conv < 1 or d_conv % 2 == 0:
            raise ValueError(
                f"d_conv must be a positive odd kernel size (the grid keeps its size), got {d_conv}"
            )
        inner = int(ssm_ratio * dim)
        self.dt_rank = math.ceil(dim / 16)
        self.scan = scan
        self.metric = metric
        self.force_fp32_scan = force_fp32_scan
        self.recompute_elementwise = recompute_elementwise
        self.fuse_elementwise = fuse_elementwise

        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv2d = nn.Conv2d(inner, inner, d_conv, padding=(d_conv - 1) // 2, groups=inner, bias=False)
        self.act = nn.SiLU()
        self.x_proj_weight = nn.Parameter(torch.empty(1, self.dt_rank + 2 * D_STATE, inner))
        self.dt_projs_weight = nn.Parameter(torch.empty(1, inner, self.dt_rank))
        self.dt_projs_bias = nn.Parameter(torch.empty(1, inner))
        self.A_logs = nn.Parameter(torch.empty(inner, D_STATE))
        self.Ds = nn.Parameter(torch.empty(inner))
        self.h_norm = nn.LayerNorm(inner)
        self.out_norm = nn.LayerNorm(inner)
        self.out_proj = nn.Linear(inner, dim, bias=False)
        self.reset_ssm_parameters(dt_min, dt_max, dt_init_floor)

    @torch.no_grad()
    def reset_ssm_parameters(self, dt_min: float, dt_max: float, dt_init_floor: float) -> None:
        """Mamba's initialisation of the SSM-specific parameters (the linears/norms are set by the model)."""
        inner = self.Ds.shape[0]
        bound = inner**-0.5  # nn.Linear's default for the x projection
        nn.init.uniform_(self.x_proj_weight, -bound, bound)
        dt_std = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_projs_weight, -dt_std, dt_std)
        # Bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], so initial steps span that range.
        dt = torch.exp(
            torch.rand_like(self.Ds) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        ).clamp(min=dt_init_floor)
        self.dt_projs_bias.copy_((dt + torch.log(-torch.expm1(-dt))).unsqueeze(0))
        # S4D-real: A = -(1 .. d_state) per channel.
        self.A_logs.copy_(torch.log(torch.arange(1, D_STATE + 1, dtype=torch.float32)).expand_as(self.A_logs))
        self.Ds.fill_(1.0)

    def forward(
        self, x: torch.Tensor, tree: groot_core.BFS | None = None
    ) -> tuple[torch.Tensor, groot_core.BFS | None]:
        """Mix ``x`` ``(B, H, W, C)``; returns ``(B, H, W, C)`` and the tree used (reusable by later blocks).

        With ``scan="tree"`` and no ``tree`` given, the tree is built from this layer's own features;
        in CUDA inference captured into a graph, on a side stream, beside the steps that do not need
        it (:mod:`groot_vision.side_tree`).
        """
        batch, height, width, _ = x.shape
        u, project_gate = self._project_in(x)
        u = self.act(self.conv2d(u.permute(0, 3, 1, 2)))  # (B, D, H, W), channels-last in memory
        if self.scan == "tree" and tree is None:
            if fusion.overlaps_tree(self.fuse_elementwise, u):
                tree = TreeOnSideStream(u, self.metric)
            else:
                tree = grid_tree(u, self.metric)
        # Token-major (B, L, D) keeps every elementwise op below on contiguous memory.
        u = u.permute(0, 2, 3, 1).reshape(batch, height * width, -1)
        gate = project_gate().reshape(batch, height * width, -1)
        dt_low, b, c = F.linear(u, self.x_proj_weight[0]).split([self.dt_rank, D_STATE, D_STATE], dim=-1)
        dt = F.linear(dt_low, self.dt_projs_weight[0])
        y, tree = self._selective_scan(u, dt, b, c, gate, tree, height, width)
        return self.out_proj(y.reshape(batch, height, width, -1)), tree

    def _project_in(self, x: torch.Tensor) -> tuple[torch.Tensor, Callable[[], torch.Tensor]]:
        """The input projection's first half ``u`` ``(B, H, W, inner)``, and a call that gives its
        second half, the gate.

        A plain ``nn.Linear`` is run as two products, one per half of its weight, so that each half
        comes out contiguous: the depthwise convolution would otherwise copy its strided half first.
        The gate's product is issued when asked for, after the tree's build is, so that it can run
        beside a tree built on a side stream. Under autocast the input and the weight are cast once,
        as for the whole layer, not once a half. A wrapped projection (an adapter, a quantised
        layer) runs whole, as it was built.
        """
        if type(self.in_proj) is not nn.Linear or self.in_proj.bias is not None:
            u, gate = self.in_proj(x).chunk(2, dim=-1)
            return u, lambda: gate
        weight, device = self.in_proj.weight, x.device.type
        if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
            # Autocast's own rule: floating-point tensors other than float64 run in its dtype.
            dtype = torch.get_autocast_dtype(device)
            x, weight = (
                t.to(dtype) if t.is_floating_point() and t.dtype != torch.float64 else t for t in (x, weight)
            )
        u_weight, gate_weight = weight.chunk(2)
        return F.linear(x, u_weight), functools.partial(F.linear, x, gate_weight)

    def _selective_scan(
        self,
        u: torch.Tensor,
        dt: torch.Tensor,
        b: torch.Tensor,
        c: torch.Tensor,
        gate: torch.Tensor,
        tree: groot_core.BFS | TreeOnSideStream | None,
        height: int,
        width: int,
    ) -> tuple[torch.Tensor, groot_core.BFS | None]:
        """Discretise, scan, read out and gate.

        ``u``/``dt``/``gate`` ``(B, L, D)`` and ``b``/``c`` ``(B, L, 1)`` -> ``(B, L, D)`` in u's dtype,
        and the tree scanned: one still being built on a side stream is joined once the
        discretisation is issued.
        """
        # Autocast exists for some device types only (not "meta", where shapes are traced).
        fp32 = self.force_fp32_scan and torch.amp.is_autocast_available(u.device.type)
        # Inside an outer torch.compile these steps are fused with everything around them anyway,
        # and the partitioner saves only what the backward needs.
        fused = fusion.fuses_scan(self.fuse_elementwise, u)
        recompute = (
            self.recompute_elementwise
            and torch.is_grad_enabled()
            and not (fused or torch.compiler.is_compiling())
        )

        def run(step: Callable, *args):
            return checkpoint(step, *args, use_reentrant=False) if recompute else step(*args)

        with torch.autocast(u.device.type, enabled=False) if fp32 else contextlib.nullcontext():
            dtype = torch.promote_types(u.dtype, torch.float32) if fp32 else u.dtype
            bias, a_logs, skip = as_input(self.dt_projs_bias), as_input(self.A_logs), as_input(self.Ds)
            norms = norm_args(self.h_norm), norm_args(self.out_norm)
            if isinstance(tree, TreeOnSideStream):
                drive, decay = fusion.compiled(_discretise_apart, u.shape[-1])(u, dt, b, bias, a_logs, dtype)
                tree = tree.join()
                step = fusion.compiled(_scan_read_out, u.shape[-1])
                args = (drive, decay, u, c, gate, skip, *norms, dtype)
                return step(*args, self.scan, height, width, tree), tree
            if fused:
                step = fusion.compiled(_discretise_scan_read_out, u.shape[-1])
                args = (u, dt, b, c, gate, bias, a_logs, skip, *norms, dtype)
                return step(*args, self.scan, height, width, tree), tree
            drive, decay = run(_discretise, u, dt, b, bias, a_logs, dtype)
            h = _scan_tokens(drive, decay, self.scan, height, width, tree)
            return run(_read_out, h, u, c, skip, gate, *norms, dtype), tree
