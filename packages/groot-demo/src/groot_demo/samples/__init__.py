"""Sample images bundled with the demo (drawn by :mod:`groot_demo.samples.generate`)."""

from __future__ import annotations

from pathlib import Path

from .generate import SAMPLES

SAMPLE_DIR = Path(__file__).parent


def sample_path(name: str) -> Path:
    """Path of the bundled PNG of sample ``name`` (one of :data:`SAMPLE_NAMES`)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; samples are {SAMPLE_NAMES}")
    return SAMPLE_DIR / f"{name}.png"


SAMPLE_NAMES = tuple(SAMPLES)
