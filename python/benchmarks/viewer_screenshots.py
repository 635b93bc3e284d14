"""The README's screenshots of the map page: the digits, and a 70,000-point map given as an
embedding file (.npy or .csv, n x 2) with its labels, rendered in headless Chromium.

    PYTHONPATH=python python python/benchmarks/viewer_screenshots.py \
        EMBEDDING_70000 LABELS_70000 [OUT_DIR]

The 70,000-point map: `cargo xtask bench --standin ...` writes the stand-in data
(`data/imagelike_70000x50.csv` and its labels); `tsne embed` of it gives the embedding.
OUT_DIR defaults to docs/.
"""

import pathlib
import sys
import tempfile

import numpy as np
from playwright.sync_api import sync_playwright

import tsne_rs
from tsne_rs import _tsne_rs

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARGS = ["--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]


def read_embedding(path):
    path = pathlib.Path(path)
    if path.suffix == ".npy":
        return np.load(path)
    return np.loadtxt(path, delimiter=",", ndmin=2)


def main():
    embedding, labels = sys.argv[1], sys.argv[2]
    out = pathlib.Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "docs"
    X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")
    y = np.loadtxt(ROOT / "data" / "digits_labels.csv", dtype=int)
    with tempfile.TemporaryDirectory() as tmp:
        pages = [
            (_tsne_rs.fit(X, n_components=2, seed=0).positions(), y,
             "digits: 1,797 images of 8x8 pixels", "digits_map.png"),
            (read_embedding(embedding), np.loadtxt(labels, dtype=int),
             "image-like stand-in: 70,000 points in 10 classes", "imagelike_70000_map.png"),
        ]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for Y, classes, title, name in pages:
                page_path = pathlib.Path(tmp) / (name + ".html")
                tsne_rs.view(Y, labels=classes, title=title, path=str(page_path))
                page = browser.new_page(viewport={"width": 1200, "height": 760}, device_scale_factor=1)
                page.goto(page_path.as_uri())
                page.wait_for_function("() => window.tsneView && window.tsneView.ready")
                page.evaluate("() => tsneView.ready.then(() => 1)")
                page.wait_for_timeout(500)
                page.screenshot(path=str(out / name))
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
