"""Train GrootV (or any timm model) on an ImageFolder dataset; the defaults are the paper's ImageNet recipe.

    python -m groot_vision.train --data-dir /data/imagenet --model grootv_tiny --output runs/grootv_t
    torchrun --nproc_per_node 8 -m groot_vision.train --data-dir /data/imagenet --model grootv_tiny
    python -m groot_vision.train ... --resume runs/grootv_t/last.pth

Recipe (GrootVL, after Swin/InternImage): AdamW, lr 5e-4 per 512 images of global batch (warm-up and final
lr scaled alike), weight decay 0.05, 300 epochs with 20 of linear warm-up from 5e-7 then cosine to 5e-6,
label smoothing 0.1, RandAugment rand-m9-mstd0.5-inc1, colour jitter 0.4, mixup 0.8 / cutmix 1.0,
random erasing 0.25, EMA 0.9999, gradient clipping at 5, stochastic depth per model size, bf16 autocast.
Data loading, augmentation, optimiser, schedule, EMA and distributed set-up are timm's.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import timm
import torch
from timm.data import Mixup, create_dataset, create_loader, resolve_data_config
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3, init_distributed_device, random_seed
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from . import grootv  # noqa: F401  (registers the GrootV models with timm)
from .checkpoint import load_checkpoint_file
from .evaluate import AMP_DTYPES, validate
from .report import model_report

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the training CLI, defaulting to the paper's recipe."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = p.add_argument_group("data")
    data.add_argument("--data-dir", required=True, help="ImageFolder root with train/ and val/ splits")
    data.add_argument("--train-split", default="train")
    data.add_argument("--val-split", default="val")
    data.add_argument("--img-size", type=int, default=None, help="default: the model's pretrained cfg")
    data.add_argument("--workers", type=int, default=8, help="data-loading processes per training process")
    model = p.add_argument_group("model")
    model.add_argument("--model", default="grootv_tiny")
    model.add_argument(
        "--pretrained-file", default="", help="initial weights (classifier dropped if sizes differ)"
    )
    model.add_argument(
        "--drop-path", type=float, default=None, help="default: the model's (T 0.1, S 0.3, B 0.5)"
    )
    model.add_argument("--scan", choices=("tree", "raster", "cross"), default="tree")
    model.add_argument("--metric", choices=("cosine", "l1", "l2"), default="cosine")
    model.add_argument("--tree-scope", choices=("block", "stage"), default="block")
    model.add_argument("--grad-checkpointing", action="store_true")
    model.add_argument("--compile", action="store_true", help="torch.compile the model")
    recipe = p.add_argument_group("recipe")
    recipe.add_argument("--epochs", type=int, default=300)
    recipe.add_argument("--warmup-epochs", type=int, default=20)
    recipe.add_argument("--batch-size", type=int, default=128, help="per process")
    recipe.add_argument("--base-lr", type=float, default=5e-4, help="lr per 512 images of global batch")
    recipe.add_argument("--warmup-lr", type=float, default=5e-7, help="per 512 images of global batch")
    recipe.add_argument("--min-lr", type=float, default=5e-6, help="per 512 images of global batch")
    recipe.add_argument("--weight-decay", type=float, default=0.05)
    recipe.add_argument("--clip-grad", type=float, default=5.0, help="max gradient norm (0: off)")
    recipe.add_argument("--smoothing", type=float, default=0.1)
    recipe.add_argument("--aa", default="rand-m9-mstd0.5-inc1", help="timm auto-augment policy ('none': off)")
    recipe.add_argument("--color-jitter", type=float, default=0.4)
    recipe.add_argument("--hflip", type=float, default=0.5)
    recipe.add_argument(
        "--scale", type=float, nargs=2, default=(0.08, 1.0), help="random-resized-crop area range"
    )
    recipe.add_argument("--mixup", type=float, default=0.8)
    recipe.add_argument("--cutmix", type=float, default=1.0)
    recipe.add_argument("--reprob", type=float, default=0.25, help="random-erasing probability")
    recipe.add_argument("--model-ema-decay", type=float, default=0.9999, help="0: no EMA")
    recipe.add_argument("--amp-dtype", choices=sorted(AMP_DTYPES), default="bfloat16")
    run = p.add_argument_group("run")
    run.add_argument("--output", default="runs/grootv")
    run.add_argument("--resume", default="", help="checkpoint written by this script to continue from")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    run.add_argument("--max-steps", type=int, default=0, help="stop after this many optimiser steps (0: off)")
    run.add_argument("--log-interval", type=int, default=20)
    return p


def _create_model(args: argparse.Namespace, num_classes: int) -> nn.Module:
    kwargs: dict[str, Any] = dict(num_classes=num_classes)
    if args.drop_path is not None:
        kwargs["drop_path_rate"] = args.drop_path
    if args.model.startswith("grootv"):
        kwargs.update(scan=args.scan, metric=args.metric, tree_scope=args.tree_scope)
    if args.pretrained_file:
        kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=args.pretrained_file))
    model = timm.create_model(args.model, **kwargs)
    if args.grad_checkpointing:
        model.set_grad_checkpointing(True)
    return model


def _train_one_epoch(
    epoch: int,
    step: int,
    model: nn.Module,
    train_model: nn.Module,
    loader: torch.utils.data.DataLoader,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    args: argparse.Namespace,
    device: torch.device,
    mixup: Mixup | None,
    ema: ModelEmaV3 | None,
) -> int:
    """One pass over ``loader`` through ``train_model`` (``model`` wrapped by compile/DDP, or itself).

    Returns the global optimiser-step count.
    """
    train_model.train()
    amp_dtype = AMP_DTYPES[args.amp_dtype]
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=args.rank != 0)
    for images, targets in bar:
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        if mixup is not None:
            images, targets = mixup(images, targets)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = loss_fn(train_model(images), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if args.clip_grad > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        step += 1
        scheduler.step_update(num_updates=step)
        if ema is not None:
            ema.update(model, step=step)
        if step % args.log_interval == 0 or step == 1:
            bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
        if args.max_steps and step >= args.max_steps:
            break
    return step


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the training CLI; returns the final metrics (also written to ``OUTPUT/summary.json``)."""
    args = build_parser().parse_args(argv)
    device = init_distributed_device(args)
    is_main = args.rank == 0
    random_seed(args.seed, args.rank)
    output = Path(args.output)
    if is_main:
        output.mkdir(parents=True, exist_ok=True)

    train_set = create_dataset("", root=args.data_dir, split=args.train_split, is_training=True)
    val_set = create_dataset("", root=args.data_dir, split=args.val_split, is_training=False)
    num_classes = len(train_set.reader.class_to_idx)
    model = _create_model(args, num_classes).to(device)
    data_config = resolve_data_config(dict(img_size=args.img_size), model=model)
    if is_main:
        print(f"{args.model}: {model_report(model, data_config['input_size'], device=device)}")

    mixup = None
    if args.mixup > 0 or args.cutmix > 0:
        mixup = Mixup(
            mixup_alpha=args.mixup,
            cutmix_alpha=args.cutmix,
            label_smoothing=args.smoothing,
            num_classes=num_classes,
        )
        loss_fn: nn.Module = SoftTargetCrossEntropy()
    elif args.smoothing > 0:
        loss_fn = LabelSmoothingCrossEntropy(args.smoothing)
    else:
        loss_fn = nn.CrossEntropyLoss()
    common = dict(
        input_size=data_config["input_size"],
        batch_size=args.batch_size,
        mean=data_config["mean"],
        std=data_config["std"],
        num_workers=args.workers,
        distributed=args.distributed,
        pin_memory=device.type == "cuda",
        use_prefetcher=False,
        device=device,
    )
    train_loader = create_loader(
        train_set,
        is_training=True,
        re_prob=args.reprob,
        re_mode="pixel",
        hflip=args.hflip,
        scale=tuple(args.scale),
        color_jitter=args.color_jitter,
        auto_augment=None if args.aa == "none" else args.aa,
        interpolation="bicubic",
        **common,
    )
    val_loader = create_loader(
        val_set, interpolation=data_config["interpolation"], crop_pct=data_config["crop_pct"], **common
    )

    lr_scale = args.batch_size * args.world_size / 512
    optimizer = create_optimizer_v2(
        model, opt="adamw", lr=args.base_lr * lr_scale, weight_decay=args.weight_decay
    )
    scheduler, num_epochs = create_scheduler_v2(
        optimizer,
        sched="cosine",
        num_epochs=args.epochs,
        warmup_epochs=args.warmup_epochs,
        warmup_lr=args.warmup_lr * lr_scale,
        min_lr=args.min_lr * lr_scale,
        step_on_epochs=False,
        updates_per_epoch=len(train_loader),
    )
    scaler = torch.amp.GradScaler(device.type, enabled=AMP_DTYPES[args.amp_dtype] is torch.float16)
    ema = ModelEmaV3(model, decay=args.model_ema_decay) if args.model_ema_decay > 0 else None

    start_epoch, step, best_top1 = 0, 0, 0.0
    if args.resume:
        state = load_checkpoint_file(args.resume, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if ema is not None and "model_ema" in state:
            ema.module.load_state_dict(state["model_ema"])
        start_epoch, step, best_top1 = state["epoch"] + 1, state["step"], state["best_top1"]
        scheduler.step_update(num_updates=step)

    train_model = torch.compile(model) if args.compile else model
    if args.distributed:
        train_model = DistributedDataParallel(
            train_model, device_ids=[device.index] if device.type == "cuda" else None
        )

    amp_dtype = AMP_DTYPES[args.amp_dtype]
    metrics: dict[str, float] = {}
    for epoch in range(start_epoch, num_epochs):
        if args.distributed:
            train_loader.sampler.set_epoch(epoch)
        step = _train_one_epoch(
            epoch,
            step,
            model,
            train_model,
            train_loader,
            loss_fn,
            optimizer,
            scheduler,
            scaler,
            args,
            device,
            mixup,
            ema,
        )
        metrics = validate(
            model, val_loader, device, amp_dtype=amp_dtype, world_size=args.world_size, progress=is_main
        )
        if ema is not None:
            ema_metrics = validate(
                ema.module,
                val_loader,
                device,
                amp_dtype=amp_dtype,
                world_size=args.world_size,
                progress=is_main,
            )
            metrics.update({f"ema_{k}": v for k, v in ema_metrics.items()})
        best_top1 = max(best_top1, metrics["top1"], metrics.get("ema_top1", 0.0))
        metrics.update(epoch=epoch, step=step, best_top1=best_top1)
        if is_main:
            print(json.dumps(metrics))
            state = dict(
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scaler=scaler.state_dict(),
                epoch=epoch,
                step=step,
                best_top1=best_top1,
                args=vars(args),
            )
            if ema is not None:
                state["model_ema"] = ema.module.state_dict()
            torch.save(state, output / "last.pth")
        if args.max_steps and step >= args.max_steps:
            break
    if is_main:
        (output / "summary.json").write_text(json.dumps(metrics, indent=2))
    return metrics


if __name__ == "__main__":
    main()
