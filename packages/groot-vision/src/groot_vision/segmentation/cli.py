"""``python -m groot_vision.segmentation train|eval|predict``: UperNet-GrootV on ADE20K-layout data.

Defaults follow the paper's ADE20K recipe: 512x512 crops, AdamW (lr 6e-5, weight decay 0.01), poly
schedule with 1 500 warm-up iterations, 160k iterations, batch 16 across all processes. Launch with
``torchrun --nproc-per-node N`` for DDP.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import tv_tensors
from tqdm import tqdm

from ..dense.distributed import Runtime, init_runtime
from ..dense.schedules import warmup_poly
from ..dense.train_state import load_train_state, load_trained_model, save_train_state
from ..dense.training import (
    TrainLog,
    load_backbone_checkpoint,
    optimizer_step,
    report_metrics,
    runtime_options,
)
from .data import IGNORE_INDEX, SegmentationFolder, eval_transforms, train_transforms
from .inference import MULTI_SCALES, predict_probabilities
from .metrics import ConfusionMatrix
from .model import build_upernet

__all__ = ["main"]


def _endless(loader: DataLoader) -> Iterator:
    epoch = 0
    while True:
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def _build_from_config(config: dict, **overrides) -> torch.nn.Module:
    return build_upernet(
        config["backbone"], config["num_classes"], decoder_channels=config["decoder_channels"], **overrides
    )


def _evaluate(model, dataset, runtime: Runtime, config: dict, *, multi_scale: bool, amp: bool) -> dict:
    model.eval()
    indices = range(runtime.rank, len(dataset), runtime.world_size)
    matrix = ConfusionMatrix(config["num_classes"], runtime.device)
    for index in tqdm(indices, desc="eval", disable=not runtime.is_main):
        image, target = dataset[index]
        with torch.autocast(runtime.device.type, enabled=amp):
            probs = predict_probabilities(
                model,
                image[None].to(runtime.device),
                short_side=config["crop_size"],
                scales=MULTI_SCALES if multi_scale else (1.0,),
                flip=multi_scale,
            )
        matrix.update(probs.argmax(1)[0], target.to(runtime.device))
    matrix.all_reduce()
    return matrix.compute()


def train(args: argparse.Namespace) -> dict:
    """Train for ``--iters`` iterations; returns the last validation scores (empty without validation)."""
    runtime = init_runtime(args.device)
    torch.manual_seed(args.seed + runtime.rank)
    config = {
        "backbone": args.backbone,
        "num_classes": args.num_classes,
        "ignore_label": args.ignore_label,
        "crop_size": args.crop_size,
        "decoder_channels": args.decoder_channels,
    }
    dataset = SegmentationFolder(
        args.data,
        args.train_split,
        num_classes=args.num_classes,
        ignore_label=args.ignore_label,
        transforms=train_transforms(args.crop_size),
    )
    val_set = (
        SegmentationFolder(
            args.data, args.val_split, num_classes=args.num_classes, ignore_label=args.ignore_label
        )
        if args.val_every
        else None
    )
    model = _build_from_config(config, drop_path_rate=args.drop_path_rate)
    load_backbone_checkpoint(model, args.backbone_weights, runtime)
    model = runtime.data_parallel(model.to(runtime.device), sync_batchnorm=True)
    raw_model = model.module if runtime.distributed else model
    per_process = max(args.batch_size // runtime.world_size, 1)
    sampler = DistributedSampler(dataset) if runtime.distributed else None
    loader = DataLoader(
        dataset,
        batch_size=per_process,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=args.workers,
        drop_last=len(dataset) >= per_process,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_poly(args.iters, args.warmup_iters))
    amp = args.amp and runtime.device.type == "cuda"
    scaler = torch.amp.GradScaler(enabled=amp)
    criterion = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
    step = 0
    if args.resume:
        step = load_train_state(args.resume, model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)[
            "step"
        ]
    output = Path(args.output)
    log = TrainLog(output, runtime)
    metrics: dict = {}
    batches = _endless(loader)
    bar = tqdm(total=args.iters, initial=step, desc="train", disable=not runtime.is_main)
    while step < args.iters:
        model.train()
        images, targets = next(batches)
        images, targets = images.to(runtime.device), targets.to(runtime.device).long()
        with torch.autocast(runtime.device.type, enabled=amp):
            logits = model(images)
        loss = criterion(logits.float(), targets)
        optimizer_step(loss, optimizer, scaler, scheduler)
        step += 1
        bar.update()
        entry: dict = {"step": step, "lr": scheduler.get_last_lr()[0], "loss": loss.item()}
        if args.log_train_miou:
            matrix = ConfusionMatrix(args.num_classes, runtime.device)
            matrix.update(logits.argmax(1), targets)
            entry["train_mIoU"] = matrix.compute()["mIoU"]
        if step % args.save_every == 0 or step == args.iters:
            if runtime.is_main:
                save_train_state(
                    output / "last.pth",
                    model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    scaler=scaler,
                    step=step,
                    config=config,
                )
            runtime.barrier()
        if val_set is not None and (step % args.val_every == 0 or step == args.iters):
            metrics = _evaluate(raw_model, val_set, runtime, config, multi_scale=False, amp=amp)
            entry |= {f"val_{k}": v for k, v in metrics.items()}
        log.write(entry)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    log.close()
    runtime.close()
    return metrics


def evaluate(args: argparse.Namespace) -> dict:
    """mIoU / pixel accuracy of a checkpoint, single-scale or multi-scale + flip; printed as JSON."""
    runtime = init_runtime(args.device)
    model, config = load_trained_model(args.checkpoint, _build_from_config, runtime.device)
    dataset = SegmentationFolder(
        args.data, args.split, num_classes=config["num_classes"], ignore_label=config["ignore_label"]
    )
    metrics = _evaluate(
        model,
        dataset,
        runtime,
        config,
        multi_scale=args.multi_scale,
        amp=args.amp and runtime.device.type == "cuda",
    )
    report_metrics(metrics, runtime, args.output)
    runtime.close()
    return metrics


def colour_palette(num_classes: int) -> np.ndarray:
    """A fixed, distinct-ish RGB colour per class ``(num_classes, 3)`` uint8."""
    return np.random.default_rng(0).integers(0, 256, size=(num_classes, 3), dtype=np.uint8)


@torch.no_grad()
def predict(args: argparse.Namespace) -> np.ndarray:
    """Segment one image and save the colour-coded class map; returns the class map ``(H, W)``."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, config = load_trained_model(args.checkpoint, _build_from_config, device)
    pixels = torch.from_numpy(np.array(Image.open(args.image).convert("RGB"))).permute(2, 0, 1)
    image = eval_transforms()(tv_tensors.Image(pixels))
    probs = predict_probabilities(
        model,
        image[None].to(device),
        short_side=config["crop_size"],
        scales=MULTI_SCALES if args.multi_scale else (1.0,),
        flip=args.multi_scale,
    )
    classes = probs.argmax(1)[0].cpu().numpy()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colour_palette(config["num_classes"])[classes]).save(args.output)
    print(f"class map {classes.shape[1]}x{classes.shape[0]} -> {args.output}")
    return classes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m groot_vision.segmentation", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = runtime_options()

    t = commands.add_parser("train", parents=[common], help="train on an ADE20K-layout folder")
    t.add_argument("--data", required=True, help="root with images/<split> and annotations/<split>")
    t.add_argument("--train-split", default="training")
    t.add_argument("--val-split", default="validation")
    t.add_argument("--val-every", type=int, default=16000, help="0 disables validation")
    t.add_argument("--num-classes", type=int, default=150)
    t.add_argument(
        "--ignore-label", type=int, default=0, help="label value to ignore (0: others shift down by 1)"
    )
    t.add_argument("--backbone", default="grootv_tiny")
    t.add_argument("--backbone-weights", help="GrootV classification checkpoint (head is skipped)")
    t.add_argument("--drop-path-rate", type=float, default=None)
    t.add_argument("--decoder-channels", type=int, default=512)
    t.add_argument("--crop-size", type=int, default=512)
    t.add_argument("--iters", type=int, default=160_000)
    t.add_argument("--warmup-iters", type=int, default=1500)
    t.add_argument("--batch-size", type=int, default=16, help="total over all processes")
    t.add_argument("--lr", type=float, default=6e-5)
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--workers", type=int, default=4)
    t.add_argument("--save-every", type=int, default=16000)
    t.add_argument("--log-train-miou", action="store_true", help="log each batch's mIoU")
    t.add_argument("--output", default="runs/segmentation")
    t.add_argument("--resume", help="a last.pth to continue from")
    t.add_argument("--seed", type=int, default=0)

    e = commands.add_parser("eval", parents=[common], help="mIoU / pixel accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--split", default="validation")
    e.add_argument("--multi-scale", action="store_true", help="scales 0.5-1.75 + horizontal flip")
    e.add_argument("--output", help="also write the metrics JSON here")

    p = commands.add_parser("predict", parents=[common], help="write a colour-coded class map of one image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--multi-scale", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None):
    """Entry point; returns the command's result (metrics dict or class map)."""
    args = _parser().parse_args(argv)
    return {"train": train, "eval": evaluate, "predict": predict}[args.command](args)
