"""Histogram of edge weights: all grid edges against the ones the spanning tree kept."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_ALL_COLOUR = (150, 150, 160)
_TREE_COLOUR = (240, 150, 30)
_INK = (40, 40, 40)


def weight_histogram(
    grid_weights: np.ndarray,
    tree_weights: np.ndarray,
    metric: str,
    bins: int = 40,
    size: tuple[int, int] = (480, 280),
) -> Image.Image:
    """Bar chart (PIL RGB image of ``size``) of ``grid_weights`` ``(E,)``, ``tree_weights`` ``(L-1,)`` on top.

    Counts are on a log scale, so the few heavy edges (object boundaries) stay visible next to the
    many light ones; the tree keeps the light ones.
    """
    width, height = size
    # The top strip holds the legend, clear of the labels and buttons Gradio lays over image corners.
    left, right, top, bottom = 48, 12, 64, 40
    top_weight = float(max(grid_weights.max(initial=0.0), 1e-12))
    edges = np.linspace(0.0, top_weight, bins + 1)
    all_counts = np.histogram(grid_weights, edges)[0]
    tree_counts = np.histogram(tree_weights, edges)[0]
    log_top = np.log1p(all_counts.max(initial=1))

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    plot_w, plot_h = width - left - right, height - top - bottom
    bar_w = plot_w / bins
    for counts, colour in ((all_counts, _ALL_COLOUR), (tree_counts, _TREE_COLOUR)):
        for i, count in enumerate(counts):
            if count:
                bar_h = plot_h * np.log1p(count) / log_top
                x0 = left + i * bar_w
                draw.rectangle([x0, top + plot_h - bar_h, x0 + bar_w - 1, top + plot_h], fill=colour)
    draw.line([left, top + plot_h, left + plot_w, top + plot_h], fill=_INK)
    draw.line([left, top, left, top + plot_h], fill=_INK)
    draw.text((left, top + plot_h + 4), "0", fill=_INK, font=font)
    draw.text((left + plot_w, top + plot_h + 4), f"{top_weight:.3g}", fill=_INK, font=font, anchor="ra")
    draw.text((left + plot_w / 2, height - 6), f"edge weight ({metric})", fill=_INK, font=font, anchor="ms")
    draw.text((left - 4, top), f"{all_counts.max(initial=0)}", fill=_INK, font=font, anchor="ra")
    draw.text((left - 4, top + plot_h), "0", fill=_INK, font=font, anchor="rb")
    legend = [
        (f"grid edges ({grid_weights.size})", _ALL_COLOUR),
        (f"tree edges ({tree_weights.size})", _TREE_COLOUR),
    ]
    x, y = left, top - 18
    for text, colour in legend:
        draw.rectangle([x, y - 5, x + 10, y + 5], fill=colour)
        draw.text((x + 14, y), text, fill=_INK, font=font, anchor="lm")
        x += 24 + draw.textlength(text, font=font)
    draw.text((x, y), "count on a log scale", fill=_INK, font=font, anchor="lm")
    return image
