"""The map page in a real headless browser: Debian's chromium driven by Playwright.

Pages are written with tsne_rs.view and opened from file://. WebGL runs on SwiftShader
(--use-gl=swiftshader --enable-unsafe-swiftshader); each test runs with `#renderer=webgl` and
with `#renderer=canvas2d` (the fallback), which force the renderer.

The test map is three lattices of points, one per class (600, 300 and 100 points, rows shuffled),
far apart, with the lattice step over twice a drawn point's size: no two points overlap, so
each point covers the same number of pixels and a class's share of the coloured pixels is its
share of the points. The assertions compare what is drawn (screenshot pixels) with what the page
reports (`tsneView.toScreen`, `visibleExtent`, `colors`) and with what the data says.

Skipped, with the reason, when Playwright for Python or /usr/bin/chromium is missing
(`pip install playwright`, `apt-get install chromium`; never `playwright install`).
"""

import csv
import io
import os
import pathlib
import re

import numpy as np
import pytest

import tsne_rs

CHROMIUM = pathlib.Path(os.environ.get("TSNE_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
VIEWPORT = {"width": 1200, "height": 800}
RENDERERS = ["webgl", "canvas2d"]

# The classes: name, lattice columns x rows, lattice origin (in lattice steps).
CLASSES = [("big", 25, 24, (0, 0)), ("mid", 20, 15, (34, 0)), ("small", 10, 10, (34, 20))]
SHARES = {"big": 0.6, "mid": 0.3, "small": 0.1}


try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def lattice():
    """Positions, labels, lattice coordinates (column, row within the class) and metadata."""
    Y, labels, cells = [], [], []
    for name, cols, rows, (x0, y0) in CLASSES:
        for r in range(rows):
            for c in range(cols):
                Y.append((x0 + c, y0 + r))
                labels.append(name)
                cells.append((c, r))
    order = np.random.default_rng(7).permutation(len(Y))
    Y = np.array(Y, dtype=float)[order]
    labels = np.array(labels)[order]
    cells = np.array(cells)[order]
    n = len(Y)
    meta = {"score": 3 * np.arange(n) + 1, "batch": [f"b{i % 3}" for i in range(n)]}
    ids = [f"pt{i:04d}" for i in range(n)]
    return {"Y": Y, "labels": labels, "cells": cells, "meta": meta, "ids": ids, "n": n}


@pytest.fixture(scope="module")
def map_path(lattice, tmp_path_factory):
    path = tmp_path_factory.mktemp("viewer") / "lattice.html"
    L = lattice
    tsne_rs.view(L["Y"], labels=L["labels"], meta=L["meta"], ids=L["ids"], title="lattice", path=path)
    return path


class Opened:
    """A page opened from file://, with the console errors and requests it made."""

    def __init__(self, browser, path, renderer="webgl"):
        self.context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = pathlib.Path(path).resolve().as_uri()
        # "auto" is the page's own choice (it depends on the rasteriser); else it is forced.
        self.page.goto(self.url if renderer == "auto" else f"{self.url}#renderer={renderer}")
        self.page.wait_for_function("() => window.tsneView && window.tsneView.ready")
        self.page.evaluate("() => window.tsneView.ready.then(() => true)")
        self.settle()

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)

    def settle(self):
        """Waits until the view is still for three animation frames (zooms may animate)."""
        self.js(
            """async () => {
                const frame = () => new Promise(r => requestAnimationFrame(() => r()));
                let last = JSON.stringify(tsneView.visibleExtent()), still = 0;
                for (let k = 0; k < 300 && still < 3; k++) {
                    await frame();
                    const now = JSON.stringify(tsneView.visibleExtent());
                    still = now === last ? still + 1 : 0;
                    last = now;
                }
                await frame(); await frame();
            }"""
        )

    def to_screen(self, rows):
        return np.array(self.js("rows => rows.map(i => tsneView.toScreen(i))", [int(i) for i in rows]))

    def canvas_box(self):
        return self.page.locator("#map").bounding_box()

    def pixels(self):
        """The canvas as drawn (RGB, CSS pixels) and its top-left corner in the viewport."""
        from PIL import Image

        box = self.canvas_box()
        png = self.page.screenshot(clip=box, scale="css", animations="disabled")
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float), (box["x"], box["y"])

    def close(self):
        self.context.close()


@pytest.fixture(params=RENDERERS)
def opened(request, browser, map_path):
    o = Opened(browser, map_path, request.param)
    o.renderer = request.param
    yield o
    o.close()


def rgb(hex_colour):
    return np.array([int(hex_colour[k : k + 2], 16) for k in (1, 3, 5)], dtype=float)


def classify(img, colours):
    """Each pixel's class (or None): the class colour it lies nearest to, blended with the
    background in any proportion (so antialiased and translucent points count), when that
    blend is at least 30 % colour and within 24 RGB units of the pixel."""
    flat = img.reshape(-1, 3)
    packed = flat.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    values, counts = np.unique(packed, return_counts=True)
    bg = values[counts.argmax()]
    background = np.array([(bg >> 16) & 255, (bg >> 8) & 255, bg & 255], dtype=float)
    # Background pixels are no class (their blend strength is 0): classify the others only.
    drawn = np.flatnonzero(packed != bg)
    pixels = flat[drawn]
    names = list(colours)
    residuals, strengths = [], []
    for name in names:
        d = rgb(colours[name]) - background
        t = np.clip((pixels - background) @ d / (d @ d), 0, 1)
        residuals.append(np.linalg.norm(pixels - (background + t[:, None] * d), axis=1))
        strengths.append(t)
    residuals, strengths = np.array(residuals), np.array(strengths)
    label = np.full(len(flat), -1)
    if len(drawn):
        best = residuals.argmin(axis=0)
        ok = (residuals.min(axis=0) < 24) & (strengths[best, np.arange(len(drawn))] > 0.3)
        label[drawn[ok]] = best[ok]
    return label.reshape(img.shape[:2]), names


def class_counts(o):
    img, _ = o.pixels()
    label, names = classify(img, o.js("() => tsneView.colors"))
    return {name: int((label == k).sum()) for k, name in enumerate(names)}


def lattice_step(o, lattice):
    """The screen distance between neighbouring lattice points (same class, adjacent column)."""
    cells, labels = lattice["cells"], lattice["labels"]
    a = np.flatnonzero((labels == "big") & (cells[:, 0] == 3) & (cells[:, 1] == 3))[0]
    b = np.flatnonzero((labels == "big") & (cells[:, 0] == 4) & (cells[:, 1] == 3))[0]
    p = o.to_screen([a, b])
    return float(np.linalg.norm(p[1] - p[0]))


def assert_drawn_at_to_screen(o, lattice, rows):
    """The pixel at toScreen(i) is row i's class colour, for each of `rows`."""
    assert len(rows) > 0
    img, (left, top) = o.pixels()
    label, names = classify(img, o.js("() => tsneView.colors"))
    for i, (x, y) in zip(rows, o.to_screen(rows)):
        seen = label[int(y - top), int(x - left)]
        assert seen >= 0 and names[seen] == lattice["labels"][i], (int(i), x, y, seen)


# (1) ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("renderer", ["auto"] + RENDERERS)
def test_opens_from_file_with_no_error_and_no_request(browser, map_path, lattice, renderer):
    o = Opened(browser, map_path, renderer)
    try:
        # Interact a little so lazily run code runs too.
        x, y = o.to_screen([0])[0]
        o.page.mouse.move(x, y)
        o.page.mouse.wheel(0, -200)
        o.settle()
        assert o.js("() => tsneView.renderer") in (RENDERERS if renderer == "auto" else [renderer])
        assert o.js("() => tsneView.n") == lattice["n"]
        assert o.errors == []
        others = [u for u in o.requests if u.split("#")[0] != o.url]
        assert others == [], f"the page requested {others}"
    finally:
        o.close()


# (2) ---------------------------------------------------------------------------------------
def test_pixels_of_each_class_follow_its_share_of_the_points(opened, lattice):
    o = opened
    colours = o.js("() => tsneView.colors")
    assert set(colours) == set(SHARES)
    counts = class_counts(o)
    total = sum(counts.values())
    # Not blank: every point covers at least a few pixels.
    assert total >= 3 * lattice["n"], counts
    # No two points overlap, so the shares are the class sizes up to the pixels a disc covers
    # at its sub-pixel offset (WebGL's point sprites; canvas 2D stamps one disc): a few per
    # cent per point, averaged over at least 100 points. Measured: exact in canvas 2D, within
    # 0.002 in WebGL; 0.01 leaves a margin of 5 and still catches a fifth of the smallest
    # class missing.
    shares = {k: v / total for k, v in counts.items()}
    for name, share in SHARES.items():
        assert abs(shares[name] - share) < 0.01, shares
    # What is drawn at toScreen(i) is row i's class colour: the page's coordinates are the
    # drawing's.
    assert_drawn_at_to_screen(o, lattice, np.random.default_rng(3).choice(lattice["n"], 40, replace=False))


# (3) ---------------------------------------------------------------------------------------
def test_hover_shows_the_row_under_the_pointer(opened, lattice):
    o, L = opened, lattice
    tooltip = o.page.locator("#tooltip")
    rows = [int(np.flatnonzero(L["labels"] == name)[5]) for name in SHARES] + [0, L["n"] - 1]
    for i, (x, y) in zip(rows, o.to_screen(rows)):
        o.page.mouse.move(x, y)
        expect(tooltip).to_be_visible()
        expect(tooltip).to_contain_text(re.compile(rf"\brow {i}\b"))
        text = tooltip.inner_text()
        assert L["labels"][i] in text, text
        assert f"id: {L['ids'][i]}" in text, text
        assert re.findall(r"\brow (\d+)\b", text) == [str(i)], text
        assert f"batch: b{i % 3}" in text, text
        value = text.split("score:")[1].split()[0]
        assert float(value.replace(",", "")) == 3 * i + 1, text
    # Between the clusters, nothing is hovered.
    big = o.to_screen(np.flatnonzero(L["labels"] == "big"))
    gap_x = (big[:, 0].max() + o.to_screen(np.flatnonzero(L["labels"] == "mid"))[:, 0].min()) / 2
    o.page.mouse.move(gap_x, big[:, 1].mean())
    expect(tooltip).to_be_hidden()


# (4) ---------------------------------------------------------------------------------------
def test_wheel_zoom_narrows_the_view_around_the_pointer(opened, lattice):
    o, L = opened, lattice
    before = o.js("() => tsneView.visibleExtent()")
    # A point off the centre: a zoom about the centre instead of the pointer would move it.
    i = int(np.flatnonzero((L["labels"] == "big") & (L["cells"][:, 0] == 2) & (L["cells"][:, 1] == 20))[0])
    x, y = o.to_screen([i])[0]
    o.page.mouse.move(x, y)
    for _ in range(3):
        o.page.mouse.wheel(0, -120)
    o.settle()
    after = o.js("() => tsneView.visibleExtent()")
    width = lambda e: e["xmax"] - e["xmin"]
    height = lambda e: e["ymax"] - e["ymin"]
    assert width(after) < 0.9 * width(before) and height(after) < 0.9 * height(before), (before, after)
    # The point under the pointer stays under it.
    nx, ny = o.to_screen([i])[0]
    assert abs(nx - x) <= 2 and abs(ny - y) <= 2, ((x, y), (nx, ny))
    # Equal aspect: the extent has the canvas's proportions.
    box = o.canvas_box()
    assert width(after) / height(after) == pytest.approx(box["width"] / box["height"], rel=0.02)
    # And the drawing followed: what is drawn at toScreen(i) of the rows still in view is
    # their class colour.
    p = o.to_screen(range(L["n"]))
    inside = (p[:, 0] > box["x"] + 3) & (p[:, 0] < box["x"] + box["width"] - 3)
    inside &= (p[:, 1] > box["y"] + 3) & (p[:, 1] < box["y"] + box["height"] - 3)
    assert_drawn_at_to_screen(o, L, np.flatnonzero(inside)[:40])
    # Reset brings back the whole map.
    o.page.click("#reset")
    o.settle()
    reset = o.js("() => tsneView.visibleExtent()")
    assert width(reset) == pytest.approx(width(before), rel=1e-3)


# (5) ---------------------------------------------------------------------------------------
def test_legend_click_hides_and_restores_a_class(opened):
    o = opened
    before = class_counts(o)
    item = o.page.locator('.legend-item[data-class="mid"]')
    item.click()
    o.settle()
    hidden = class_counts(o)
    assert hidden["mid"] <= 0.01 * before["mid"], (before, hidden)
    for other in ("big", "small"):
        assert hidden[other] == pytest.approx(before[other], rel=0.05), (before, hidden)
    item.click()
    o.settle()
    restored = class_counts(o)
    assert restored["mid"] == pytest.approx(before["mid"], rel=0.05), (before, restored)


def test_legend_shift_click_isolates_a_class(opened):
    o = opened
    before = class_counts(o)
    o.page.locator('.legend-item[data-class="small"]').click(modifiers=["Shift"])
    o.settle()
    isolated = class_counts(o)
    assert isolated["small"] == pytest.approx(before["small"], rel=0.05), (before, isolated)
    assert isolated["big"] <= 0.01 * before["big"] and isolated["mid"] <= 0.01 * before["mid"], isolated


# (6) ---------------------------------------------------------------------------------------
def select_box_and_download(o, x0, y0, x1, y1):
    o.page.click("#mode-box")
    o.page.mouse.move(x0, y0)
    o.page.mouse.down()
    o.page.mouse.move(x1, y1, steps=12)
    o.page.mouse.up()
    o.settle()
    with o.page.expect_download() as info:
        o.page.click("#download")
    text = pathlib.Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def rows_in_box(o, n, x0, y0, x1, y1):
    p = o.to_screen(range(n))
    inside = (p[:, 0] >= min(x0, x1)) & (p[:, 0] <= max(x0, x1)) & (p[:, 1] >= min(y0, y1)) & (p[:, 1] <= max(y0, y1))
    return set(np.flatnonzero(inside).tolist())


def check_download(records, expected, lattice):
    assert records, "the CSV has no rows"
    keys = list(records[0])
    row_key = next(k for k in keys if "row" in k.lower())
    id_key = next(k for k in keys if "id" in k.lower())
    label_key = next(k for k in keys if "label" in k.lower())
    rows = [int(r[row_key]) for r in records]
    assert len(rows) == len(set(rows))
    assert set(rows) == expected
    for r in records:
        i = int(r[row_key])
        assert r[id_key] == lattice["ids"][i] and r[label_key] == lattice["labels"][i]


def test_box_selection_downloads_exactly_one_cluster(opened, lattice):
    o, L = opened, lattice
    small = np.flatnonzero(L["labels"] == "small")
    p = o.to_screen(small)
    half = lattice_step(o, L) / 2
    x0, y0 = p.min(axis=0) - half
    x1, y1 = p.max(axis=0) + half
    expected = rows_in_box(o, L["n"], x0, y0, x1, y1)
    assert expected == set(small.tolist())  # the box holds the cluster and nothing else
    check_download(select_box_and_download(o, x0, y1, x1, y0), expected, L)


def test_box_selection_through_a_cluster_downloads_the_rows_inside(opened, lattice):
    # A box from outside the big lattice to the gap after its column 11 and row 9 (from the
    # bottom-left): 12 x 10 points, a corner that a flipped axis would get wrong.
    o, L = opened, lattice
    big = L["labels"] == "big"
    corner = np.flatnonzero(big & (L["cells"][:, 0] == 11) & (L["cells"][:, 1] == 9))[0]
    next_ = np.flatnonzero(big & (L["cells"][:, 0] == 12) & (L["cells"][:, 1] == 10))[0]
    first = np.flatnonzero(big & (L["cells"][:, 0] == 0) & (L["cells"][:, 1] == 0))[0]
    (cx, cy), (nx, ny), (fx, fy) = o.to_screen([corner, next_, first])
    half = lattice_step(o, L) / 2
    x0, y0 = fx - half, fy + half  # outside the first point, bottom-left
    x1, y1 = (cx + nx) / 2, (cy + ny) / 2  # the gap after the corner point
    expected = rows_in_box(o, L["n"], x0, y0, x1, y1)
    inside = big & (L["cells"][:, 0] <= 11) & (L["cells"][:, 1] <= 9)
    assert expected == set(np.flatnonzero(inside).tolist()) and len(expected) == 120
    check_download(select_box_and_download(o, x0, y0, x1, y1), expected, L)


def test_lasso_selection_downloads_the_rows_inside(opened, lattice):
    o, L = opened, lattice
    small = np.flatnonzero(L["labels"] == "small")
    p = o.to_screen(small)
    half = lattice_step(o, L) / 2
    (x0, y0), (x1, y1) = p.min(axis=0) - half, p.max(axis=0) + half
    o.page.click("#mode-lasso")
    o.page.mouse.move(x0, y0)
    o.page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)]:
        o.page.mouse.move(x, y, steps=6)
    o.page.mouse.up()
    o.settle()
    with o.page.expect_download() as info:
        o.page.click("#download")
    records = list(csv.DictReader(io.StringIO(pathlib.Path(info.value.path()).read_text(encoding="utf-8"))))
    check_download(records, set(small.tolist()), L)


def test_search_finds_rows_by_id_and_label(opened):
    o = opened
    count = o.page.locator("#search-count")
    o.page.fill("#search", "pt0042")
    expect(count).to_have_text("1 row")
    o.page.fill("#search", "small")
    expect(count).to_have_text("100 rows")
    o.page.fill("#search", "no such thing")
    expect(count).to_have_text("no match")


def test_colour_by_a_numeric_column(opened):
    o = opened
    o.page.select_option("#color-by", value="column:0")  # score
    o.settle()
    assert o.js("() => tsneView.colors") == {}
    img, _ = o.pixels()
    background = img[0, 0]
    coloured = np.abs(img - background).sum(axis=2) > 60
    assert coloured.sum() >= 3 * 1000  # still drawn
    # A continuous colour map: many distinct colours, not three.
    assert len(np.unique(img[coloured].astype(int), axis=0)) > 50


# (7) ---------------------------------------------------------------------------------------
def test_frame_slider_replays_the_snapshots(browser, lattice, tmp_path):
    L = lattice
    Y = L["Y"]
    # The first snapshot mirrors the map left to right: the big lattice starts on the right.
    mirrored = Y.copy()
    mirrored[:, 0] = Y[:, 0].max() + Y[:, 0].min() - Y[:, 0]
    path = tmp_path / "frames.html"
    tsne_rs.view(Y, labels=L["labels"], frames=[(0, mirrored), (100, (Y + mirrored) / 2)], path=path)
    o = Opened(browser, path)
    try:
        assert o.page.locator("#play").count() == 1

        def big_centre():
            img, _ = o.pixels()
            label, names = classify(img, o.js("() => tsneView.colors"))
            ys, xs = np.nonzero(label == names.index("big"))
            return xs.mean() / img.shape[1]

        final = big_centre()
        assert final < 0.5
        o.page.locator("#frame").focus()
        o.page.keyboard.press("Home")
        o.settle()
        assert big_centre() > 0.5, "the first snapshot is not drawn"
        o.page.keyboard.press("End")
        o.settle()
        assert big_centre() == pytest.approx(final, abs=0.01)
        assert o.errors == []
    finally:
        o.close()


# The notebook display -------------------------------------------------------------------------
def test_notebook_frame_runs_sandboxed(browser, lattice, tmp_path):
    L = lattice
    page = tsne_rs.view(L["Y"], labels=L["labels"], meta=L["meta"])
    path = tmp_path / "notebook.html"
    path.write_text(f"<!DOCTYPE html><html><body><p>cell output</p>{page._repr_html_()}</body></html>", encoding="utf-8")
    o_context = browser.new_context(viewport=VIEWPORT)
    try:
        p = o_context.new_page()
        errors = []
        p.on("console", lambda m: m.type == "error" and errors.append(m.text))
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.goto(path.resolve().as_uri())
        frame = p.frame_locator("iframe")
        frame.locator("#map").wait_for()
        inner = p.frames[1]
        inner.wait_for_function("() => window.tsneView && window.tsneView.ready")
        inner.evaluate("() => window.tsneView.ready.then(() => true)")
        assert inner.evaluate("() => tsneView.n") == L["n"]
        box = p.locator("iframe").bounding_box()
        assert box["width"] >= 0.9 * VIEWPORT["width"] - 40 and box["height"] >= 400
        assert errors == []
    finally:
        o_context.close()
