"""GPU benchmark of groot_core's tree path at the four GrootV-T stage shapes (B = 128).

For each stage and dtype: edge weights, MST, BFS, scan forward and scan backward, each timed in GPU
time with CUDA events (median of repeated runs, inputs rotated so that L2 does not serve them,
the host's launch overhead overlapped: median_ms) next to its
bandwidth floor — the fewest bytes the kernel must move over the device-to-device copy
bandwidth measured in the same run — and against the paper's own extension
(official_baseline_h100.json, same H100 model).

A second table times the tree build and the token-major scan on the shapes of dense prediction:
one to sixteen images of large grids, where the scan's blocks are too few to fill the GPU and
it runs in depth bands (cpp/cuda/band_scan.cuh).

    python tests/benchmarks/bench_core_cuda.py [--official path/to/official_baseline_h100.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import groot_core as gc
import torch

STAGES = [(160, 56), (320, 28), (640, 14), (1280, 7)]  # (D, H = W) of GrootV-T, stage 1..4
# (B, D, H, W): Mask R-CNN 1333×800 stage 1 (one and two images), UperNet 512² stage 1 (batch
# 16), and a small batch of classification stage 1.
DENSE_SHAPES = [(1, 192, 200, 336), (2, 192, 200, 336), (16, 192, 128, 128), (8, 160, 56, 56)]
GUIDE_CHANNELS = {160: 160, 320: 320, 640: 640, 1280: 1280}


def median_ms(fn, inputs: list, repeats: int = 20) -> float:
    """Median GPU time of fn(*inputs[i % len(inputs)]) in milliseconds, after a warm-up.

    The timed calls queue behind a sleeping kernel, so each call's host work (~30-40 µs through
    the Python API and the dispatcher) overlaps the calls before it instead of counting as GPU time:
    the small stages' kernels last about as long.
    """
    for args in inputs:
        fn(*args)
    torch.cuda.synchronize()
    events = [[torch.cuda.Event(enable_timing=True) for _ in range(2)] for _ in range(repeats)]
    torch.cuda._sleep(100_000_000)  # ~50 ms: longer than the host takes to queue every call
    for i, (start, end) in enumerate(events):
        start.record()
        fn(*inputs[i % len(inputs)])
        end.record()
    torch.cuda.synchronize()
    return statistics.median(start.elapsed_time(end) for start, end in events)


def copy_bandwidth() -> float:
    """Device-to-device copy bandwidth in bytes/ms (bytes read + bytes written)."""
    src = torch.empty(1 << 28, device="cuda")
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), [()], repeats=30)
    return 2 * src.numel() * src.element_size() / ms


def bench_stage(batch: int, channels: int, side: int, dtype: torch.dtype, bandwidth: float) -> dict:
    L = side * side
    size = torch.tensor([], dtype=dtype).element_size()
    sets = 3
    guides = [torch.randn(batch, channels, L, device="cuda", dtype=dtype) for _ in range(sets)]
    edges = gc.grid_edges(side, side, device="cuda")
    E = edges.shape[0]
    weights = [gc.edge_weights(g, edges) for g in guides]
    trees = [gc.minimum_spanning_tree(edges, w, L) for w in weights]
    schedules = [gc.bfs(t, L) for t in trees]
    xs = [torch.randn(batch, channels, L, device="cuda", dtype=dtype) for _ in range(sets)]
    decays = [torch.rand(batch, channels, L, device="cuda", dtype=dtype) for _ in range(sets)]
    grads = [torch.randn(batch, channels, L, device="cuda", dtype=dtype) for _ in range(sets)]
    scan_sets = list(zip(xs, decays, schedules, strict=False))

    rows = {}

    def record(name: str, ms: float, floor_bytes: float) -> None:
        floor = floor_bytes / bandwidth
        rows[name] = {"ms": ms, "floor_ms": floor, "x_floor": ms / floor}

    record(
        "edge weights",
        median_ms(lambda g: gc.edge_weights(g, edges), [(g,) for g in guides]),
        batch * channels * L * size + batch * E * 4,
    )
    record(
        "MST",
        median_ms(lambda w: gc.minimum_spanning_tree(edges, w, L), [(w,) for w in weights]),
        batch * E * 4 + E * 16 + batch * (L - 1) * 16,
    )
    record(
        "BFS",
        median_ms(lambda t: gc.bfs(t, L), [(t,) for t in trees]),
        batch * (L - 1) * 16 + 2 * batch * L * 8,
    )
    # Scans over (B, D, L) memory and over token-major (B, L, D) memory (x.transpose(1, 2) of what
    # a model holds), each with the floor of the bytes it must move.
    for layout, arrange in (
        ("", lambda t: t),
        (" (B,L,D)", lambda t: t.transpose(1, 2).contiguous().transpose(1, 2)),
    ):
        sets = [(arrange(x), arrange(d), s) for x, d, s in scan_sets]
        grads_laid = [arrange(g) for g in grads]
        record(
            "scan forward" + layout,
            median_ms(lambda x, d, s: gc.tree_scan(x, d, s), sets),
            3 * batch * channels * L * size,
        )
        record(
            "scan backward" + layout,
            median_ms(
                lambda g, x, d, s: torch.ops.groot.tree_scan_backward(g, x, d, s.order, s.parent, "all"),
                [(g, x, d, s) for g, (x, d, s) in zip(grads_laid, sets, strict=False)],
            ),
            5 * batch * channels * L * size,
        )
        record(
            "tree path (weights+MST+BFS+forward)" + layout,
            median_ms(
                lambda g, x, d: gc.tree_scan(
                    x, d, gc.bfs(gc.minimum_spanning_tree(edges, gc.edge_weights(g, edges), L), L)
                ),
                [(g, x, d) for g, (x, d, _) in zip(guides, sets, strict=False)],
            ),
            3 * batch * channels * L * size,
        )
    return rows


def bench_dense_shape(batch: int, channels: int, height: int, width: int, bandwidth: float) -> dict:
    """MST, BFS and the fp32 token-major scan on one dense-prediction shape (random guides)."""
    L = height * width
    edges = gc.grid_edges(height, width, device="cuda")
    weights = [gc.edge_weights(torch.randn(batch, 16, L, device="cuda"), edges) for _ in range(3)]
    trees = [gc.minimum_spanning_tree(edges, w, L) for w in weights]
    schedules = [gc.bfs(t, L) for t in trees]

    def token_major() -> torch.Tensor:
        return torch.randn(batch, L, channels, device="cuda").transpose(1, 2)

    sets = [(token_major(), token_major().sigmoid(), s, token_major()) for s in schedules]
    row_bytes = batch * channels * L * 4
    forward = median_ms(lambda x, d, s, g: gc.tree_scan(x, d, s), sets)
    backward = median_ms(
        lambda x, d, s, g: torch.ops.groot.tree_scan_backward(g, x, d, s.order, s.parent, "all"), sets
    )
    return {
        "MST_ms": median_ms(lambda w: gc.minimum_spanning_tree(edges, w, L), [(w,) for w in weights]),
        "BFS_ms": median_ms(lambda t: gc.bfs(t, L), [(t,) for t in trees]),
        "forward_ms": forward,
        "forward_x_floor": forward / (3 * row_bytes / bandwidth),
        "backward_ms": backward,
        "backward_x_floor": backward / (5 * row_bytes / bandwidth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--official", type=Path, default=None, help="official_baseline_h100.json")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    official = {}
    if args.official and args.official.exists():
        for stage in json.loads(args.official.read_text())["per_stage_fp32"]:
            if stage["B"] == args.batch:
                official[(stage["D"], stage["H"])] = stage
    bandwidth = copy_bandwidth()
    print(
        f"device {torch.cuda.get_device_name()}, torch {torch.__version__}, "
        f"copy bandwidth {bandwidth / 1e9:.2f} TB/s, B = {args.batch}"
    )
    keys = {"edge weights": "weights_ms", "MST": "mst_ms", "BFS": "bfs_ms", "scan forward": "refine_fwd_ms"}
    results = []
    columns = ("ms", "floor", "x floor")
    header = f"{'stage':>14} {'dtype':>8} {'kernel':>44} " + " ".join(f"{c:>8}" for c in columns)
    header += f" {'official':>9} {'speed-up':>8}"
    print(header)
    print("-" * len(header))
    for channels, side in STAGES:
        for dtype in (torch.float32, torch.bfloat16):
            rows = bench_stage(args.batch, channels, side, dtype, bandwidth)
            ref = official.get((channels, side), {})
            for name, row in rows.items():
                if name.startswith("scan backward") and ref:
                    off = ref["refine_bwd_feat_ms"] + ref["refine_bwd_w_ms"]
                elif name.startswith("tree path") and ref:
                    off = ref["weights_ms"] + ref["mst_ms"] + ref["bfs_ms"] + ref["refine_fwd_ms"]
                else:
                    off = ref.get(keys.get(name.removesuffix(" (B,L,D)"), ""), float("nan"))
                off = off if dtype == torch.float32 else float("nan")
                print(
                    f"{channels:>5}×{side}×{side:<4} {str(dtype)[6:]:>8} {name:>44} {row['ms']:8.3f} "
                    f"{row['floor_ms']:8.3f} {row['x_floor']:8.2f} {off:9.3f} {off / row['ms']:8.1f}"
                )
                results.append(
                    {"D": channels, "H": side, "dtype": str(dtype), "kernel": name, **row, "official_ms": off}
                )
    print("\ndense prediction shapes, fp32, token-major rows (ms; scans also × floor)")
    header = f"{'B × D × H × W':>20} {'MST':>8} {'BFS':>8} {'scan fwd':>16} {'scan bwd':>16}"
    print(header)
    print("-" * len(header))
    dense = []
    for shape in DENSE_SHAPES:
        row = bench_dense_shape(*shape, bandwidth)
        print(
            f"{' × '.join(map(str, shape)):>20} {row['MST_ms']:8.3f} {row['BFS_ms']:8.3f} "
            f"{row['forward_ms']:8.3f} ({row['forward_x_floor']:4.1f}×) "
            f"{row['backward_ms']:8.3f} ({row['backward_x_floor']:4.1f}×)"
        )
        dense.append({"shape": list(shape), **row})
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": torch.cuda.get_device_name(),
                    "copy_TBps": bandwidth / 1e9,
                    "rows": results,
                    "dense": dense,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
