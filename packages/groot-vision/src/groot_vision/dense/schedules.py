"""Learning-rate multipliers (for ``torch.optim.lr_scheduler.LambdaLR``) of the paper's dense recipes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["warmup_multistep", "warmup_poly"]


def _warmup(step: int, warmup_steps: int, warmup_ratio: float) -> float:
    if step >= warmup_steps:
        return 1.0
    return warmup_ratio + (1.0 - warmup_ratio) * step / warmup_steps


def warmup_poly(
    total_steps: int, warmup_steps: int = 1500, power: float = 1.0, warmup_ratio: float = 1e-6
) -> Callable[[int], float]:
    """Linear warm-up, then ``(1 - step / total) ** power`` (UperNet / ADE20K, per iteration)."""

    def factor(step: int) -> float:
        decay = max(1.0 - step / max(total_steps, 1), 0.0) ** power
        return decay * _warmup(step, warmup_steps, warmup_ratio)

    return factor


def warmup_multistep(
    milestones: Sequence[int], warmup_steps: int = 500, gamma: float = 0.1, warmup_ratio: float = 1e-3
) -> Callable[[int], float]:
    """Linear warm-up, then ×``gamma`` at each milestone (Mask R-CNN 1×/3×; steps are iterations)."""

    def factor(step: int) -> float:
        passed = sum(step >= m for m in milestones)
        return gamma**passed * _warmup(step, warmup_steps, warmup_ratio)

    return factor
