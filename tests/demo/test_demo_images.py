"""groot_demo.images: every accepted kind of image becomes 8-bit RGB; bad files give clear messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from groot_demo.images import InvalidImage, load_image
from PIL import Image


def save(tmp_path: Path, image: Image.Image, name: str) -> Path:
    path = tmp_path / name
    image.save(path)
    return path


def test_rgb_png_round_trips(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    loaded = load_image(save(tmp_path, Image.fromarray(pixels), "a.png"))
    assert loaded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(loaded), pixels)


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    pixels = np.zeros((2, 2, 4), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0, 255)  # opaque red; the rest fully transparent
    loaded = np.asarray(load_image(save(tmp_path, Image.fromarray(pixels), "a.png")))
    assert loaded[0, 0].tolist() == [255, 0, 0]
    assert loaded[1, 1].tolist() == [255, 255, 255]


def test_greyscale_8_and_16_bit(tmp_path: Path) -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    loaded = np.asarray(load_image(save(tmp_path, Image.fromarray(grey), "g.png")))
    np.testing.assert_array_equal(loaded, np.repeat(grey[..., None], 3, axis=-1))

    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    loaded = np.asarray(load_image(save(tmp_path, Image.fromarray(deep), "g16.png")))
    assert loaded[0, 0].tolist() == [0, 0, 0] and loaded[2, 3].tolist() == [255, 255, 255]
    assert np.all(np.diff(loaded[..., 0].reshape(-1).astype(int)) > 0)  # stretched, not clipped at 255


@pytest.mark.parametrize("name", ["a.jpg", "a.webp"])
def test_jpeg_and_webp(tmp_path: Path, name: str) -> None:
    loaded = load_image(save(tmp_path, Image.new("RGB", (16, 8), (200, 40, 90)), name))
    assert loaded.size == (16, 8)
    assert np.abs(np.asarray(loaded, dtype=int) - (200, 40, 90)).max() < 8


def test_palette_image(tmp_path: Path) -> None:
    palette = Image.new("RGB", (5, 5), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert np.asarray(load_image(save(tmp_path, palette, "p.png")))[2, 2].tolist() == [10, 200, 30]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("not_an_image", "not an image this demo can read"),
        ("empty", "empty image (0×0 pixels)"),
        ("huge", "too large"),
        ("truncated", "corrupt or truncated"),
    ],
)
def test_bad_files_are_refused_with_a_reason(bad_images: dict[str, Path], kind: str, message: str) -> None:
    with pytest.raises(InvalidImage, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_image(bad_images[kind])


def test_other_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage, match="GIF image; upload a PNG, JPEG or WebP"):
        load_image(save(tmp_path, Image.new("RGB", (4, 4)), "a.gif"))


def test_too_many_pixels_within_pil_limits(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage, match=r"too large \(9000×10 pixels\)"):
        load_image(save(tmp_path, Image.new("L", (9000, 10)), "wide.png"))
