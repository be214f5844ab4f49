"""Compiled memory-bound steps: GrootV's layer norms and the elementwise work around each tree scan.

On the GPU these steps are passes over memory with little arithmetic, and eager PyTorch spends a
kernel (and a round trip to memory) on each operator: a layer norm over the 40-80 channels of the
first stages runs at a fraction of the bandwidth, and autocast adds a cast after it. Compiled with
``torch.compile`` they become a few fused kernels. One compilation per step serves every layer
of a width: weights are passed as arguments, and every size but the channel count is symbolic.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import types
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "MIN_FUSED_INFERENCE_NUMEL",
    "MIN_FUSED_NORM_NUMEL",
    "FusedLayerNorm",
    "NormArgs",
    "as_input",
    "capturing_graph",
    "compiled",
    "fuses",
    "fuses_scan",
    "layer_norm",
    "norm_args",
    "overlaps_tree",
    "static_channels",
    "width_copy",
]

# A LayerNorm as plain arguments (weight, bias, eps): compiled steps then guard on tensors and a
# float, not on module objects, and every layer shares one compilation.
NormArgs = tuple[torch.Tensor | None, torch.Tensor | None, float]


@functools.cache
def has_triton() -> bool:
    """Whether torch.compile can make GPU kernels here (looked up once, not at every forward)."""
    return importlib.util.find_spec("triton") is not None


def width_copy(step: Callable, channels: int) -> Callable:
    """A copy of ``step`` with code of its own, named for ``channels``.

    torch.compile keeps a function's compiled versions on its code object, at most
    ``torch._dynamo.config.recompile_limit`` (8) of them, and runs the function eagerly beyond that.
    Widths, dtypes and grad mode multiply the versions of a step (one GrootV-T forward under
    autocast asks ``_norm`` alone for nine), so each width compiles a copy of its own.
    """
    code = step.__code__.replace(co_name=f"{step.__name__}_{channels}")
    return types.FunctionType(code, step.__globals__, code.co_name, step.__defaults__, step.__closure__)


@functools.cache
def compiled(step: Callable, channels: int) -> Callable:
    """``step`` compiled into fused kernels for inputs of ``channels`` channels, once per process:
    the weights are arguments and the other sizes symbolic (a step calls :func:`static_channels`),
    so the layers of a width, batch sizes and image sizes share the compiled code."""
    return torch.compile(width_copy(step, channels), dynamic=True)


def fuses(setting: bool | None, x: torch.Tensor) -> bool:
    """Whether a layer whose option is ``setting`` runs its compiled steps on ``x``.

    ``None`` means on CUDA tensors when Triton is installed (on the CPU compiling costs more than
    it saves for a model run once). Never inside an outer ``torch.compile``, which fuses these steps
    with everything around them (and on the GPU, looking Triton up there breaks the graph).
    """
    if torch.compiler.is_compiling():
        return False
    if setting is not None:
        return setting
    return x.is_cuda and has_triton()


# Whether the forward running now is being captured into a CUDA graph (or warmed up for one).
_capturing = contextvars.ContextVar("groot_vision_capturing_graph", default=False)


@contextlib.contextmanager
def capturing_graph() -> Iterator[None]:
    """Marks forwards captured into a CUDA graph, and their warm-up runs: their host time is paid
    once, not at every replay, so the compiled steps run at every size instead of only from
    ``MIN_FUSED_NORM_NUMEL`` / ``MIN_FUSED_INFERENCE_NUMEL`` elements on."""
    token = _capturing.set(True)
    try:
        yield
    finally:
        _capturing.reset(token)


# Without autograd, a TreeSSM layer compiles its steps around the scan only from this many elements
# of u on. A compiled call costs ~0.2 ms more host time than the eager steps (guards, launcher),
# and batch-1 inference is bound by the host: on an H100, in the same run, batch-1 inference took
# 25.0 ms eager against 29.3 ms compiled (UperNet 512²) and 30.5 against 33.6 ms (Mask R-CNN
# 1333×800), while at batch 8 UperNet's compiled steps won (35.0 against 40.0 ms). In training the
# compiled region also saves the eager path's recomputation and autograd calls, so it is kept.
MIN_FUSED_INFERENCE_NUMEL = 1 << 23


def fuses_scan(setting: bool | None, u: torch.Tensor) -> bool:
    """Whether a TreeSSM layer whose option is ``setting`` runs its compiled scan steps on ``u``:
    as :func:`fuses`, and with ``setting=None`` outside autograd only from
    ``MIN_FUSED_INFERENCE_NUMEL`` elements on (at every size inside :func:`capturing_graph`)."""
    if not fuses(setting, u):
        return False
    if setting is not None or torch.is_grad_enabled() or _capturing.get():
        return True
    return u.numel() >= MIN_FUSED_INFERENCE_NUMEL


def overlaps_tree(setting: bool | None, u: torch.Tensor) -> bool:
    """Whether a TreeSSM layer whose option is ``setting`` builds its tree on a side stream, beside
    its projections and its discretisation (:class:`~groot_vision.side_tree.TreeOnSideStream`):
    in CUDA inference captured into a graph, where its scan steps compile (:func:`fuses_scan`).

    Only there: the discretisation is then compiled apart from the scan and the read-out, a second
    compiled call whose host time a replay does not pay, and in training split regions were slower.
    """
    # fuses_scan first: inside an outer torch.compile it says no, and the flag is never read there.
    return fuses_scan(setting, u) and u.is_cuda and not torch.is_grad_enabled() and _capturing.get()


def static_channels(*tensors: torch.Tensor) -> None:
    """Within a compiled step: specialise the compiled code on the channel count (the last
    dimension) of ``tensors``, while their other dimensions stay symbolic. Outside one: nothing.

    Over a known number of channels, Inductor holds a row of a layer norm in registers and indexes
    with constants; over a symbolic number it loops over each row twice or more and divides at run
    time. On an H100, specialising took the compiled steps of GrootV-T's batch-1 Mask R-CNN backbone
    from 1.54 to 0.96 ms, and (with :func:`width_copy`) its graph replay from 10.1-10.2 to 9.3 ms.
    The cost: each channel width compiles once (a GrootV model has four or five).
    """
    if torch.compiler.is_compiling():
        for t in tensors:
            torch._dynamo.mark_static(t, t.dim() - 1)


def as_input(parameter: torch.Tensor | None) -> torch.Tensor | None:
    """A view of a parameter (gradients flow through it): torch.compile keeps the shapes of
    parameters static, and of other tensors symbolic, so the layers of a width share one graph."""
    return None if parameter is None else parameter.view(parameter.shape)


def norm_args(norm: nn.LayerNorm) -> NormArgs:
    return as_input(norm.weight), as_input(norm.bias), norm.eps


def layer_norm(x: torch.Tensor, norm: NormArgs) -> torch.Tensor:
    """Layer norm over the last dimension computed in x's dtype, whatever dtype the parameters
    are stored in."""
    weight, bias, eps = norm
    weight = None if weight is None else weight.to(x.dtype)
    bias = None if bias is None else bias.to(x.dtype)
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _norm(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    static_channels(x)
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def _norm_to(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float, dtype: torch.dtype
) -> torch.Tensor:
    return _norm(x, weight, bias, eps).to(dtype)


def _add_norm(
    x: torch.Tensor, branch: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    static_channels(x, branch)
    total = x + branch
    return total, F.layer_norm(total, total.shape[-1:], weight, bias, eps)


def _add_norm_to(
    x: torch.Tensor,
    branch: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    total, y = _add_norm(x, branch, weight, bias, eps)
    return total, y.to(dtype)


def _sum_norm(
    x: torch.Tensor, branch: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    """The norm of a sum that no one reads: compiled, the sum is never written."""
    return _add_norm(x, branch, weight, bias, eps)[1]


def _sum_norm_to(
    x: torch.Tensor,
    branch: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
    dtype: torch.dtype,
) -> torch.Tensor:
    return _sum_norm(x, branch, weight, bias, eps).to(dtype)


# With fuse=None a layer norm is compiled only from this many elements on. In training a compiled
# call costs ~0.4 ms more host time than an eager one (measured forward + backward on a small input:
# 0.60 against 0.17 ms), which a step pays in full once the host falls behind the GPU. Eager's
# kernels are slow on few channels: at 16 x 128 x 128 x 80 (GrootV-T stage 1 in UperNet) forward and
# backward take ~0.9 ms of GPU time against ~0.15 ms compiled; at 16 x 32 x 32 x 320 (stage 3) the
# ~0.1 ms saved no longer pays for the host's extra time.
MIN_FUSED_NORM_NUMEL = 1 << 23


class FusedLayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` over the last dimension, compiled where :func:`fuses` says so.

    Args:
        normalized_shape, eps: as for ``nn.LayerNorm``.
        fuse: ``True``/``False`` forces compiling on or off; ``None`` decides per input: as
            :func:`fuses` does, and only for inputs of at least ``MIN_FUSED_NORM_NUMEL`` elements
            (any size inside :func:`capturing_graph`).
        feeds_autocast: the output only feeds layers that autocast runs in lower precision (a linear
            layer): under autocast it is then returned in autocast's dtype, as that layer would cast
            it anyway, and the cast is fused into the norm. Otherwise the output dtype is eager's.
    """

    def __init__(
        self,
        normalized_shape: int,
        eps: float = 1e-5,
        *,
        fuse: bool | None = None,
        feeds_autocast: bool = False,
    ) -> None:
        super().__init__(normalized_shape, eps=eps)
        self.fuse = fuse
        self.feeds_autocast = feeds_autocast

    def forward(self, x: torch.Tensor, branch: torch.Tensor | None = None) -> torch.Tensor:
        """The norm of ``x``, or of ``x + branch`` where the sum itself is not needed (where the
        norm compiles, that sum is then never written to memory)."""
        return self._run(x, branch, keep_sum=False)

    def add_and_norm(self, x: torch.Tensor, branch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x + branch, self(x + branch))``: a residual add and the norm after it.

        Where the norm compiles, both are one kernel, which reads the residual stream once and
        writes it once; apart, the add reads and writes it and the norm reads it again. Under
        autocast GrootV's stream is float32 and its branches half precision, and eager's add of the
        two is an unvectorised kernel. On an H100 the graphed GrootV-T Mask R-CNN backbone
        (1333x800, batch 1) went from 8.63 to 8.36 ms a replay with its 30 adds fused so.
        """
        return self._run(x, branch, keep_sum=True)

    def _run(
        self, x: torch.Tensor, branch: torch.Tensor | None, keep_sum: bool
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The norm of ``x`` (``branch`` None) or of ``x + branch``; with ``keep_sum``, the sum too."""
        device = x.device.type
        # Autocast exists for some device types only (not "meta", where shapes are traced).
        cast = (
            self.feeds_autocast
            and torch.amp.is_autocast_available(device)
            and torch.is_autocast_enabled(device)
        )
        dtype = torch.get_autocast_dtype(device) if cast else None
        # fuses() first: inside an outer torch.compile it says no, and the capture flag is never
        # read there (torch 2.11's Dynamo cannot trace ContextVar.get and failed the whole graph).
        small = x.numel() < MIN_FUSED_NORM_NUMEL
        if not fuses(self.fuse, x) or (self.fuse is None and small and not _capturing.get()):
            total = x if branch is None else x + branch
            y = super().forward(total)
            y = y if dtype is None else y.to(dtype)
            return (total, y) if keep_sum else y
        inputs = (x,) if branch is None else (x, branch)
        params = (as_input(self.weight), as_input(self.bias), self.eps)
        if branch is None:
            plain, casting = _norm, _norm_to
        elif keep_sum:
            plain, casting = _add_norm, _add_norm_to
        else:
            plain, casting = _sum_norm, _sum_norm_to
        if dtype is None:
            out = compiled(plain, x.shape[-1])(*inputs, *params)
        else:
            out = compiled(casting, x.shape[-1])(*inputs, *params, dtype)
        return (x, out) if keep_sum and branch is None else out
