"""Synthetic Pathfinder set, and the train / evaluate / ablation CLIs on it (CPU smoke runs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from groot_vision import ablation, evaluate, load_state_dict, synthetic, train
from PIL import Image
from scipy import ndimage

_SMOKE = [
    "--model",
    "grootv_micro",
    "--img-size",
    "32",
    "--batch-size",
    "4",
    "--workers",
    "0",
    "--device",
    "cpu",
    "--amp-dtype",
    "float32",
]  # bf16 autocast is for GPUs: CPU depthwise convs in bf16 are very slow


@pytest.fixture(scope="module")
def pathfinder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pathfinder32")
    synthetic.main(["--out", str(root), "--size", "32", "--train", "16", "--val", "8", "--seed", "0"])
    return root


def test_synthetic_labels_match_pixel_connectivity() -> None:
    eight_connected = np.ones((3, 3), dtype=int)
    for index in range(40):
        positive = index % 2 == 1
        image, (a, b) = synthetic.render_sample(np.random.default_rng([1, 0, index]), 48, positive)
        labels, _ = ndimage.label(image > 0, structure=eight_connected)
        assert labels[a] > 0 and labels[b] > 0
        assert (labels[a] == labels[b]) == positive, index


def test_synthetic_set_is_deterministic_and_balanced(pathfinder: Path, tmp_path: Path) -> None:
    synthetic.main(["--out", str(tmp_path), "--size", "32", "--train", "16", "--val", "8", "--seed", "0"])
    files = sorted(p.relative_to(pathfinder) for p in pathfinder.rglob("*.png"))
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.png"))
    assert all((pathfinder / f).read_bytes() == (tmp_path / f).read_bytes() for f in files)
    for split, count in (("train", 16), ("val", 8)):
        assert len(list((pathfinder / split / "positive").glob("*.png"))) == count // 2
        assert len(list((pathfinder / split / "negative").glob("*.png"))) == count // 2
    other_seed = tmp_path / "seed1"
    synthetic.write_split(other_seed, "val", 2, size=32, seed=1)
    a = np.asarray(Image.open(pathfinder / "val" / "negative" / "000000.png"))
    b = np.asarray(Image.open(other_seed / "val" / "negative" / "000000.png"))
    assert a.shape == (32, 32) and not np.array_equal(a, b)


def test_train_cli_two_steps_then_resume_and_evaluate(pathfinder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, "-m", "groot_vision.train", "--data-dir", str(pathfinder), *_SMOKE,
         "--epochs", "2", "--warmup-epochs", "1", "--max-steps", "2", "--output", str(run)],
        check=True, env=env, timeout=300,
    )  # fmt: skip
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 2 and summary["epoch"] == 0
    assert 0.0 <= summary["top1"] <= 100.0 and summary["top5"] == 100.0  # two classes: top-5 is trivial
    first = load_state_dict(run / "last.pth", use_ema=False)

    resumed = train.main(
        ["--data-dir", str(pathfinder), *_SMOKE, "--epochs", "2", "--warmup-epochs", "1", "--max-steps", "3",
         "--resume", str(run / "last.pth"), "--output", str(run)]
    )  # fmt: skip
    assert resumed["epoch"] == 1 and resumed["step"] == 3
    second = load_state_dict(run / "last.pth", use_ema=False)
    assert any(not (first[k] == second[k]).all() for k in first)

    metrics = evaluate.main(
        ["--model", "grootv_micro", "--checkpoint", str(run / "last.pth"), "--data-dir", str(pathfinder),
         "--img-size", "32", "--batch-size", "4", "--workers", "0", "--device", "cpu",
         "--throughput-batch", "2"]
    )  # fmt: skip
    assert metrics["params_m"] == pytest.approx(2.0, abs=0.05) and metrics["gmacs"] > 0
    assert metrics["throughput_imgps"] > 0 and 0.0 <= metrics["top1"] <= 100.0


def test_ablation_smoke_prints_table(pathfinder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = ablation.main(
        ["--data-dir", str(pathfinder), "--variants", "tree-l2,cross", "--epochs", "1", "--batch-size", "4",
         "--img-size", "32", "--workers", "0", "--device", "cpu", "--amp-dtype", "float32",
         "--max-steps", "1", "--output", str(tmp_path)]
    )  # fmt: skip
    assert [(r["variant"], r["scan"], r["metric"]) for r in rows] == [
        ("tree-l2", "tree", "l2"),
        ("cross", "cross", "-"),
    ]
    table = capsys.readouterr().out
    assert "tree-l2" in table and "cross" in table and "best top-1" in table
    assert json.loads((tmp_path / "results.json").read_text()) == rows
