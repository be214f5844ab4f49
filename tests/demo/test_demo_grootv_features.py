"""GrootV features for the demo: shapes, repeatable random weights, checkpoints, no groot-vision."""

from __future__ import annotations

import sys
from pathlib import Path

import groot_vision  # noqa: F401  (registers the models with timm)
import numpy as np
import pytest
import timm
import torch
from groot_demo.analysis import compute_features
from groot_demo.visualize import CheckpointError, GrootVUnavailable, grootv_features, load_grootv
from PIL import Image

IMAGE = Image.fromarray(np.random.default_rng(0).integers(0, 256, (52, 70, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def random_model() -> torch.nn.Module:
    return load_grootv()


def test_stage_shapes(random_model: torch.nn.Module) -> None:
    assert grootv_features(random_model, IMAGE, 1).shape == (1, 80, 13, 18)  # ceil(52/4), ceil(70/4)
    assert grootv_features(random_model, IMAGE, 2).shape == (1, 160, 7, 9)
    with pytest.raises(ValueError, match="stage"):
        grootv_features(random_model, IMAGE, 3)


def test_random_weights_are_repeatable() -> None:
    first = load_grootv(model_name="grootv_micro")
    torch.manual_seed(123)  # the global RNG must not matter
    second = load_grootv(model_name="grootv_micro")
    torch.testing.assert_close(grootv_features(second, IMAGE, 2), grootv_features(first, IMAGE, 2))


def test_checkpoint_weights_are_used(tmp_path: Path) -> None:
    torch.manual_seed(1)
    trained = timm.create_model("grootv_micro").eval()
    path = tmp_path / "grootv_micro.pth"
    torch.save({"model": trained.state_dict()}, path)

    features = grootv_features(load_grootv(str(path), model_name="grootv_micro"), IMAGE, 1)

    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    x = (torch.from_numpy(np.asarray(IMAGE, dtype=np.float32) / 255).permute(2, 0, 1)[None] - mean) / std
    with torch.no_grad():
        expected = trained.forward_intermediates(x, indices=[0], intermediates_only=True)[0]
    torch.testing.assert_close(features, expected)


def test_bad_checkpoints(tmp_path: Path, corrupt_checkpoint: Path) -> None:
    with pytest.raises(CheckpointError, match="could not load the checkpoint into grootv_micro"):
        load_grootv(str(corrupt_checkpoint), model_name="grootv_micro")
    narrower = tmp_path / "narrow.pth"
    torch.save(timm.create_model("grootv_micro", channels=16).state_dict(), narrower)
    with pytest.raises(CheckpointError, match="size mismatch") as error:
        load_grootv(str(narrower), model_name="grootv_micro")
    assert len(str(error.value)) < 400  # short enough for the page, not torch's list of every tensor


def test_without_groot_vision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "groot_vision", None)  # makes `import groot_vision` fail
    with pytest.raises(GrootVUnavailable, match="groot-vision"):
        load_grootv()


def test_grid_of_grootv_features(random_model: torch.nn.Module) -> None:
    grid = compute_features(IMAGE, "GrootV stage 2", 64, lambda: random_model, torch.device("cpu"))
    assert grid.features.shape == (1, 160, 6, 8)  # 64×48 input, stride 8
    assert grid.rgb.shape == (6, 8, 3)
