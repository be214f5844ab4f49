"""Perceptual colour maps (matplotlib's viridis and inferno, CC0) without matplotlib."""

from __future__ import annotations

import numpy as np

# The colour at 0, 0.1, …, 1 of each map; values in between are interpolated linearly.
_STOPS = {
    "viridis": [
        "440154",
        "482475",
        "414487",
        "355f8d",
        "2a788e",
        "21918c",
        "22a884",
        "44bf70",
        "7ad151",
        "bddf26",
        "fde725",
    ],
    "inferno": [
        "000004",
        "160b39",
        "420a68",
        "6a176e",
        "932667",
        "bc3754",
        "dd513a",
        "f37819",
        "fca50a",
        "f6d746",
        "fcffa4",
    ],
}


def apply_colormap(values: np.ndarray, name: str = "inferno") -> np.ndarray:
    """Colours ``(..., 3)`` uint8 of ``values`` ``(...)`` in [0, 1] (clipped) under colour map ``name``."""
    stops = np.array(
        [[int(code[i : i + 2], 16) for i in (0, 2, 4)] for code in _STOPS[name]], dtype=np.float64
    )
    t = np.clip(np.nan_to_num(values, nan=0.0), 0, 1) * (len(stops) - 1)
    low = np.minimum(t.astype(np.int64), len(stops) - 2)
    frac = (t - low)[..., None]
    return np.rint(stops[low] * (1 - frac) + stops[low + 1] * frac).astype(np.uint8)


def log_scale(affinity: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """Affinities in [floor, 1] mapped to [0, 1] on a log scale (below ``floor`` → 0)."""
    return np.clip(1 - np.log10(np.maximum(affinity, floor)) / np.log10(floor), 0, 1)
