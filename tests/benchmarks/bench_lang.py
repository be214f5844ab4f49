"""GrootL vs plain HF Mamba: forward + backward time per token at the Mamba-130M shape.

    python tests/benchmarks/bench_lang.py --device cuda
    python tests/benchmarks/bench_lang.py --device cuda --lengths 256,1024 --variants chain,grootl

Method (that of the shared Mamba-130M peer numbers): transformers ``MambaForCausalLM`` at the 130M
shape (hidden 768, 24 layers, state 16, expand 2, conv 4, vocab 50280), random weights, batch 8,
forward + backward of the LM loss under ``torch.autocast(bfloat16)``, mean of 3 steps after 1
warm-up; peak = ``torch.cuda.max_memory_allocated`` over the timed steps (GB = 1e9 bytes).

Variants:
  hf      transformers' own mixer: the fused mamba-ssm kernels if installed, else its PyTorch path
  chain   GrootL mixers with scale 0: Mamba's recurrence via groot_core's tree scan on the chain
  grootl  the paper's GrootL (scale 0.3, k 3), the whole sequence as the prompt span (most edges)
The issue's target: the tree branch costs <= 1.5x the plain model's step (grootl / hf).
The peer file's fused-kernel numbers (mamba-ssm 2.3.2, same method, H100) are quoted beside.
"""

from __future__ import annotations

import argparse
import gc
import time

import torch
from groot_lang import GrootLConfig, enable_tree_scan
from transformers import MambaConfig, MambaForCausalLM

# shared/reference/peers_h100.json: Mamba-130M with mamba-ssm + causal-conv1d, batch 8, ms per step.
PEER_FUSED_MS = {256: 59.7, 1024: 80.5, 2048: 148.2}
TARGET_RATIO = 1.5
SHAPES = {
    "130m": dict(
        hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4, vocab_size=50280
    ),
    "tiny": dict(hidden_size=32, num_hidden_layers=2, state_size=4, expand=2, conv_kernel=4, vocab_size=112),
}
VARIANTS = {"hf": None, "chain": GrootLConfig(scale=0.0), "grootl": GrootLConfig()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(variant: str, shape: str, length: int, args: argparse.Namespace, device: torch.device) -> dict:
    """One row: ms per forward + backward step, tokens per second, peak GB (or ``oom``)."""
    torch.manual_seed(0)
    model = MambaForCausalLM(MambaConfig(**SHAPES[shape])).to(device).train()
    if VARIANTS[variant] is not None:
        enable_tree_scan(model, VARIANTS[variant])
    ids = torch.randint(0, model.config.vocab_size, (args.batch, length), device=device)
    row = {"variant": variant, "L": length, "B": args.batch}

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(ids, labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)

    try:
        for _ in range(args.warmup):
            step()
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        _sync(device)
        seconds = (time.perf_counter() - start) / args.steps
        row |= {"ms": 1e3 * seconds, "tokens_per_s": args.batch * length / seconds}
        if device.type == "cuda":
            row["peak_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    except torch.OutOfMemoryError:
        row["oom"] = True
    return row


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _table(rows: list[dict], shape: str) -> str:
    by_key = {(r["variant"], r["L"]): r for r in rows}
    lines = [
        f"{'L':>5} {'B':>2} {'variant':>7} {'ms/step':>9} {'us/token':>9} {'tokens/s':>9} {'peak GB':>8} "
        f"{'/hf':>6} {'/chain':>7} {'/fused peer':>11}"
    ]
    for row in rows:
        if row.get("oom"):
            lines.append(f"{row['L']:>5} {row['B']:>2} {row['variant']:>7} {'OOM':>9}")
            continue
        peer = PEER_FUSED_MS.get(row["L"]) if shape == "130m" and row["B"] == 8 else None
        lines.append(
            f"{row['L']:>5} {row['B']:>2} {row['variant']:>7} {row['ms']:>9.1f} "
            f"{1e3 * row['ms'] / (row['B'] * row['L']):>9.2f} {row['tokens_per_s']:>9.0f} "
            f"{row.get('peak_gb', float('nan')):>8.2f} {_ratio(row, by_key.get(('hf', row['L']))):>6} "
            f"{_ratio(row, by_key.get(('chain', row['L']))):>7} "
            f"{_ratio(row, {'ms': peer} if peer else None):>11}"
        )
    return "\n".join(lines)


def _ratio(row: dict, base: dict | None) -> str:
    return f"{row['ms'] / base['ms']:.2f}" if base and "ms" in base else "-"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--lengths", default="256,1024,2048", help="comma-separated sequence lengths")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--variants", default="hf,chain,grootl", help=f"comma-separated, from {','.join(VARIANTS)}"
    )
    parser.add_argument("--shape", choices=tuple(SHAPES), default="130m")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    rows = []
    for length in args.lengths.split(","):
        for variant in args.variants.split(","):
            rows.append(measure(variant, args.shape, int(length), args, device))
            print(rows[-1], flush=True)
            _release(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"Mamba-{args.shape}, fwd+bwd, bf16 autocast, {name}, torch {torch.__version__}")
    print(_table(rows, args.shape))
    print(f"target: grootl <= {TARGET_RATIO}x hf")
    return rows


if __name__ == "__main__":
    main()
