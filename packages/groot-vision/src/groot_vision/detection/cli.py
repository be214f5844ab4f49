"""``python -m groot_vision.detection train|eval|predict``: Mask / Faster R-CNN with GrootV on COCO data.

Defaults follow the paper's COCO recipe: AdamW (lr 1e-4, weight decay 0.05), batch 16 across all
processes, 1× = 12 epochs at shorter side 800 (lr ×0.1 at epochs 8 and 11), 3× = 36 epochs with the shorter
side drawn from 480-800 (lr ×0.1 at epochs 27 and 33). Launch with ``torchrun --nproc-per-node N`` for DDP.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torchvision.io import decode_image
from torchvision.transforms.v2 import functional as TF
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks
from tqdm import tqdm

from ..dense.distributed import Runtime, init_runtime
from ..dense.schedules import warmup_multistep
from ..dense.train_state import load_train_state, load_trained_model, save_train_state
from ..dense.training import (
    TrainLog,
    load_backbone_checkpoint,
    optimizer_step,
    report_metrics,
    runtime_options,
)
from .coco_eval import coco_results, evaluate_coco
from .data import coco_categories, collate, load_coco
from .model import build_detector

__all__ = ["main"]

SCHEDULES = {"1x": (12, (8, 11)), "3x": (36, (27, 33))}
MULTI_SCALE_SIDES = tuple(range(480, 801, 32))


def _model_config(args: argparse.Namespace, categories: dict[int, str]) -> dict:
    return {
        "kind": args.model,
        "backbone": args.backbone,
        "num_classes": max(categories, default=0) + 1,
        "categories": {str(k): v for k, v in categories.items()},
        "min_size": args.min_size,
        "max_size": args.max_size,
        "fpn_channels": args.fpn_channels,
        "rois_per_image": args.rois_per_image,
    }


def _build_from_config(config: dict, **overrides) -> torch.nn.Module:
    return build_detector(
        config["kind"],
        config["backbone"],
        config["num_classes"],
        min_size=config["min_size"],
        max_size=config["max_size"],
        fpn_channels=config["fpn_channels"],
        box_batch_size_per_image=config["rois_per_image"],
        **overrides,
    )


def _loader(dataset, batch_size: int, runtime: Runtime, *, train: bool, workers: int) -> DataLoader:
    sampler = None
    if runtime.distributed and train:
        sampler = DistributedSampler(dataset)
    elif runtime.distributed:  # an exact split: DistributedSampler would repeat images to even out ranks
        dataset = Subset(dataset, range(runtime.rank, len(dataset), runtime.world_size))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=train,
    )


@torch.no_grad()
def _evaluate(model, dataset, runtime: Runtime, batch_size: int, workers: int, amp: bool) -> dict:
    model.eval()
    records = []
    for images, targets in tqdm(
        _loader(dataset, batch_size, runtime, train=False, workers=workers),
        desc="eval",
        disable=not runtime.is_main,
    ):
        with torch.autocast(runtime.device.type, enabled=amp):
            outputs = model([img.to(runtime.device) for img in images])
        records += coco_results(outputs, [t["image_id"] for t in targets])
    if runtime.distributed:
        gathered = [None] * runtime.world_size
        dist.all_gather_object(gathered, records)
        records = [r for part in gathered for r in part]
    iou_types = ("bbox", "segm") if hasattr(model, "roi_heads") and model.roi_heads.has_mask() else ("bbox",)
    return evaluate_coco(dataset.coco, records, iou_types) if runtime.is_main else {}


def train(args: argparse.Namespace) -> dict:
    """Train; returns the last evaluation metrics (empty without ``--val-annotations``)."""
    runtime = init_runtime(args.device)
    torch.manual_seed(args.seed + runtime.rank)
    epochs, milestones = SCHEDULES[args.schedule]
    epochs = args.epochs or epochs
    min_size = MULTI_SCALE_SIDES if args.schedule == "3x" and args.min_size == 800 else args.min_size
    dataset = load_coco(args.images, args.annotations, train=True)
    val_set = (
        load_coco(args.val_images or args.images, args.val_annotations, train=False)
        if args.val_annotations
        else None
    )
    config = _model_config(args, coco_categories(args.annotations))
    model = _build_from_config(
        {**config, "min_size": min_size},
        drop_path_rate=args.drop_path_rate,
        frozen_stages=args.frozen_stages,
    )
    load_backbone_checkpoint(model, args.backbone_weights, runtime)
    model = runtime.data_parallel(model.to(runtime.device))
    per_process = max(args.batch_size // runtime.world_size, 1)
    loader = _loader(dataset, per_process, runtime, train=True, workers=args.workers)
    if len(loader) == 0:
        raise ValueError(f"{args.annotations}: fewer training images than the batch size {per_process}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    # Milestones sit at the same fraction of training when --epochs overrides the schedule's length.
    total_iters = epochs * len(loader)
    milestones_iters = [int(m / SCHEDULES[args.schedule][0] * total_iters) for m in milestones]
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_multistep(milestones_iters, warmup_steps=args.warmup_iters)
    )
    amp = args.amp and runtime.device.type == "cuda"
    scaler = torch.amp.GradScaler(enabled=amp)
    start_epoch, step = 0, 0
    output = Path(args.output)
    if args.resume:
        extra = load_train_state(args.resume, model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)
        start_epoch, step = extra["epoch"], extra["step"]
    log = TrainLog(output, runtime)
    metrics: dict = {}
    for epoch in range(start_epoch, epochs):
        model.train()
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not runtime.is_main)
        for images, targets in bar:
            images = [img.to(runtime.device) for img in images]
            targets = [{k: v.to(runtime.device) for k, v in t.items() if torch.is_tensor(v)} for t in targets]
            with torch.autocast(runtime.device.type, enabled=amp):
                losses = model(images, targets)
            loss = sum(losses.values())
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}: {losses}")
            optimizer_step(loss, optimizer, scaler, scheduler)
            step += 1
            entry = {"step": step, "epoch": epoch, "lr": scheduler.get_last_lr()[0], "loss": loss.item()}
            log.write(entry | {k: v.item() for k, v in losses.items()})
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if args.max_iters and step >= args.max_iters:
                break
        if runtime.is_main:
            save_train_state(
                output / "last.pth",
                model,
                optimizer=optimizer,
                scheduler=scheduler,
                scaler=scaler,
                epoch=epoch + 1,
                step=step,
                config=config,
            )
        if val_set is not None:
            metrics = _evaluate(
                model.module if runtime.distributed else model,
                val_set,
                runtime,
                per_process,
                args.workers,
                amp,
            )
            log.write({"epoch": epoch + 1, **metrics})
        runtime.barrier()
        if args.max_iters and step >= args.max_iters:
            break
    log.close()
    runtime.close()
    return metrics


def evaluate(args: argparse.Namespace) -> dict:
    """COCO box (and mask) AP of a trained checkpoint; printed as JSON and returned."""
    runtime = init_runtime(args.device)
    model, _ = load_trained_model(args.checkpoint, _build_from_config, runtime.device)
    dataset = load_coco(args.images, args.annotations, train=False)
    metrics = _evaluate(
        model, dataset, runtime, args.batch_size, args.workers, args.amp and runtime.device.type == "cuda"
    )
    report_metrics(metrics, runtime, args.output)
    runtime.close()
    return metrics


@torch.no_grad()
def predict(args: argparse.Namespace) -> dict:
    """Detect objects in one image and save it with boxes, labels and masks drawn; returns the detections."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, config = load_trained_model(args.checkpoint, _build_from_config, device)
    image = decode_image(args.image, mode="RGB")
    output = model([TF.to_dtype(image, torch.float32, scale=True).to(device)])[0]
    keep = output["scores"] >= args.score_threshold
    output = {k: v[keep].cpu() for k, v in output.items()}
    names = config["categories"]
    labels = [
        f"{names.get(str(label), label)} {s:.2f}"
        for label, s in zip(output["labels"].tolist(), output["scores"].tolist(), strict=True)
    ]
    drawn = image
    if "masks" in output and len(labels):
        drawn = draw_segmentation_masks(drawn, output["masks"][:, 0] > 0.5, alpha=0.5)
    drawn = draw_bounding_boxes(drawn, output["boxes"], labels=labels, width=2)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(drawn.permute(1, 2, 0).numpy()).save(args.output)
    print(f"{len(labels)} detection(s) -> {args.output}")
    return output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m groot_vision.detection", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = runtime_options()
    common.add_argument("--workers", type=int, default=4)

    t = commands.add_parser("train", parents=[common], help="train on a COCO-format set")
    t.add_argument("--images", required=True, help="image folder")
    t.add_argument("--annotations", required=True, help="COCO annotations JSON")
    t.add_argument("--val-images", help="validation image folder (default: --images)")
    t.add_argument("--val-annotations", help="validation JSON; evaluated after every epoch")
    t.add_argument("--model", choices=("mask_rcnn", "faster_rcnn"), default="mask_rcnn")
    t.add_argument("--backbone", default="grootv_tiny")
    t.add_argument("--backbone-weights", help="GrootV classification checkpoint (head is skipped)")
    t.add_argument("--schedule", choices=tuple(SCHEDULES), default="1x")
    t.add_argument("--epochs", type=int, help="override the schedule's epochs (milestones scale along)")
    t.add_argument("--max-iters", type=int, default=0, help="stop after this many steps (smoke tests)")
    t.add_argument("--batch-size", type=int, default=16, help="total over all processes")
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--weight-decay", type=float, default=0.05)
    t.add_argument("--warmup-iters", type=int, default=500)
    t.add_argument("--drop-path-rate", type=float, default=None)
    t.add_argument("--frozen-stages", type=int, default=-1)
    t.add_argument("--min-size", type=int, default=800, help="shorter side (3x: 800 means 480-800)")
    t.add_argument("--max-size", type=int, default=1333)
    t.add_argument("--fpn-channels", type=int, default=256)
    t.add_argument("--rois-per-image", type=int, default=512, help="sampled RoIs per image for the box head")
    t.add_argument("--output", default="runs/detection")
    t.add_argument("--resume", help="a last.pth to continue from")
    t.add_argument("--seed", type=int, default=0)

    e = commands.add_parser("eval", parents=[common], help="COCO AP of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--images", required=True)
    e.add_argument("--annotations", required=True)
    e.add_argument("--batch-size", type=int, default=2)
    e.add_argument("--output", help="also write the metrics JSON here")

    p = commands.add_parser("predict", help="draw detections on one image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--output", required=True, help="where to save the drawn image")
    p.add_argument("--score-threshold", type=float, default=0.5)
    p.add_argument("--device", default=None)
    return parser


def main(argv: Sequence[str] | None = None):
    """Entry point; returns the command's result (metrics dict or detections)."""
    args = _parser().parse_args(argv)
    return {"train": train, "eval": evaluate, "predict": predict}[args.command](args)
