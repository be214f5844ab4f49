"""End to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Loads the page, waits for the bundled sample's maps, clicks a pixel, checks that the affinity map
changed, uploads an image and a non-image. Screenshots go to the ``artifacts`` folder
(``tests/demo/artifacts/`` unless ``GROOT_DEMO_ARTIFACTS`` says otherwise). A missing browser fails
the test: it is not skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from groot_demo.samples import sample_path
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("GROOT_DEMO_CHROMIUM", "/usr/bin/chromium")
# Root needs --no-sandbox; the rest keep Chromium from reaching for the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]
TIMEOUT_MS = 60_000
CELL = re.compile(r"Clicked cell \(row (\d+), column (\d+)\) of the (\d+)×(\d+) grid")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def map_source(page: Page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} img").get_attribute("src") or ""


def wait_for_new_map(page: Page, elem_id: str, old_source: str) -> None:
    page.wait_for_function(
        "([id, old]) => { const img = document.querySelector(`#${id} img`);"
        " return img && img.complete && img.naturalWidth > 0 && img.getAttribute('src') !== old; }",
        arg=[elem_id, old_source],
        timeout=TIMEOUT_MS,
    )


def clicked_cell(page: Page) -> tuple[int, int, int, int]:
    match = CELL.search(page.locator("#status").inner_text())
    assert match, page.locator("#status").inner_text()
    row, col, h, w = map(int, match.groups())
    return row, col, h, w


def test_load_click_upload(browser: Browser, demo_url: str, tmp_path: Path, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    outside = []
    page.on(
        "request",
        lambda request: outside.append(request.url) if not request.url.startswith(demo_url) else None,
    )

    # The page opens with the first sample already processed.
    page.goto(demo_url, timeout=TIMEOUT_MS)
    expect(page.locator("#status")).to_contain_text("Clicked cell", timeout=TIMEOUT_MS)
    wait_for_new_map(page, "tree-map", "")
    assert clicked_cell(page) == (36, 48, 72, 96)  # the centre of the 72×96 grid
    page.screenshot(path=artifacts / "1-loaded.png", full_page=True)

    # Click the red disc of the "shapes" sample (centre at 45/120 of the height, 45/160 of the width).
    before = map_source(page, "tree-map")
    before_pixels = page.locator("#tree-map img").screenshot()
    image = page.locator("#image-view img")
    box = image.bounding_box()
    assert box is not None
    image.click(position={"x": box["width"] * 50 / 160, "y": box["height"] * 40 / 120})
    wait_for_new_map(page, "tree-map", before)
    expect(page.locator("#status")).not_to_contain_text("(row 36, column 48)", timeout=TIMEOUT_MS)
    row, col, _, _ = clicked_cell(page)
    assert abs(row - 24) <= 1 and abs(col - 30) <= 1  # 40/120·72, 50/160·96
    assert page.locator("#tree-map img").screenshot() != before_pixels
    page.screenshot(path=artifacts / "2-clicked.png", full_page=True)

    # Upload a square RGBA image: the grid becomes 96×96.
    upload = tmp_path / "upload.png"
    Image.open(sample_path("cells")).convert("RGBA").resize((120, 120)).save(upload)
    before = map_source(page, "tree-map")
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(upload)
    wait_for_new_map(page, "tree-map", before)
    expect(page.locator("#status")).to_contain_text("of the 96×96 grid", timeout=TIMEOUT_MS)
    page.screenshot(path=artifacts / "3-uploaded.png", full_page=True)

    # A file that is not an image: a message, no maps, and the app goes on serving.
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("not a picture")
    with page.expect_file_chooser() as chooser:
        page.locator("#upload").click()
    chooser.value.set_files(not_an_image)
    expect(page.locator("#status")).to_contain_text(
        "notes.txt is not an image this demo can read", timeout=TIMEOUT_MS
    )
    page.screenshot(path=artifacts / "4-not-an-image.png", full_page=True)
    page.get_by_label("…or pick a sample").click()
    page.get_by_role("option", name="landscape").click()
    expect(page.locator("#status")).to_contain_text("of the 72×96 grid", timeout=TIMEOUT_MS)

    assert outside == [], f"the page reached beyond the demo: {outside}"
    page.close()
