"""GrootV-T/S/B reproduce the released checkpoints' state-dict layout and parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import groot_vision  # noqa: F401  (registers the models)
import pytest
import timm
import timm.optim
import torch

# Keys, shapes and parameter counts read from the paper's released GrootV-T/S/B checkpoint files.
_LAYOUT = Path(__file__).with_name("grootv_official_state_dict.json")
_SIZES = {"grootv_tiny": "tiny", "grootv_small": "small", "grootv_base": "base"}


@pytest.fixture(scope="module")
def official() -> dict:
    return json.loads(_LAYOUT.read_text())


@pytest.mark.parametrize("name", sorted(_SIZES))
def test_state_dict_layout_matches_release(name: str, official: dict) -> None:
    with torch.device("meta"):
        model = timm.create_model(name)
    want = official[_SIZES[name]]
    got = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert got.keys() == want["keys"].keys()
    assert got == want["keys"]
    assert sum(p.numel() for p in model.parameters()) == want["params"]


@pytest.mark.parametrize(
    ("name", "millions"), [("grootv_tiny", 29.96), ("grootv_small", 51.33), ("grootv_base", 90.60)]
)
def test_parameter_counts_match_paper(name: str, millions: float) -> None:
    with torch.device("meta"):
        model = timm.create_model(name)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == millions


def test_models_are_registered_with_pretrained_cfgs() -> None:
    assert {"grootv_tiny", "grootv_small", "grootv_base", "grootv_micro"} <= set(timm.list_models("grootv_*"))
    with torch.device("meta"):
        model = timm.create_model("grootv_small")
    cfg = model.pretrained_cfg
    assert (
        cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 0.875 and cfg["interpolation"] == "bicubic"
    )
    assert cfg["mean"] == (0.485, 0.456, 0.406) and cfg["classifier"] == "head"


def test_drop_path_schedule_per_size() -> None:
    for name, rate in (("grootv_tiny", 0.1), ("grootv_small", 0.3), ("grootv_base", 0.5)):
        with torch.device("meta"):
            model = timm.create_model(name)
        last = model.levels[-1].blocks[-1].drop_path
        assert last.drop_prob == pytest.approx(rate)
        assert isinstance(model.levels[0].blocks[0].drop_path, torch.nn.Identity)  # rate 0 at the first block


def test_ssm_parameters_skip_weight_decay() -> None:
    model = timm.create_model("grootv_micro")
    skipped = model.no_weight_decay()
    assert "levels.0.blocks.0.TreeSSM.A_logs" in skipped and "levels.3.blocks.0.TreeSSM.Ds" in skipped
    optimizer = timm.optim.create_optimizer_v2(model, opt="adamw", weight_decay=0.05)
    decayed = {
        id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]
    }
    named = dict(model.named_parameters())
    assert id(named["levels.0.blocks.0.TreeSSM.A_logs"]) not in decayed
    assert id(named["levels.0.blocks.0.TreeSSM.in_proj.weight"]) in decayed
