"""Fixtures for the groot-demo tests: a live app on 127.0.0.1 and a collection of bad input files."""

from __future__ import annotations

import os
import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return _free_port()


@pytest.fixture(scope="session")
def demo_url() -> Iterator[str]:
    """URL of the demo served in this process on a random free port, for the whole session."""
    from groot_demo.app import create_app, serve

    app = create_app("cpu")
    url = serve(app, "127.0.0.1", _free_port(), block=False)
    yield url
    app.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots: ``$GROOT_DEMO_ARTIFACTS`` or ``tests/demo/artifacts/`` (ignored by git)."""
    folder = Path(os.environ.get("GROOT_DEMO_ARTIFACTS", Path(__file__).parent / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int) -> bytes:
    """A valid all-black 1-bit greyscale PNG of any size (PIL cannot make 0×0 ones, nor huge ones cheaply)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def bad_images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files the demo must refuse with a clear message, keyed by what is wrong with them."""
    from groot_demo.samples import sample_path

    folder = tmp_path_factory.mktemp("bad_images")
    valid = sample_path("shapes").read_bytes()
    contents = {
        "not_an_image.png": b"this is a text file, not a picture\n" * 10,
        "empty.png": png_bytes(0, 0),
        "huge.png": png_bytes(20_000, 20_000),
        "truncated.png": valid[: len(valid) // 2],
    }
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return {Path(name).stem: folder / name for name in contents}


@pytest.fixture(scope="session")
def corrupt_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``.pth`` file of random bytes."""
    path = tmp_path_factory.mktemp("checkpoints") / "corrupt.pth"
    path.write_bytes(os.urandom(4096))
    return path
