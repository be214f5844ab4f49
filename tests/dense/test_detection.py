"""Mask R-CNN with a GrootV backbone on a synthetic COCO set: train, eval, predict, bad-input errors."""

from __future__ import annotations

import json
import shutil

import groot_vision  # noqa: F401  (registers the models)
import numpy as np
import pytest
import torch
from groot_vision.detection import CocoDataError, coco_results, evaluate_coco, load_coco
from groot_vision.detection.cli import main
from PIL import Image
from synthetic_dense_data import write_coco

SMALL = [
    "--backbone",
    "grootv_micro",
    "--min-size",
    "128",
    "--max-size",
    "128",
    "--fpn-channels",
    "32",
    "--rois-per-image",
    "64",
    "--workers",
    "0",
    "--warmup-iters",
    "0",
]


def train_arguments(images, annotations, output, *, epochs: int) -> list[str]:
    """``train`` on two images at batch 2 (one step an epoch), small model and sizes."""
    return [
        "train",
        *("--images", str(images), "--annotations", str(annotations), "--output", str(output)),
        *("--batch-size", "2", "--epochs", str(epochs), "--lr", "2e-4"),
        *SMALL,
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Six steps on two fixed images (batch 2), so the losses are comparable step to step."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("coco")
    images, annotations = write_coco(root, num_images=2, size=128)
    out = root / "run"
    main(train_arguments(images, annotations, out, epochs=6))
    return images, annotations, out


def test_training_loss_falls(trained) -> None:
    _, _, out = trained
    losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 6
    assert np.mean(losses[-2:]) < 0.85 * np.mean(losses[:2]), losses


def test_eval_reports_box_and_mask_ap(trained) -> None:
    images, annotations, out = trained
    metrics = main(
        [
            "eval",
            "--checkpoint",
            str(out / "last.pth"),
            "--images",
            str(images),
            "--annotations",
            str(annotations),
            "--workers",
            "0",
            "--output",
            str(out / "m.json"),
        ]
    )
    for prefix in ("bbox", "segm"):
        for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100"):
            assert 0.0 <= metrics[f"{prefix}_{name}"] <= 1.0
    assert json.loads((out / "m.json").read_text()) == metrics


def test_perfect_detections_score_ap_one(tmp_path) -> None:
    """The COCO scoring path itself: ground truth fed back as detections must give AP 1."""
    images, annotations = write_coco(tmp_path, num_images=3, size=96)
    dataset = load_coco(images, annotations, train=False)
    outputs, ids = [], []
    for _, target in dataset:
        n = len(target["labels"])
        outputs.append(
            {
                "boxes": target["boxes"].as_subclass(torch.Tensor),
                "labels": target["labels"],
                "scores": torch.linspace(1.0, 0.9, n),
                "masks": target["masks"][:, None].float(),
            }
        )
        ids.append(target["image_id"])
    metrics = evaluate_coco(dataset.coco, coco_results(outputs, ids))
    assert metrics["bbox_AP"] == pytest.approx(1.0, abs=1e-6)
    assert metrics["segm_AP"] > 0.95  # polygon rasterisation differs from pycocotools' by a pixel rim


def test_predict_draws_and_saves_an_image(trained, tmp_path) -> None:
    images, _, out = trained
    target = tmp_path / "drawn" / "pred.png"
    detections = main(
        [
            "predict",
            "--checkpoint",
            str(out / "last.pth"),
            "--image",
            str(images / "scene_0.png"),
            "--output",
            str(target),
            "--score-threshold",
            "0.0",
        ]
    )
    drawn = np.asarray(Image.open(target))
    original = np.asarray(Image.open(images / "scene_0.png").convert("RGB"))
    assert drawn.shape == original.shape
    assert len(detections["boxes"]) > 0 and not np.array_equal(drawn, original)


def test_resume_continues_from_the_saved_step(trained, tmp_path) -> None:
    images, annotations, out = trained
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    main([*train_arguments(images, annotations, resumed, epochs=7), "--resume", str(out / "last.pth")])
    steps = [json.loads(line).get("step") for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7]


def test_missing_images_name_the_json_and_files(tmp_path) -> None:
    images, annotations = write_coco(tmp_path, num_images=2, size=64)
    (images / "scene_1.png").unlink()
    with pytest.raises(CocoDataError, match=r"annotations\.json: 1 image\(s\) not found .*scene_1\.png"):
        load_coco(images, annotations, train=True)


def test_empty_annotation_list_is_rejected_for_training(tmp_path) -> None:
    images, annotations = write_coco(tmp_path, num_images=2, size=64)
    content = json.loads(annotations.read_text())
    annotations.write_text(json.dumps({**content, "annotations": []}))
    with pytest.raises(CocoDataError, match=r"annotations\.json: the 'annotations' list is empty"):
        main(
            [
                "train",
                "--images",
                str(images),
                "--annotations",
                str(annotations),
                "--output",
                str(tmp_path / "r"),
                *SMALL,
            ]
        )
    assert len(load_coco(images, annotations, train=False)) == 2  # evaluation may still run on such a set


def test_missing_json_is_named(tmp_path) -> None:
    with pytest.raises(CocoDataError, match=r"nope\.json: annotations file not found"):
        load_coco(tmp_path, tmp_path / "nope.json", train=False)


def test_crowd_regions_are_not_training_targets(tmp_path) -> None:
    images, annotations = write_coco(tmp_path, num_images=1, size=64)
    content = json.loads(annotations.read_text())
    content["annotations"][0]["iscrowd"] = 1
    annotations.write_text(json.dumps(content))
    _, target = load_coco(images, annotations, train=True)[0]
    assert (
        len(target["boxes"])
        == len(target["labels"])
        == len(target["masks"])
        == len(content["annotations"]) - 1
    )
    assert "iscrowd" not in target
