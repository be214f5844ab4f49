"""Inference replayed from CUDA graphs, one per input shape.

At batch 1 a GrootV backbone is bound by the host, not the GPU: its ~1 000 kernels take longer to
issue from Python than to run (on an H100, ~21 ms to issue a 512x512 forward whose kernels run in
~10 ms). A CUDA graph issues them all in one call. :class:`GraphedInference` wraps any module whose
forward takes one tensor: in CUDA inference it captures the forward once per input shape and
replays it from then on; anywhere else (training, gradients enabled, CPU inputs, inside
``torch.compile``) it simply calls the module.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map_only

from groot_vision import fusion

__all__ = ["GraphedInference"]


class _Capture:
    """One captured forward: its static input and outputs, and the graph that links them."""

    def __init__(self, module: nn.Module, example: torch.Tensor, autocast: tuple[bool, torch.dtype]) -> None:
        self.device = example.device
        self.input = example.clone()
        enabled, dtype = autocast
        # Autocast's weight cache must stay out of a capture: a cast cached before it would be freed
        # after it while the graph still reads it.
        cast = torch.autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=False)
        with torch.cuda.device(self.device):
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            # Host time is paid once here, so GrootV's compiled steps run at every size; they are
            # compiled in the warm-up, which sees the same sizes and settings as the capture.
            with torch.cuda.stream(side), cast, fusion.capturing_graph():
                for _ in range(2):  # lazy initialisation and algorithm choices happen outside the graph
                    module(self.input)
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph), cast, fusion.capturing_graph():
                self.output = module(self.input)

    def run(self, x: torch.Tensor) -> Any:
        with torch.cuda.device(self.device):
            self.input.copy_(x)
            self.graph.replay()
        # The next replay overwrites the static outputs: hand out copies.
        return tree_map_only(torch.Tensor, torch.clone, self.output)


class _ModuleState:
    """What a captured graph depends on besides its input: a module's submodules and where their
    parameters and buffers live.

    A read walks the module tree's tables (children, parameters, buffers) as gathered at the last
    read, and gathers them again when a submodule was replaced. On an H100 machine's host that takes
    0.12 ms a call for a GrootV-T backbone (Swin-T: 0.07), where walking ``parameters()`` and
    ``buffers()`` took 0.86 (0.52), before each replay.
    """

    def __init__(self) -> None:
        self._child_tables: list[dict] = []
        self._tensor_tables: list[dict] = []
        self._children: tuple = ()

    def read(self, module: nn.Module) -> tuple:
        """``module``'s submodules (compared by identity) and the addresses of its parameters and
        buffers, as they are now."""
        if not self._child_tables or self._current_children() != self._children:
            modules = list(module.modules())
            self._child_tables = [m._modules for m in modules]
            self._tensor_tables = [table for m in modules for table in (m._parameters, m._buffers)]
            # The modules themselves, not their ids: held here, a replaced module's address cannot
            # be reused by its successor.
            self._children = self._current_children()
        tensors = (t for table in self._tensor_tables for t in table.values() if t is not None)
        return self._children, tuple(t.data_ptr() for t in tensors)

    def _current_children(self) -> tuple:
        return tuple(child for table in self._child_tables for child in table.values())


class GraphedInference(nn.Module):
    """Runs ``module``'s CUDA inference from CUDA graphs.

    A graph is captured the second time an input of a given shape, dtype, device and autocast
    state comes (a shape seen once is run eagerly: capturing costs a few forwards) and replayed
    for every later one. The least recently used graph is dropped beyond ``max_graphs``, and all are
    dropped when the module's parameters or buffers move to new memory (``.to()``, reassignment) or
    a submodule is replaced; in-place changes such as ``load_state_dict`` are read by the graphs as
    they are.

    Forwards are captured inside :func:`groot_vision.fusion.capturing_graph`, so a GrootV
    backbone's compiled steps (layer norms, the work around each scan) run at every size there:
    replays skip the host time that keeps them eager for small eager inputs.

    Outputs are copies, so they stay valid after the next call. Inputs must be one tensor and
    ``module`` must not synchronise with the host (no ``.item()``, no shape-dependent Python
    branches on tensor values); GrootV backbones satisfy both.

    Args:
        module: the module to run, typically a backbone (``detector.backbone.body``,
            ``segmenter.encoder.model``).
        max_graphs: how many input signatures keep a graph (each holds the forward's memory).
    """

    def __init__(self, module: nn.Module, *, max_graphs: int = 4) -> None:
        super().__init__()
        if max_graphs < 1:
            raise ValueError(f"max_graphs must be at least 1, got {max_graphs}")
        self.module = module
        self.max_graphs = max_graphs
        self._captures: OrderedDict[tuple, _Capture] = OrderedDict()
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self._module_state = _ModuleState()
        self._captured_state: tuple = ()

    def forward(self, x: torch.Tensor) -> Any:
        if not self.replays(x):
            return self.module(x)
        state = self._module_state.read(self)  # self: a new self.module counts as a replaced submodule
        if state != self._captured_state:
            self.reset()
            self._captured_state = state
        autocast = (torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda"))
        # Tensors made under inference mode cannot be written outside it, and vice versa.
        key = (tuple(x.shape), x.stride(), x.dtype, x.device, autocast, torch.is_inference_mode_enabled())
        capture = self._captures.get(key)
        if capture is None:
            if key not in self._seen:
                self._remember(self._seen, key, None)
                return self.module(x)
            try:
                capture = _Capture(self.module, x, autocast)
            except RuntimeError as err:
                raise RuntimeError(
                    f"GraphedInference could not capture {type(self.module).__name__}'s forward in a CUDA "
                    "graph (does it synchronise with the host?); call the module directly instead"
                ) from err
            self._remember(self._captures, key, capture)
        else:
            self._captures.move_to_end(key)
        return capture.run(x)

    def replays(self, x: torch.Tensor) -> bool:
        """Whether a call on ``x`` now goes through a graph (CUDA inference outside compilation)."""
        return (
            isinstance(x, torch.Tensor)
            and x.is_cuda
            and not self.module.training
            and not torch.is_grad_enabled()
            and not torch.compiler.is_compiling()
            and not torch.cuda.is_current_stream_capturing()
        )

    def reset(self) -> None:
        """Drops every graph (and the memory it holds)."""
        self._captures.clear()
        self._seen.clear()

    @property
    def graphs(self) -> int:
        """How many graphs are held."""
        return len(self._captures)

    def _remember(self, table: OrderedDict, key: tuple, value: Any) -> None:
        table[key] = value
        while len(table) > self.max_graphs:
            table.popitem(last=False)
