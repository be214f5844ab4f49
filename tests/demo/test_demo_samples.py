"""The bundled samples are what the generator draws, and small."""

from __future__ import annotations

import numpy as np
import pytest
from groot_demo.samples import SAMPLE_NAMES, sample_path
from groot_demo.samples.generate import HEIGHT, WIDTH, render
from PIL import Image


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_bundled_png_matches_the_generator(name: str) -> None:
    path = sample_path(name)
    assert path.stat().st_size < 48_000
    with Image.open(path) as bundled:
        assert bundled.size == (WIDTH, HEIGHT)
        np.testing.assert_array_equal(np.asarray(bundled.convert("RGB")), np.asarray(render(name)))


def test_unknown_sample() -> None:
    with pytest.raises(ValueError, match="unknown sample"):
        sample_path("nope")
