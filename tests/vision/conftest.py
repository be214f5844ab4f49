"""Fixtures shared by the groot-vision tests."""

from __future__ import annotations

import pytest
import torch
from groot_vision import fusion


@pytest.fixture
def compiled_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fusion.compiled`` as on CUDA (whole graphs, symbolic shapes but the channels), with the
    aot_eager backend standing in for Triton so that the compiled steps run on the CPU."""
    monkeypatch.setattr(
        fusion,
        "compiled",
        lambda step, channels: torch.compile(
            fusion.width_copy(step, channels), fullgraph=True, dynamic=True, backend="aot_eager"
        ),
    )
