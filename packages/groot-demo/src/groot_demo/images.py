"""Reading user images safely: a clear :class:`InvalidImage` message instead of a crash."""

from __future__ import annotations

import os
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class InvalidImage(ValueError):
    """The file cannot be used as an input image; the message says why, for the user."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """The image at ``path`` as 8-bit RGB (transparency composited on white, EXIF rotation applied).

    Accepts PNG, JPEG and WebP in RGB, RGBA, greyscale (8 or 16 bit) or palette modes, at most
    ``MAX_SIDE`` pixels a side and ``MAX_PIXELS`` pixels in all.

    Raises:
        InvalidImage: not an image, an unsupported format, empty, too large, or corrupt.
    """
    name = os.path.basename(os.fspath(path))
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise InvalidImage(f"{name} is far too large to process ({err}).") from err
    except UnidentifiedImageError as err:
        size = _png_size(path)
        if size is not None and 0 in size:
            raise InvalidImage(f"{name} is an empty image ({size[0]}×{size[1]} pixels).") from err
        raise InvalidImage(
            f"{name} is not an image this demo can read (upload a PNG, JPEG or WebP file)."
        ) from err
    except OSError as err:
        raise InvalidImage(f"{name} could not be read: {err}") from err
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidImage(f"{name} is a {image.format} image; upload a PNG, JPEG or WebP file.")
        width, height = image.size
        if width == 0 or height == 0:
            raise InvalidImage(f"{name} is an empty image ({width}×{height} pixels).")
        if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
            raise InvalidImage(
                f"{name} is too large ({width}×{height} pixels); the demo accepts up to {MAX_SIDE} pixels "
                f"a side and {MAX_PIXELS // 1_000_000} megapixels (it works on a much smaller grid anyway)."
            )
        try:
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))
        except (OSError, SyntaxError, ValueError) as err:
            raise InvalidImage(f"{name} is corrupt or truncated ({err}).") from err


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float greyscale: stretch to 8 bits instead of letting convert() clip at 255.
        values = np.asarray(image, dtype=np.float64)
        low, high = values.min(), values.max()
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        image = Image.fromarray(np.rint(scaled).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _png_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, for files PIL refuses to open (PIL rejects 0×0 PNGs)."""
    with open(path, "rb") as file:
        header = file.read(24)
    if len(header) < 24 or not header.startswith(_PNG_SIGNATURE) or header[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", header[16:24])
