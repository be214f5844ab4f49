"""A grid tree built on a side stream, beside the work of its layer that does not need it.

At batch 1 a small tree's build (edge weights, Borůvka, BFS) runs in one or a few blocks for
~100 µs a layer and leaves the rest of the GPU idle, while in a TreeSSM layer only the scan needs
the tree: the gate's product, the two small projections and the discretisation can run beside it.
Forked from the current stream and joined back before the scan, both streams are captured into
one CUDA graph, whose replays then run the two branches at once.
"""

from __future__ import annotations

import functools

import groot_core
import torch

from .grid_scans import Metric, grid_tree

__all__ = ["TreeOnSideStream"]


@functools.cache
def side_stream(device: torch.device) -> torch.cuda.Stream:
    """The side stream of ``device``, made once: outside any capture (a warm-up forward makes it)."""
    return torch.cuda.Stream(device)


class TreeOnSideStream:
    """``grid_tree(guide, metric)`` issued on the side stream; :meth:`join` hands it to the
    stream that made this object.

    ``guide`` must stay alive until the join, since the side stream reads it meanwhile; a TreeSSM
    layer's ``u`` does (its read-out after the scan uses it).
    """

    def __init__(self, guide: torch.Tensor, metric: Metric) -> None:
        self._origin = torch.cuda.current_stream(guide.device)
        self._stream = side_stream(guide.device)
        self._stream.wait_stream(self._origin)
        with torch.cuda.stream(self._stream):
            self._tree = grid_tree(guide, metric)

    def join(self) -> groot_core.BFS:
        """The tree, once the stream that made this object waits for it."""
        self._origin.wait_stream(self._stream)
        # Made on the side stream and read on this one: the allocator must not hand their memory
        # to later side-stream work before this stream's reads are done.
        for tensor in self._tree:
            tensor.record_stream(self._origin)
        return self._tree
