"""Scan ablation on the synthetic Pathfinder task: tree (cosine / L1 / L2) vs raster vs cross scan.

    python -m groot_vision.synthetic --out data/pathfinder64 --size 64 --train 20000 --val 2000
    python -m groot_vision.ablation --data-dir data/pathfinder64 --epochs 15 --device cuda

Every variant trains the same model (``grootv_micro`` by default) from the same seed through
:mod:`groot_vision.train`, with a recipe suited to a connectivity label: no mixup, cutmix, RandAugment,
colour jitter, random erasing or cropping (each can cut or fake a curve), no EMA for short runs. The
best validation top-1 of each variant is printed as a table and written to ``OUTPUT/results.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

from . import train

__all__ = ["VARIANTS", "main"]

VARIANTS = {
    "tree-cosine": ("tree", "cosine"),
    "tree-l1": ("tree", "l1"),
    "tree-l2": ("tree", "l2"),
    "raster": ("raster", "cosine"),
    "cross": ("cross", "cosine"),
}


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the ablation runner."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True, help="output of python -m groot_vision.synthetic")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {list(VARIANTS)}"
    )
    p.add_argument("--model", default="grootv_micro")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--warmup-epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (not scaled by batch)")
    p.add_argument("--img-size", type=int, default=None, help="default: the model's input size")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--device", default=None, help="default: cuda if available")
    p.add_argument("--amp-dtype", default="bfloat16")
    p.add_argument("--max-steps", type=int, default=0, help="per variant (0: full epochs); for smoke runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default="runs/ablation")
    return p


def _train_args(args: argparse.Namespace, scan: str, metric: str, output: Path) -> list[str]:
    argv = [
        "--data-dir", args.data_dir,
        "--model", args.model,
        "--scan", scan,
        "--metric", metric,
        "--epochs", str(args.epochs),
        "--warmup-epochs", str(args.warmup_epochs),
        "--batch-size", str(args.batch_size),
        "--base-lr", str(args.lr * 512 / args.batch_size),
        "--warmup-lr", "1e-6",
        "--min-lr", "1e-6",
        "--drop-path", "0",
        "--mixup", "0", "--cutmix", "0", "--aa", "none", "--color-jitter", "0", "--reprob", "0",
        "--scale", "1", "1",
        "--smoothing", "0",
        "--model-ema-decay", "0",
        "--workers", str(args.workers),
        "--amp-dtype", args.amp_dtype,
        "--max-steps", str(args.max_steps),
        "--seed", str(args.seed),
        "--output", str(output),
    ]  # fmt: skip
    if args.img_size:
        argv += ["--img-size", str(args.img_size)]
    if args.device:
        argv += ["--device", args.device]
    return argv


def main(argv: Sequence[str] | None = None) -> list[dict[str, object]]:
    """Train every requested variant; print and return one result row per variant."""
    args = build_parser().parse_args(argv)
    rows = []
    for name in args.variants.split(","):
        scan, metric = VARIANTS[name]
        start = time.perf_counter()
        metrics = train.main(_train_args(args, scan, metric, Path(args.output) / name))
        rows.append(
            dict(
                variant=name,
                scan=scan,
                metric=metric if scan == "tree" else "-",
                best_top1=metrics["best_top1"],
                final_top1=metrics["top1"],
                minutes=(time.perf_counter() - start) / 60,
            )
        )
    print(
        f"\n{'variant':<12} {'scan':<7} {'metric':<7} {'best top-1':>10} {'final top-1':>11} {'minutes':>8}"
    )
    for row in rows:
        print(
            f"{row['variant']:<12} {row['scan']:<7} {row['metric']:<7} {row['best_top1']:>10.2f}"
            f" {row['final_top1']:>11.2f} {row['minutes']:>8.1f}"
        )
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "results.json").write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
