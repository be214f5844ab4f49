"""The Gradio app: wiring only; the work is in :mod:`groot_demo.analysis`."""

from __future__ import annotations

import os

# Before gradio is imported: no telemetry or version checks reaching the network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from functools import lru_cache
from pathlib import Path

import gradio as gr
import torch
from PIL import Image

from .analysis import (
    COLOUR_POSITION,
    FEATURE_SOURCES,
    METRICS,
    GridFeatures,
    compute_features,
    explore,
    render,
    timing_table,
)
from .images import InvalidImage, load_image
from .samples import SAMPLE_DIR, SAMPLE_NAMES, sample_path
from .visualize import CheckpointError, GrootVUnavailable, load_grootv

DEFAULT_SIZE = 96
# Errors that are the user's input, not the app's fault: shown on the page.
_INPUT_ERRORS = (InvalidImage, GrootVUnavailable, CheckpointError)

_INTRO = """# Tree-topology scanning, pixel by pixel
Click anywhere on an image. GrootVL's tree scan links every pixel to the clicked one along the image's
**minimum spanning tree**; the strength of that link, S(click, ·), is the product of the decays along the
tree path. Next to it: the same product along a **raster** scan (one 1-D sequence, row after row) and
VMamba's 4-direction **cross** scan. Maps are on a log scale from 10⁻⁴ (dark) to 1 (bright)."""


class Explorer:
    """Caches features per image and settings and turns each request into the page's outputs."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._model = lru_cache(maxsize=2)(self._load_model)
        self._features = lru_cache(maxsize=8)(self._compute_features)

    def _load_model(self, checkpoint: str | None) -> torch.nn.Module:
        return load_grootv(checkpoint, device=self.device)

    def _compute_features(
        self, image_path: str, source: str, size: int, checkpoint: str | None
    ) -> GridFeatures:
        image = load_image(image_path)
        return compute_features(image, source, size, lambda: self._model(checkpoint), self.device)

    def __call__(
        self,
        image_path: str | None,
        source: str,
        checkpoint: str | None,
        metric: str,
        strength: float,
        size: float,
        click_y: float,
        click_x: float,
    ) -> tuple:
        """All outputs (7 images, timing markdown, status markdown) for one set of inputs."""
        try:
            if image_path is None:
                raise InvalidImage("No image: upload one or pick a sample.")
            uses_model = FEATURE_SOURCES[source] is not None
            grid = self._features(image_path, source, int(size), checkpoint if uses_model else None)
            result = explore(grid, metric, strength, (click_y, click_x))
        except _INPUT_ERRORS as err:
            return (None,) * 7 + ("", f"⚠️ **{err}**")
        views = render(grid, result, metric)
        h, w = grid.rgb.shape[:2]
        status = f"Clicked cell (row {result.cell[0]}, column {result.cell[1]}) of the {h}×{w} grid."
        if uses_model:
            status += (
                f" GrootV-T weights: {f'from {Path(checkpoint).name}' if checkpoint else 'random (seed 0)'}."
            )
        return (
            views.image,
            views.tree_map,
            views.raster_map,
            views.cross_map,
            views.tree_overlay,
            views.depth,
            views.histogram,
            timing_table(grid, result, source),
            status,
        )


def create_app(device: torch.device | str | None = None) -> gr.Blocks:
    """The demo's Gradio Blocks; computations run on ``device`` (default: CUDA if available, else CPU)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    explorer = Explorer(device)
    first_sample = str(sample_path(SAMPLE_NAMES[0]))

    with gr.Blocks(title="groot: tree-topology scanning", analytics_enabled=False) as app:
        gr.Markdown(_INTRO)
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                image_view = _view("Image: click a pixel", "image-view")
                with gr.Row():
                    upload = gr.UploadButton("Upload an image (PNG, JPEG, WebP)", elem_id="upload")
                    sample = gr.Dropdown(list(SAMPLE_NAMES), value=SAMPLE_NAMES[0], label="…or pick a sample")
                image_file = gr.File(
                    value=first_sample, label="Current image", interactive=False, elem_id="image-file"
                )
                source = gr.Radio(list(FEATURE_SOURCES), value=COLOUR_POSITION, label="Features")
                checkpoint = gr.File(
                    label="GrootV-T checkpoint (optional; random weights otherwise)", elem_id="checkpoint"
                )
                metric = gr.Radio(list(METRICS), value="cosine", label="Distance metric")
                strength = gr.Slider(0, 5, value=1.0, step=0.1, label="Decay strength")
                size = gr.Slider(
                    16, 256, value=DEFAULT_SIZE, step=8, label="Image size (longer side, pixels)"
                )
                click_y = gr.Slider(0, 1, value=0.5, step=0.001, label="Click: row (fraction of height)")
                click_x = gr.Slider(0, 1, value=0.5, step=0.001, label="Click: column (fraction of width)")
            with gr.Column(scale=3):
                with gr.Row():
                    tree_map = _view("Tree scan S(click, ·)", "tree-map")
                    raster_map = _view("Raster scan", "raster-map")
                    cross_map = _view("Cross scan (4 directions)", "cross-map")
                with gr.Row():
                    tree_overlay = _view("Minimum spanning tree", "tree-overlay")
                    depth = _view("BFS depth from the click", "depth")
                    histogram = _view("Edge weights", "histogram")
                timing = gr.Markdown(elem_id="timing")

        inputs = [image_file, source, checkpoint, metric, strength, size, click_y, click_x]
        outputs = [
            image_view,
            tree_map,
            raster_map,
            cross_map,
            tree_overlay,
            depth,
            histogram,
            timing,
            status,
        ]
        app.load(explorer, inputs, outputs, api_visibility="private")
        triggers = [image_file.change, source.change, checkpoint.change, metric.change]
        triggers += [strength.release, size.release, click_y.release, click_x.release]
        gr.on(triggers, explorer, inputs, outputs, api_name="explore")
        sample.input(lambda name: str(sample_path(name)), sample, image_file, api_visibility="private")
        upload.upload(lambda path: (path, None), upload, [image_file, sample], api_visibility="private")

        def clicked(
            view: Image.Image | None,
            image_path: str | None,
            source: str,
            checkpoint: str | None,
            metric: str,
            strength: float,
            size: float,
            click_y: float,
            click_x: float,
            evt: gr.SelectData,
        ) -> tuple:
            """A click on any of the same-sized views: move the click sliders there and recompute."""
            if view is not None:
                x, y = evt.index
                click_y, click_x = round((y + 0.5) / view.height, 4), round((x + 0.5) / view.width, 4)
            return (
                click_y,
                click_x,
                *explorer(image_path, source, checkpoint, metric, strength, size, click_y, click_x),
            )

        for view in (image_view, tree_map, raster_map, cross_map, tree_overlay, depth):
            view.select(clicked, [view, *inputs], [click_y, click_x, *outputs], api_visibility="private")
    return app


def serve(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True) -> str:
    """Start ``app`` on ``host``:``port`` without share links or telemetry; returns the local URL.

    With ``block=True`` it serves until interrupted; otherwise it returns at once and the server runs
    until ``app.close()``.
    """
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=True,
        allowed_paths=[str(SAMPLE_DIR)],
        max_file_size="200mb",
        ssr_mode=False,
        mcp_server=False,
        quiet=True,
        footer_links=["api"],
    )
    if block:
        print(f"groot-demo running at {url} (Ctrl+C to stop)", flush=True)
        app.block_thread()
    return url


def _view(label: str, elem_id: str) -> gr.Image:
    return gr.Image(
        label=label,
        type="pil",
        format="png",
        interactive=False,
        elem_id=elem_id,
        buttons=["download", "fullscreen"],
    )
