"""The app's /explore endpoint through gradio_client, against the app served on 127.0.0.1 in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from groot_demo.samples import sample_path
from PIL import Image

VIEWS = 6  # image, three affinity maps, tree overlay, depth; then histogram, timing, status


@pytest.fixture(scope="module")
def client(demo_url: str) -> Client:
    return Client(demo_url, verbose=False, download_files=True)


def explore(
    client: Client,
    image: Path,
    *,
    source: str = "colour + position",
    checkpoint: Path | None = None,
    size: int = 64,
    click: tuple[float, float] = (0.5, 0.5),
) -> tuple:
    """/explore with the cosine metric and decay strength 1."""
    file = handle_file(str(checkpoint)) if checkpoint else None
    return client.predict(
        handle_file(str(image)), source, file, "cosine", 1.0, size, *click, api_name="/explore"
    )


def pixels(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_sample_is_explored(client: Client) -> None:
    outputs = explore(client, sample_path("shapes"), click=(0.25, 0.75))
    *images, timing, status = outputs
    assert len(images) == VIEWS + 1 and all(Path(p).is_file() for p in images)
    assert {pixels(p).shape for p in images[:VIEWS]} == {(48 * 5, 64 * 5, 3)}
    assert status.startswith("Clicked cell (row 12, column 48) of the 48×64 grid.")
    assert "CPU" in timing and "spanning tree" in timing and "tree scan affinity" in timing


def test_another_click_changes_the_maps(client: Client) -> None:
    first = explore(client, sample_path("cells"), click=(0.2, 0.2))
    second = explore(client, sample_path("cells"), click=(0.8, 0.7))
    for view in range(1, 4):  # tree, raster, cross maps
        assert not np.array_equal(pixels(first[view]), pixels(second[view]))
    assert first[-1] != second[-1]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("not_an_image", "is not an image this demo can read"),
        ("empty", "is an empty image (0×0 pixels)"),
        ("huge", "is far too large"),
        ("truncated", "is corrupt or truncated"),
    ],
)
def test_bad_image_gives_a_message_and_the_app_keeps_serving(
    client: Client, bad_images: dict[str, Path], kind: str, message: str
) -> None:
    *images, timing, status = explore(client, bad_images[kind])
    assert all(image is None for image in images) and timing == ""
    assert message in status
    assert explore(client, sample_path("landscape"), size=32)[-1].startswith("Clicked cell")


@pytest.mark.parametrize("name", ["rgba.png", "grey.png", "photo.jpg", "photo.webp"])
def test_accepted_image_kinds(client: Client, tmp_path: Path, name: str) -> None:
    rgb = Image.open(sample_path("landscape")).convert("RGB")
    image = {"rgba.png": rgb.convert("RGBA"), "grey.png": rgb.convert("L")}.get(name, rgb)
    image.save(tmp_path / name)
    assert explore(client, tmp_path / name, size=40)[-1].startswith(
        "Clicked cell (row 15, column 20) of the 30×40 grid."
    )


def test_grootv_features_with_random_weights(client: Client) -> None:
    status = explore(client, sample_path("shapes"), source="GrootV stage 1", size=64)[-1]
    assert status.endswith("of the 12×16 grid. GrootV-T weights: random (seed 0).")


def test_corrupt_checkpoint_gives_a_message(client: Client, corrupt_checkpoint: Path) -> None:
    *images, _, status = explore(
        client, sample_path("shapes"), source="GrootV stage 2", checkpoint=corrupt_checkpoint
    )
    assert images == [None] * len(images)
    assert "could not load the checkpoint into grootv_tiny" in status
    # the same file is ignored by the colour + position features
    assert explore(client, sample_path("shapes"), checkpoint=corrupt_checkpoint)[-1].startswith(
        "Clicked cell"
    )
