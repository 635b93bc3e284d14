"""The map page at a million points, measured in headless Chromium (WebGL on SwiftShader).

A synthetic map (a Gaussian mixture of 20 unequal classes with one numeric metadata column)
is written with tsne_rs.view; the script reports the file's size, the time to the first drawn
frame and the frame times of a pan (a drag of 30 mouse moves), and prints a Markdown table.

Usage: python viewer.py [N] [--repeats R] [--keep PATH] [--renderer auto|webgl|canvas2d]
Needs Playwright for Python (pip install playwright) and /usr/bin/chromium (Debian's package;
never `playwright install`).
"""

import argparse
import pathlib
import statistics
import tempfile
import time

import numpy as np

import tsne_rs

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
VIEWPORT = {"width": 1280, "height": 800}
PAN_STEPS = 30


def mixture(n, classes=20, seed=0):
    """n points from `classes` Gaussians of unequal weights and spreads, labels and a value."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-60, 60, size=(classes, 2))
    weights = rng.uniform(0.2, 1.0, size=classes)
    label = rng.choice(classes, size=n, p=weights / weights.sum())
    spread = rng.uniform(2.0, 6.0, size=classes)
    Y = centres[label] + rng.normal(size=(n, 2)) * spread[label, None]
    value = np.linalg.norm(Y - centres[label], axis=1) / spread[label]
    return Y, np.array([f"class {c:02d}" for c in range(classes)])[label], value


def frame_wait(page):
    """Two animation frames (the draw a moved pointer asked for has run), then lastFrameMs."""
    return page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(tsneView.lastFrameMs))))"
    )


def measure(browser, url, renderer):
    """One load and one pan in a fresh page."""
    page = browser.new_page(viewport=VIEWPORT)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    start = time.perf_counter()
    page.goto(url + ("" if renderer == "auto" else f"#renderer={renderer}"))
    page.wait_for_function("() => window.tsneView && window.tsneView.ready")
    page.evaluate("() => tsneView.ready.then(() => true)")
    ready_wall = (time.perf_counter() - start) * 1000
    out = page.evaluate(
        """() => ({first: tsneView.firstFrameMs, renderer: tsneView.renderer, n: tsneView.n,
                   heap: performance.memory ? performance.memory.usedJSHeapSize : null})"""
    )
    out["ready_wall"] = ready_wall
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # A pan of 30 moves, each followed by its frame: the draw time and the wall time of each.
    page.mouse.move(x, y)
    page.mouse.down()
    draws, steps = [], []
    for k in range(1, PAN_STEPS + 1):
        t = time.perf_counter()
        page.mouse.move(x + 8 * k, y + 3 * k)
        draws.append(frame_wait(page))
        steps.append((time.perf_counter() - t) * 1000)
    page.mouse.up()
    # A continuous drag back (30 moves sent as fast as the page takes them): the intervals
    # between animation frames meanwhile.
    page.evaluate(
        """() => { window.__raf = []; window.__rafOn = true;
                   const loop = (t) => { if (!window.__rafOn) return; __raf.push(t); requestAnimationFrame(loop); };
                   requestAnimationFrame(loop); }"""
    )
    page.mouse.down()
    t = time.perf_counter()
    page.mouse.move(x, y, steps=PAN_STEPS)
    frame_wait(page)
    out["drag_wall"] = (time.perf_counter() - t) * 1000
    page.mouse.up()
    raf = page.evaluate("() => { window.__rafOn = false; return __raf; }")
    out["draws"], out["steps"], out["raf"] = draws, steps, list(np.diff(raf))
    # A hover: the pointer's move onto row 0 to its tooltip shown.
    hx, hy = page.evaluate("() => tsneView.toScreen(0)")
    t = time.perf_counter()
    page.mouse.move(hx, hy)
    try:
        page.locator("#tooltip").wait_for(state="visible", timeout=5000)
        out["hover"] = (time.perf_counter() - t) * 1000
    except Exception:
        out["hover"] = None  # row 0 is out of view
    out["errors"] = errors
    page.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="page loads measured (default 3)")
    parser.add_argument("--keep", type=pathlib.Path, help="write the page here and keep it")
    parser.add_argument(
        "--renderer",
        choices=["auto", "webgl", "canvas2d"],
        default="auto",
        help="the page's own choice (auto: canvas 2D on a software rasteriser above 100,000 points) or a forced one",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    Y, labels, value = mixture(args.n)
    folder = tempfile.TemporaryDirectory()
    path = args.keep or pathlib.Path(folder.name) / "map.html"
    t = time.perf_counter()
    tsne_rs.view(Y, labels=labels, meta={"value": value}, title=f"{args.n:,} points", path=path)
    write_s = time.perf_counter() - t
    size = path.stat().st_size

    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        version = browser.version
        for _ in range(args.repeats):
            runs.append(measure(browser, path.resolve().as_uri(), args.renderer))
        browser.close()

    med = statistics.median
    draws = [d for r in runs for d in r["draws"]]
    steps = [s for r in runs for s in r["steps"]]
    raf = [d for r in runs for d in r["raf"]]
    hovers = [r["hover"] for r in runs if r["hover"] is not None]
    rows = [
        ("points", f"{args.n:,} (20 classes, 1 numeric column)"),
        ("browser", f"Chromium {version}, headless, SwiftShader; renderer {runs[0]['renderer']} ({args.renderer})"),
        ("page written by tsne_rs.view", f"{write_s:.2f} s"),
        ("file size", f"{size / 1e6:.1f} MB ({size / args.n:.2f} bytes per point)"),
        ("first frame (`firstFrameMs`)", " / ".join(f"{r['first']:.0f}" for r in runs) + " ms"),
        ("`page.goto` to `ready` (wall)", " / ".join(f"{r['ready_wall']:.0f}" for r in runs) + " ms"),
        ("pan: draw time (`lastFrameMs`), median / max", f"{med(draws):.1f} / {max(draws):.1f} ms"),
        ("pan: mouse move to its frame drawn (wall), median / max", f"{med(steps):.1f} / {max(steps):.1f} ms"),
        ("continuous drag of 30 moves (wall)", " / ".join(f"{r['drag_wall']:.0f}" for r in runs) + " ms"),
        ("continuous drag: rAF-to-rAF interval, median / p90 / max", f"{med(raf):.1f} / {np.percentile(raf, 90):.1f} / {max(raf):.1f} ms"),
        ("hover: move to tooltip shown (wall), median", f"{med(hovers):.0f} ms" if hovers else "row 0 out of view"),
        ("JS heap after load", f"{runs[0]['heap'] / 1e6:.0f} MB" if runs[0]["heap"] else "n/a"),
    ]
    print(f"{args.repeats} loads, {PAN_STEPS} pan steps each; times of each load separated by /\n")
    print("| quantity | measured |\n|---|---|")
    for name, v in rows:
        print(f"| {name} | {v} |")
    errors = [e for r in runs for e in r["errors"]]
    if errors:
        print("\nconsole errors:", *errors, sep="\n  ")


if __name__ == "__main__":
    main()
