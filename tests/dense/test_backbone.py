"""GrootV dense backbone: strides at odd sizes, frozen stages, FPN wrapper, classification weights, smp."""

from __future__ import annotations

import json
import math
from pathlib import Path

import groot_vision  # noqa: F401  (registers the models)
import pytest
import segmentation_models_pytorch as smp
import timm
import torch
from groot_vision.dense import GrootVFeatures, GrootVFPN, load_backbone_weights


@pytest.mark.parametrize("size", [(67, 45), (97, 130), (64, 96)])
def test_four_maps_at_strides_4_to_32_for_odd_sizes(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    backbone = GrootVFeatures("grootv_micro").eval()
    with torch.no_grad():
        maps = backbone(torch.randn(2, 3, *size))
    assert list(maps) == ["0", "1", "2", "3"]
    for (name, fmap), stride, channels in zip(maps.items(), (4, 8, 16, 32), (32, 64, 128, 256), strict=True):
        assert fmap.shape == (2, channels, math.ceil(size[0] / stride), math.ceil(size[1] / stride)), name
        assert torch.isfinite(fmap).all()
        # Channels-last, cropped or not: a neck's convolutions then need no layout conversion.
        assert fmap.is_contiguous(memory_format=torch.channels_last), name
        # Per-stage LayerNorm output: every pixel has (close to) zero mean over channels before the affine
        # part, which is the identity at initialisation.
        assert fmap.mean(1).abs().max() < 1e-4


def test_padding_matches_explicit_zero_padding() -> None:
    torch.manual_seed(0)
    backbone = GrootVFeatures("grootv_micro").eval()
    image = torch.randn(1, 3, 50, 70)
    padded = torch.nn.functional.pad(image, (0, 26, 0, 14))
    with torch.no_grad():
        cropped, full = backbone(image), backbone(padded)
    torch.testing.assert_close(cropped["0"], full["0"][..., :13, :18])


def test_frozen_stages_do_not_train() -> None:
    backbone = GrootVFeatures("grootv_micro", frozen_stages=2, drop_path_rate=0.2).train()
    frozen = [n for n, p in backbone.named_parameters() if not p.requires_grad]
    assert frozen and all(
        n.startswith(("body.patch_embed", "body.levels.0", "body.levels.1")) for n in frozen
    )
    assert all(p.requires_grad for n, p in backbone.named_parameters() if n.startswith("body.levels.2"))
    assert not backbone.body.levels[0].training and backbone.body.levels[2].training
    assert backbone.body.levels[3].blocks[0].drop_path.drop_prob == pytest.approx(0.2)


def test_fpn_wrapper_is_torchvision_shaped() -> None:
    fpn = GrootVFPN(GrootVFeatures("grootv_micro"), out_channels=48).eval()
    with torch.no_grad():
        levels = fpn(torch.randn(1, 3, 96, 64))
    assert fpn.out_channels == 48
    assert list(levels) == ["0", "1", "2", "3", "pool"]
    assert [tuple(v.shape[-2:]) for v in levels.values()] == [(24, 16), (12, 8), (6, 4), (3, 2), (2, 1)]


def test_classification_checkpoint_loads_with_head_skipped(tmp_path) -> None:
    torch.manual_seed(1)
    classifier = timm.create_model("grootv_micro", num_classes=10)
    path = tmp_path / "cls.pth"
    # The paper's layout: weights under "model", with an EMA copy and extras next to them.
    torch.save({"model": classifier.state_dict(), "epoch": 3}, path)
    backbone = GrootVFeatures("grootv_micro")
    report = load_backbone_weights(backbone, path, use_ema=False)
    assert {"head.weight", "head.bias", "conv_head.0.weight"} <= set(report.skipped)
    assert not any(name.startswith(("head", "conv_head")) for name in report.loaded)
    assert report.missing == [] and report.shape_mismatch == []
    assert "skipped" in report.summary() and "head.weight" in report.summary()
    expected = classifier.state_dict()
    for name, value in backbone.body.state_dict().items():
        torch.testing.assert_close(value, expected[name])


def test_wrong_variant_fails_with_the_mismatches_listed() -> None:
    classifier = timm.create_model("grootv_micro", num_classes=0, channels=16)
    with pytest.raises(
        ValueError, match=r"(?s)0 loaded.*shape mismatch: patch_embed\.conv1\.weight \(8, 3, 3, 3\)"
    ):
        load_backbone_weights(GrootVFeatures("grootv_micro"), classifier.state_dict())


def test_tu_grootv_tiny_builds_through_smp() -> None:
    model = smp.UPerNet(encoder_name="tu-grootv_tiny", encoder_weights=None, classes=4)
    assert model.encoder.out_channels == [3, 0, 80, 160, 320, 640]


def test_smp_encoder_runs_and_takes_classification_weights() -> None:
    torch.manual_seed(2)
    model = smp.UPerNet(
        encoder_name="tu-grootv_micro", encoder_weights=None, classes=3, decoder_channels=32
    ).eval()
    classifier = timm.create_model("grootv_micro", num_classes=5)
    report = load_backbone_weights(model, classifier.state_dict())
    assert "head.weight" in report.skipped and report.loaded
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 96)).shape == (1, 3, 64, 96)


def test_paper_checkpoint_layout_loads_into_the_tiny_backbone(tmp_path) -> None:
    """Every key of the released GrootV-T file, with random values, in the paper's {"model": ...} wrapper."""
    layout = json.loads(
        (Path(__file__).parents[1] / "vision" / "grootv_official_state_dict.json").read_text()
    )
    generator = torch.Generator().manual_seed(0)
    state = {name: torch.randn(shape, generator=generator) for name, shape in layout["tiny"]["keys"].items()}
    path = tmp_path / "grootv_t_1k_224.pth"
    torch.save({"model": state, "model_ema": state, "max_accuracy": 83.4}, path)
    backbone = GrootVFeatures("grootv_tiny")
    report = load_backbone_weights(backbone, path)
    assert sorted(report.skipped) == sorted(k for k in state if k.startswith(("head.", "conv_head.")))
    assert report.missing == [] and report.shape_mismatch == []
    torch.testing.assert_close(
        backbone.body.levels[2].blocks[8].mlp.fc2.weight, state["levels.2.blocks.8.mlp.fc2.weight"]
    )
