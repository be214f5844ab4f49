"""UperNet-GrootV on a synthetic ADE20K-layout set: overfitting, multi-scale eval, ignore label, bad input."""

from __future__ import annotations

import json

import groot_vision  # noqa: F401  (registers the models)
import numpy as np
import pytest
import torch
from groot_vision.segmentation import IGNORE_INDEX, ConfusionMatrix, LabelMapError, SegmentationFolder
from groot_vision.segmentation.cli import main
from PIL import Image
from synthetic_dense_data import write_ade

SMALL = ["--backbone", "grootv_micro", "--decoder-channels", "32", "--crop-size", "64", "--num-classes", "3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("ade")
    write_ade(root, "training", num_images=4, size=96)
    write_ade(root, "validation", num_images=2, size=80, seed=1)
    out = root / "run"
    main(
        [
            "train",
            "--data",
            str(root),
            "--output",
            str(out),
            "--iters",
            "24",
            "--warmup-iters",
            "2",
            "--lr",
            "1e-3",
            "--batch-size",
            "4",
            "--workers",
            "0",
            "--val-every",
            "24",
            "--save-every",
            "24",
            "--log-train-miou",
            *SMALL,
        ]
    )
    return root, out


def test_training_miou_rises(trained) -> None:
    _, out = trained
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    miou = [entry["train_mIoU"] for entry in log]
    assert len(miou) == 24
    assert np.mean(miou[-4:]) > np.mean(miou[:4]) + 0.2, miou
    assert "val_mIoU" in log[-1]


@pytest.mark.parametrize("multi_scale", [False, True])
def test_eval_single_and_multi_scale_with_flip(trained, multi_scale: bool) -> None:
    root, out = trained
    args = ["eval", "--checkpoint", str(out / "last.pth"), "--data", str(root)]
    metrics = main(args + (["--multi-scale"] if multi_scale else []))
    assert set(metrics) == {"mIoU", "mAcc", "aAcc"}
    assert 0.0 <= metrics["mIoU"] <= 1.0 and metrics["aAcc"] > 0.3


def test_predict_writes_a_colour_mask(trained, tmp_path) -> None:
    root, out = trained
    image = root / "images" / "validation" / "ADE_0000.png"
    target = tmp_path / "mask.png"
    classes = main(
        ["predict", "--checkpoint", str(out / "last.pth"), "--image", str(image), "--output", str(target)]
    )
    mask = np.asarray(Image.open(target))
    assert mask.shape == (80, 80, 3) and classes.shape == (80, 80)
    assert len(np.unique(mask.reshape(-1, 3), axis=0)) == len(np.unique(classes))


def test_label_zero_is_ignored_and_others_shift_down(tmp_path) -> None:
    write_ade(tmp_path, "training", num_images=1, size=64)
    dataset = SegmentationFolder(tmp_path, "training", num_classes=3)
    _, target = dataset[0]
    raw = np.asarray(Image.open(dataset.pairs[0][1]))
    assert (target.numpy()[raw == 0] == IGNORE_INDEX).all()
    np.testing.assert_array_equal(target.numpy()[raw > 0], raw[raw > 0].astype(np.int64) - 1)
    # Scores do not depend on what is predicted where the label is 0.
    prediction = target.clone()
    prediction[target == IGNORE_INDEX] = 0
    other = prediction.clone()
    other[target == IGNORE_INDEX] = 2
    scores = []
    for p in (prediction, other):
        matrix = ConfusionMatrix(3)
        matrix.update(p, target)
        scores.append(matrix.compute())
    assert scores[0] == scores[1] and scores[0]["mIoU"] == 1.0


def test_confusion_matrix_matches_a_direct_count() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, size=(3, 20, 20))
    target[rng.random(target.shape) < 0.1] = IGNORE_INDEX
    prediction = rng.integers(0, 4, size=target.shape)
    matrix = ConfusionMatrix(4)
    matrix.update(torch.from_numpy(prediction), torch.from_numpy(target))
    valid = target != IGNORE_INDEX
    ious = []
    for k in range(4):
        inter = np.sum((prediction == k) & (target == k) & valid)
        union = np.sum(((prediction == k) | (target == k)) & valid)
        ious.append(inter / union)
    scores = matrix.compute()
    assert scores["mIoU"] == pytest.approx(np.mean(ious))
    assert scores["aAcc"] == pytest.approx(np.mean(prediction[valid] == target[valid]))


def test_label_map_size_mismatch_names_the_file(tmp_path) -> None:
    write_ade(tmp_path, "training", num_images=2, size=64)
    bad = tmp_path / "annotations" / "training" / "ADE_0001.png"
    Image.fromarray(np.ones((60, 64), np.uint8)).save(bad)
    with pytest.raises(LabelMapError, match=r"ADE_0001\.png: label map is 64x60 but its image .* is 64x64"):
        SegmentationFolder(tmp_path, "training")


def test_missing_label_map_names_the_file(tmp_path) -> None:
    write_ade(tmp_path, "training", num_images=2, size=64)
    (tmp_path / "annotations" / "training" / "ADE_0000.png").unlink()
    with pytest.raises(LabelMapError, match=r"ADE_0000\.png: label map for ADE_0000\.png not found"):
        SegmentationFolder(tmp_path, "training")


def test_label_values_beyond_num_classes_name_the_file(tmp_path) -> None:
    write_ade(tmp_path, "training", num_images=1, size=64)
    dataset = SegmentationFolder(tmp_path, "training", num_classes=2)  # the files hold labels 1-3
    with pytest.raises(LabelMapError, match=r"ADE_0000\.png: label values outside the 2 classes"):
        dataset[0]
