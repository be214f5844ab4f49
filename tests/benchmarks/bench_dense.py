"""Dense-prediction benchmark: Mask R-CNN (1333x800) and UperNet (512x512) on GrootV-T, Swin-T, ConvNeXt-T.

Same heads for every backbone (torchvision Mask R-CNN + FPN 256; smp UperNet, decoder 512). For each
row: frames per second and peak memory of batch-1 inference and of AMP training (Mask R-CNN batch 2,
UperNet batch 16), each one's time against Swin-T's, and for GrootV the share of CUDA time spent in
groot_core's tree operators (edge weights, MST, BFS, scan: every ``groot::`` op). Random weights; the
numbers are speed only. Peak memory is measured with each model alone on the GPU; speed with all of
them resident, in ``--rounds`` rounds that each time every backbone in turn (the median is shown),
and GrootV-T's ratios to Swin-T are also given round by round. Last, the GPU time of each step, from
the profiler, and its ratio: a batch-1 frame's wall time is often bound by the host. It is given as
the sum of the kernels' times and as the time the GPU is busy, in which kernels that run at once
count once (GrootV builds its trees on a side stream in captured inference).

    python tests/benchmarks/bench_dense.py --device cuda [--iters 10] [--infer-iters 50] [--rounds 10]
        [--only maskrcnn|upernet] [--compile] [--cuda-graphs] [--graph-training]
        [--backbones Swin-T GrootV-T]

With ``--compile`` every backbone (not the heads) goes through ``torch.compile``; with
``--cuda-graphs`` every backbone's inference is replayed from a CUDA graph
(:class:`groot_vision.cuda_graphs.GraphedInference`); with ``--graph-training`` every backbone's
training forward and backward are (``torch.cuda.make_graphed_callables``), the heads staying eager;
training memory and the tree share are still measured eagerly.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable

import groot_vision  # noqa: F401  (registers the GrootV models with timm)
import segmentation_models_pytorch as smp
import timm
import torch
from groot_vision import fusion
from groot_vision.cuda_graphs import GraphedInference
from groot_vision.detection import build_detector
from groot_vision.segmentation import build_upernet
from torch import nn
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

# Swin-T first: the GrootV-T row is compared with it.
BACKBONES = {
    "Swin-T": "swin_tiny_patch4_window7_224",
    "ConvNeXt-T": "convnext_tiny",
    "GrootV-T": "grootv_tiny",
}

# The paper's UperNet head (mmseg's, for GrootV and Swin alike) is 512 channels wide; smp's default
# is 256, so it is passed to every backbone's model.
UPERNET_CHANNELS = 512


class TimmFPN(nn.Module):
    """Any timm ``features_only`` backbone (NCHW or NHWC) + torchvision FPN, for the comparison rows."""

    def __init__(self, name: str, image_size: tuple[int, int], out_channels: int = 256) -> None:
        super().__init__()
        kwargs = {"img_size": image_size, "strict_img_size": False} if "swin" in name else {}
        self.body = timm.create_model(name, features_only=True, out_indices=(0, 1, 2, 3), **kwargs)
        self.channels_last = getattr(self.body, "output_fmt", "NCHW") == "NHWC"
        self.fpn = FeaturePyramidNetwork(self.body.feature_info.channels(), out_channels, LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = [m.permute(0, 3, 1, 2) if self.channels_last else m for m in self.body(x)]
        return self.fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))


def mask_rcnn(label: str) -> nn.Module:
    model = build_detector("mask_rcnn", "grootv_tiny", 91)
    if label != "GrootV-T":
        model.backbone = TimmFPN(BACKBONES[label], (800, 1344))
    return model


def upernet(label: str) -> nn.Module:
    if label == "GrootV-T":
        return build_upernet("grootv_tiny", 150, decoder_channels=UPERNET_CHANNELS)
    kwargs = {"img_size": 512} if "swin" in BACKBONES[label] else {}
    return smp.UPerNet(
        encoder_name=f"tu-{BACKBONES[label]}",
        encoder_weights=None,
        classes=150,
        decoder_channels=UPERNET_CHANNELS,
        **kwargs,
    )


def _backbone_owner(model: nn.Module) -> tuple[nn.Module, str]:
    """The module holding a detector's (``backbone.body``) or segmenter's (``encoder.model``)
    backbone, and the attribute it holds it in."""
    if hasattr(model, "backbone"):
        return model.backbone, "body"
    return getattr(model, "model", model).encoder, "model"  # GrootV's UperNet sits in a padding wrapper


def compile_backbone(model: nn.Module) -> None:
    """``torch.compile`` the backbone."""
    owner, name = _backbone_owner(model)
    setattr(owner, name, torch.compile(getattr(owner, name)))


def graph_backbone(model: nn.Module) -> None:
    """Replays the backbone's inference from CUDA graphs."""
    owner, name = _backbone_owner(model)
    setattr(owner, name, GraphedInference(getattr(owner, name)))


def graph_training(model: nn.Module, train: Callable[[], None]) -> None:
    """Replays the backbone's AMP training forward and backward from CUDA graphs, captured for the
    batch that ``train()`` hands it (one eager step finds its shape); in eval mode it runs as
    before. Call before :func:`graph_backbone`."""
    owner, name = _backbone_owner(model)
    backbone = getattr(owner, name)
    examples = []
    hook = backbone.register_forward_pre_hook(lambda module, args: examples.append(torch.rand_like(args[0])))
    try:
        train()
    finally:
        hook.remove()  # a module to be graphed must have no hooks
    backbone.train()
    # Autocast's weight cache must stay out of a capture. Inside capturing_graph GrootV compiles
    # its small layer norms too, as their host time is paid once (a no-op for the other backbones).
    with torch.autocast("cuda", cache_enabled=False), fusion.capturing_graph():
        torch.cuda.make_graphed_callables(backbone, (examples[0],))


def release_dropped_models() -> None:
    """Returns the memory of models no longer referenced to the allocator. A model, its steps'
    closures and its graphs form reference cycles, which only the cycle collector frees: without
    it, the models of one task stayed allocated through the next task's memory pass."""
    gc.collect()
    torch.cuda.empty_cache()


def timed(step, iters: int, device: torch.device) -> float:
    """Seconds per call of ``step()``."""
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / iters


def peak_gib(step, device: torch.device) -> float:
    """Peak GiB allocated on ``device`` during one ``step()``, everything resident included."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**30


def profiled(step, iters: int, device: torch.device, *, ops: bool = False):
    """The profiler's events of ``iters`` calls of ``step()``: CUDA kernels, and with ``ops`` the
    operators that launched them (host activity, which costs host time)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA] if ops else [ProfilerActivity.CUDA]
    with profile(activities=activities) as prof:
        for _ in range(iters):
            step()
        torch.cuda.synchronize(device)
    return prof.events()


def gpu_ms(step, iters: int, device: torch.device) -> tuple[float, float]:
    """Milliseconds of GPU time per call of ``step()``, from the profiler: the sum of its kernels'
    times, and the time the GPU is busy with them, in which kernels that run at once (on two
    streams) count once. The busy time is the part of a step's time that no host, however fast,
    can shorten; on one stream the two are equal."""
    spans = [
        (e.time_range.start, e.time_range.end)
        for e in profiled(step, iters, device)
        if e.device_type == torch.autograd.DeviceType.CUDA
    ]
    return sum(end - start for start, end in spans) / iters / 1e3, covered(spans) / iters / 1e3


def covered(spans: list[tuple[float, float]]) -> float:
    """The length of the union of the intervals ``spans``."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        total += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return total


def tree_share(step, device: torch.device) -> float:
    """Fraction of CUDA kernel time inside ``groot::`` operators during one ``step()``."""
    events = profiled(step, 1, device, ops=True).key_averages()
    total = sum(e.self_device_time_total for e in events)
    groot = sum(e.device_time_total for e in events if e.key.startswith("groot::"))
    return groot / total if total else float("nan")


def detection_steps(model: nn.Module, device: torch.device):
    images = [torch.rand(3, 800, 1333, device=device) for _ in range(2)]
    masks = torch.zeros(3, 800, 1333, dtype=torch.uint8, device=device)
    masks[0, 100:300, 100:400] = masks[1, 400:700, 600:900] = masks[2, 50:500, 900:1300] = 1
    target = {
        "boxes": torch.tensor(
            [[100.0, 100, 400, 300], [600, 400, 900, 700], [900, 50, 1300, 500]], device=device
        ),
        "labels": torch.tensor([1, 2, 3], device=device),
        "masks": masks,
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler()

    @torch.no_grad()
    def infer() -> None:
        model.eval()
        with torch.autocast("cuda"):
            model(images[:1])

    def train() -> None:
        model.train()
        with torch.autocast("cuda"):
            loss = sum(model(images, [target, target]).values())
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return infer, train, 1, 2


def segmentation_steps(model: nn.Module, device: torch.device):
    batch = torch.randn(16, 3, 512, 512, device=device)
    labels = torch.randint(0, 150, (16, 512, 512), device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-5)
    scaler = torch.amp.GradScaler()

    @torch.no_grad()
    def infer() -> None:
        model.eval()
        with torch.autocast("cuda"):
            model(batch[:1])

    def train() -> None:
        model.train()
        with torch.autocast("cuda"):
            loss = nn.functional.cross_entropy(model(batch).float(), labels)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return infer, train, 1, 16


def prepared(build, steps, label: str, device: torch.device, args: argparse.Namespace):
    """``label``'s model, its inference and training steps (warmed up) and their batch sizes."""
    model = build(label).to(device)
    if args.compile:
        compile_backbone(model)
    infer, train, infer_batch, train_batch = steps(model, device)
    if args.graph_training:
        graph_training(model, train)
    if args.cuda_graphs:
        graph_backbone(model)
    for _ in range(2):
        infer()
        train()
    return model, infer, train, infer_batch, train_batch


def restorer(model: nn.Module) -> Callable[[], None]:
    """A function that puts ``model`` back to its present weights. A detector's inference does more
    work the more detections it keeps, and training makes it keep more: every timing starts from
    the same weights."""
    start = {name: value.detach().clone() for name, value in model.state_dict().items()}
    return functools.partial(model.load_state_dict, start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iters", type=int, default=10, help="training steps per timing")
    # A batch-1 frame lasts 5-30 ms: ten of them were too short a timing to rank backbones whose
    # ratio moved by 0.3 from round to round.
    parser.add_argument("--infer-iters", type=int, default=50, help="inference steps per timing")
    parser.add_argument("--rounds", type=int, default=10, help="timings per backbone (the median is shown)")
    parser.add_argument("--only", choices=("maskrcnn", "upernet"))
    parser.add_argument("--compile", action="store_true", help="torch.compile every backbone")
    parser.add_argument(
        "--cuda-graphs", action="store_true", help="replay every backbone's inference from CUDA graphs"
    )
    parser.add_argument(
        "--graph-training",
        action="store_true",
        help="replay every backbone's training forward and backward from CUDA graphs",
    )
    parser.add_argument("--backbones", nargs="+", choices=list(BACKBONES), default=list(BACKBONES))
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type != "cuda":
        raise SystemExit("this benchmark times CUDA kernels: run it with --device cuda on a GPU machine")
    tasks = {"maskrcnn": (mask_rcnn, detection_steps), "upernet": (upernet, segmentation_steps)}
    columns = ["infer fps", "infer GiB", "train img/s", "train GiB", "tree share"]
    columns += ["infer ×Swin", "train ×Swin"]  # time against Swin-T's
    header = f"{'task':<9} {'backbone':<11} " + " ".join(f"{c:>11}" for c in columns)
    print(header)
    print("-" * len(header))
    for task, (build, steps) in tasks.items():
        if args.only and task != args.only:
            continue

        # Memory first, each backbone alone, so that its peak is its own. Training runs eagerly
        # here: a training graph's activations sit in its private pool, which a peak of allocated
        # memory does not see, and its replays hide the tree operators from the profiler.
        memory, shares, batches, labels = {}, {}, {}, []
        eager_training = argparse.Namespace(**{**vars(args), "graph_training": False})
        for label in (b for b in BACKBONES if b in args.backbones):
            try:
                model, infer, train, *batches[label] = prepared(build, steps, label, device, eager_training)
                memory[label] = (peak_gib(infer, device), peak_gib(train, device))
                if label == "GrootV-T":
                    shares[label] = tree_share(train, device)
                labels.append(label)
            # A comparison backbone that cannot run at this size must not hide the other rows.
            except Exception as err:
                print(f"{task:<9} {label:<11} failed: {type(err).__name__}: {str(err)[:80]}")
            finally:
                model = infer = train = None
                release_dropped_models()
        # Then speed, every backbone resident, timed in turns: batch-1 frames are bound by the
        # host, whose speed drifts over seconds, so each round times every backbone's inference
        # back to back (then their training), and ratios are taken within a round.
        contenders = {}  # label -> ((inference step, training step), weights restorer)
        for label in labels:
            model, infer, train, *_ = prepared(build, steps, label, device, args)
            contenders[label] = ((infer, train), restorer(model))
        samples = {label: [] for label in labels}  # [inference, training] seconds per call, a round each
        for _ in range(args.rounds):
            for label in labels:
                samples[label].append([])
            for which, iters in enumerate((args.infer_iters, args.iters)):
                for label, (pair, reset) in contenders.items():
                    reset()
                    samples[label][-1].append(timed(pair[which], iters, device))
        # GPU time, which the host does not move: a step's wall time is bound by the host when it
        # issues kernels more slowly than the GPU runs them (batch-1 frames often are).
        gpu_time = {}  # label -> ((sum, busy) inference, (sum, busy) training) ms per call
        for label, (pair, reset) in contenders.items():
            gpu_time[label] = []
            for step in pair:
                reset()
                gpu_time[label].append(gpu_ms(step, 3, device))
        # The loops' names hold steps, and through them models, too.
        contenders = model = infer = train = pair = reset = step = None
        release_dropped_models()
        times = {}  # label -> (inference, training) seconds per call
        for label, runs in samples.items():
            infer_s, train_s = (statistics.median(run[i] for run in runs) for i in (0, 1))
            (infer_gib, train_gib), (infer_batch, train_batch) = memory[label], batches[label]
            share = shares.get(label, float("nan"))
            times[label] = (infer_s, train_s)
            swin = times.get("Swin-T", (float("nan"), float("nan")))
            values = [infer_batch / infer_s, infer_gib, train_batch / train_s, train_gib]
            ratios = " ".join(f"{r:11.2f}" for r in (infer_s / swin[0], train_s / swin[1]))
            row = " ".join(f"{v:11.2f}" for v in values) + f" {share:11.1%} {ratios}"
            print(f"{task:<9} {label:<11} {row}")
        if "GrootV-T" in times and "Swin-T" in times:
            # Each round times both backbones back to back, so the ratios of a round share the
            # host's state; their spread shows how far the medians can be trusted.
            pairs = list(zip(samples["GrootV-T"], samples["Swin-T"], strict=True))
            spread = {
                name: sorted(groot[i] / swin[i] for groot, swin in pairs)
                for name, i in (("inference", 0), ("training", 1))
            }
            print(
                f"{task}: GrootV-T / Swin-T time round by round (target <= 1.3), "
                + ", ".join(
                    f"{name} median {statistics.median(r):.2f} ({r[0]:.2f}-{r[-1]:.2f})"
                    for name, r in spread.items()
                )
            )
        for name, i in (("CUDA kernel time", 0), ("GPU busy time", 1)):
            print(
                f"{task}: {name} a call, inference / training (ms): "
                + ", ".join(f"{label} {t[0][i]:.2f} / {t[1][i]:.2f}" for label, t in gpu_time.items())
            )
            if "GrootV-T" in gpu_time and "Swin-T" in gpu_time:
                groot, swin = gpu_time["GrootV-T"], gpu_time["Swin-T"]
                ratios = f"{groot[0][i] / swin[0][i]:.2f} / {groot[1][i] / swin[1][i]:.2f}"
                print(f"{task}: GrootV-T / Swin-T {name}, inference / training {ratios}")


if __name__ == "__main__":
    main()
