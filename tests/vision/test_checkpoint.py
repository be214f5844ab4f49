"""Saving, reloading and safely loading GrootV checkpoints (released layout, timm path, malicious pickles)."""

from __future__ import annotations

import argparse
import builtins
import json
import sys
import types
from pathlib import Path

import groot_vision
import numpy as np
import pytest
import timm
import torch
from groot_vision import UnsafeCheckpointError, load_checkpoint, load_state_dict
from safetensors.torch import save_file

_LAYOUT = Path(__file__).with_name("grootv_official_state_dict.json")


def _micro(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model("grootv_micro").eval()


def _yacs_config() -> object:
    """An instance of a class named yacs.config.CfgNode (as the paper's files pickle), without yacs."""
    module = types.ModuleType("yacs.config")

    class CfgNode(dict):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.__dict__["__immutable__"] = False

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    module.CfgNode = CfgNode
    sys.modules["yacs"] = types.ModuleType("yacs")
    sys.modules["yacs.config"] = module
    return CfgNode(MODEL=CfgNode(TYPE="grootv", DROP_PATH_RATE=0.1), TRAIN=CfgNode(EPOCHS=300))


def _save_release_layout(path: Path, model_state: dict, ema_state: dict | None) -> None:
    """Write a file shaped like the paper's releases, then forget the fake yacs module."""
    try:
        checkpoint = {
            "model": model_state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 5e-6, "params": [0, 1]}]},
            "lr_scheduler": {"last_epoch": 299},
            "max_accuracy": np.float64(83.4),
            "epoch": 299,
            "config": _yacs_config(),
            "amp": {"scale": 65536.0},
        }
        if ema_state is not None:
            checkpoint["model_ema"] = ema_state
        torch.save(checkpoint, path)
    finally:
        sys.modules.pop("yacs.config", None)
        sys.modules.pop("yacs", None)


def test_saved_and_reloaded_model_gives_identical_outputs(tmp_path: Path) -> None:
    model = _micro(seed=0)
    x = torch.randn(2, 3, 45, 37)
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    reloaded = _micro(seed=1)
    assert not torch.equal(reloaded(x), model(x))
    load_checkpoint(reloaded, tmp_path / "weights.pth")
    assert torch.equal(reloaded(x), model(x))


def test_release_layout_loads_raw_or_ema_weights(tmp_path: Path) -> None:
    raw, ema = _micro(seed=0), _micro(seed=1)
    path = tmp_path / "grootv_micro_release.pth"
    _save_release_layout(path, raw.state_dict(), ema.state_dict())
    assert "yacs.config" not in sys.modules
    for use_ema, source in ((False, raw), (True, ema)):
        state = load_state_dict(path, use_ema=use_ema)
        assert state.keys() == source.state_dict().keys()
        assert all(torch.equal(state[k], v) for k, v in source.state_dict().items())


def test_timm_pretrained_file_overlay_loads_release(tmp_path: Path) -> None:
    raw, ema = _micro(seed=0), _micro(seed=1)
    path = tmp_path / "release.pth"
    _save_release_layout(path, raw.state_dict(), ema.state_dict())
    model = timm.create_model(
        "grootv_micro", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(model(x), ema(x))  # timm prefers EMA weights, like load_state_dict's default
    backbone = timm.create_model(
        "grootv_micro", pretrained=True, features_only=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    assert torch.equal(backbone.model.levels[0].blocks[0].TreeSSM.Ds, ema.levels[0].blocks[0].TreeSSM.Ds)


def test_released_tiny_layout_loads_strictly(tmp_path: Path) -> None:
    layout = json.loads(_LAYOUT.read_text())["tiny"]["keys"]
    generator = torch.Generator().manual_seed(0)
    state = {
        k: torch.randint(0, 5, shape, generator=generator)
        if k.endswith("num_batches_tracked")
        else torch.randn(shape, generator=generator)
        for k, shape in layout.items()
    }
    path = tmp_path / "grootv_t_1k_224.pth"
    _save_release_layout(path, state, None)
    model = timm.create_model("grootv_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    fresh = timm.create_model(
        "grootv_tiny", num_classes=10, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    assert fresh.head.out_features == 10  # classifier re-initialised, backbone kept
    assert torch.equal(fresh.levels[2].blocks[8].TreeSSM.A_logs, state["levels.2.blocks.8.TreeSSM.A_logs"])


class _OpensAFile:
    """Pickles to `open(path, "w")`: loading it with plain pickle would create the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (builtins.open, (self.path, "w"))


class _Arbitrary:
    pass


@pytest.mark.parametrize("where", ["config", "top", "inside_state_dict"])
def test_malicious_pickle_is_rejected_without_running(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "pwned"
    payload = _OpensAFile(marker)
    state = _micro(seed=0).state_dict()
    if where == "config":
        obj = {"model": state, "config": payload}
    elif where == "top":
        obj = payload
    else:
        obj = {"model": {**state, "extra": payload}}
    path = tmp_path / "evil.pth"
    torch.save(obj, path)
    with pytest.raises(UnsafeCheckpointError):
        load_state_dict(path)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(_micro(seed=0), path)
    assert not marker.exists()


def test_unknown_classes_are_rejected(tmp_path: Path) -> None:
    torch.save({"model": _micro(seed=0).state_dict(), "args": _Arbitrary()}, tmp_path / "odd.pth")
    with pytest.raises(UnsafeCheckpointError, match="_Arbitrary"):
        load_state_dict(tmp_path / "odd.pth")


def test_namespace_config_and_prefixed_state_dicts_load(tmp_path: Path) -> None:
    model = _micro(seed=0)
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": wrapped, "args": argparse.Namespace(lr=0.1)}, tmp_path / "ddp.pth")
    target = _micro(seed=3)
    load_checkpoint(target, tmp_path / "ddp.pth")
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(target(x), model(x))


def test_safetensors_state_dict(tmp_path: Path) -> None:
    model = _micro(seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    target = _micro(seed=4)
    load_checkpoint(target, tmp_path / "w.safetensors")
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(target(x), model(x))


def test_public_api_exports() -> None:
    assert groot_vision.__version__ == "0.1.0"
    assert issubclass(UnsafeCheckpointError, Exception)
