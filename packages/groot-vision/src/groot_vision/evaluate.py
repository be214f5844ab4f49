"""Evaluate a GrootV (or any timm) classifier: top-1/top-5 on an ImageFolder split, plus a cost report.

    python -m groot_vision.evaluate --model grootv_tiny --checkpoint grootv_t.pth --data-dir /data/imagenet
    torchrun --nproc_per_node 8 -m groot_vision.evaluate ...            # data-parallel evaluation
    python -m groot_vision.evaluate --model grootv_tiny --report-only    # params / GMACs / img/s only

``--checkpoint`` accepts the paper's released files, groot-vision/timm training checkpoints and plain
state dicts (loaded without executing pickled code, see :mod:`groot_vision.checkpoint`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import timm
import torch
import torch.nn.functional as F
from timm.data import create_dataset, create_loader, resolve_data_config
from timm.utils import accuracy, init_distributed_device
from torch import nn
from tqdm import tqdm

from . import grootv  # noqa: F401  (registers the GrootV models with timm)
from .checkpoint import load_checkpoint
from .report import model_report

__all__ = ["AMP_DTYPES", "main", "validate"]

AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": None}


@torch.no_grad()
def validate(
    model: nn.Module,
    loader: torch.utils.data.DataLoader,
    device: torch.device,
    *,
    amp_dtype: torch.dtype | None = None,
    world_size: int = 1,
    progress: bool = True,
) -> dict[str, float]:
    """Mean loss, top-1 and top-5 (%) of ``model`` over ``loader``, averaged over all processes."""
    model.eval()
    totals = torch.zeros(4, device=device)  # loss sum, top-1 hits, top-5 hits, samples
    for images, targets in tqdm(loader, desc="eval", disable=not progress, leave=False):
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(images)
        top1, top5 = accuracy(logits.float(), targets, topk=(1, min(5, logits.shape[-1])))
        n = targets.shape[0]
        loss_sum = F.cross_entropy(logits.float(), targets, reduction="sum")
        totals += torch.stack([loss_sum, top1 * n / 100, top5 * n / 100, torch.full_like(loss_sum, n)])
    if world_size > 1:
        torch.distributed.all_reduce(totals)
    loss, top1, top5, count = totals.tolist()
    return {"loss": loss / count, "top1": 100 * top1 / count, "top5": 100 * top5 / count}


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the evaluation CLI."""
    parser = argparse.ArgumentParser(description="Evaluate an image classifier (GrootV or any timm model).")
    parser.add_argument("--model", default="grootv_tiny")
    parser.add_argument("--checkpoint", default="", help="weights file (released, training or state dict)")
    parser.add_argument("--no-ema", action="store_true", help="use the raw weights even if EMA weights exist")
    parser.add_argument("--data-dir", default="", help="ImageFolder root holding the split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--num-classes", type=int, default=None, help="default: the dataset's, else 1000")
    parser.add_argument("--img-size", type=int, default=None, help="default: the model's pretrained cfg")
    parser.add_argument("--crop-pct", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--amp-dtype", choices=sorted(AMP_DTYPES), default="float32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--report-only", action="store_true", help="only params / GMACs / throughput")
    parser.add_argument(
        "--throughput-batch", type=int, default=0, help="measure img/s at this batch (0: skip)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the evaluation CLI; returns the metrics it prints."""
    args = build_parser().parse_args(argv)
    device = init_distributed_device(args)
    is_main = args.rank == 0
    dataset = None
    if not args.report_only:
        dataset = create_dataset("", root=args.data_dir, split=args.split, is_training=False)
    num_classes = args.num_classes or (len(dataset.reader.class_to_idx) if dataset is not None else 1000)
    model = timm.create_model(args.model, num_classes=num_classes)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, use_ema=not args.no_ema)
    model.to(device)
    data_config = resolve_data_config(dict(img_size=args.img_size, crop_pct=args.crop_pct), model=model)

    metrics: dict[str, float] = {}
    if is_main:
        report = model_report(
            model, data_config["input_size"], device=device, throughput_batch=args.throughput_batch or None
        )
        print(f"{args.model}: {report}")
        metrics.update(params_m=report.params_m, gmacs=report.gmacs)
        if report.throughput_imgps is not None:
            metrics["throughput_imgps"] = report.throughput_imgps
    if dataset is not None:
        loader = create_loader(
            dataset,
            input_size=data_config["input_size"],
            batch_size=args.batch_size,
            interpolation=data_config["interpolation"],
            mean=data_config["mean"],
            std=data_config["std"],
            crop_pct=data_config["crop_pct"],
            num_workers=args.workers,
            distributed=args.distributed,
            use_prefetcher=False,
            device=device,
        )
        metrics.update(
            validate(
                model,
                loader,
                device,
                amp_dtype=AMP_DTYPES[args.amp_dtype],
                world_size=args.world_size,
                progress=is_main,
            )
        )
    if is_main:
        print(json.dumps(metrics))
    return metrics


if __name__ == "__main__":
    main()
