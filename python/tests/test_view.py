"""tsne_rs.view without a browser: the page holds what was given, in the types the page
expects, and wrong input fails with a clear error. The page is read back with a decoder of the
data format written here from its description (crates/viewer/src/encode.rs)."""

import base64
import html
import json
import re
import struct
import zlib

import numpy as np
import pytest

import tsne_rs
from tsne_rs import _tsne_rs

pd = pytest.importorskip("pandas")

DATA = re.compile(r'<script type="application/octet-stream" id="tsne-data">([^<]*)<')
TYPES = {"f32": "<f4", "u8": "u1", "u16": "<u2", "u32": "<u4"}


def decode(page):
    """The page's manifest with every array descriptor replaced by its numpy array."""
    blob = zlib.decompress(base64.b64decode(DATA.search(page).group(1).strip()), wbits=-15)
    assert blob[:4] == b"TSNV"
    (length,) = struct.unpack("<I", blob[4:8])
    manifest = json.loads(blob[8 : 8 + length])
    data = blob[(8 + length + 3) // 4 * 4 :]

    def arrays(v):
        if isinstance(v, dict) and set(v) == {"offset", "length", "type"}:
            dtype = np.dtype(TYPES[v["type"]])
            planes = np.frombuffer(data, np.uint8, dtype.itemsize * v["length"], v["offset"])
            # Byte-shuffled: all first bytes, then all second bytes, ...
            return planes.reshape(dtype.itemsize, v["length"]).T.copy().view(dtype).ravel()
        if isinstance(v, dict):
            return {k: arrays(x) for k, x in v.items()}
        if isinstance(v, list):
            return [arrays(x) for x in v]
        return v

    return arrays(manifest)


def classes(c):
    """A dictionary-encoded column as one string per point."""
    return [c["classes"][k] for k in c["codes"]]


def column(m, name):
    (c,) = [c for c in m["columns"] if c["name"] == name]
    return c["kind"], (c["values"] if c["kind"] == "numeric" else classes(c))


@pytest.fixture
def Y():
    return np.random.default_rng(0).normal(size=(6, 2))


def test_page_is_self_contained_and_holds_the_positions(Y):
    page = tsne_rs.view(Y, title="<my map>")
    assert isinstance(page, _tsne_rs.MapPage) and len(page) == 6
    text = page.html
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>&lt;my map&gt;</title>" in text
    # Nothing the browser would fetch: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    assert "@import" not in text
    m = decode(text)
    assert m["n"] == 6 and m["title"] == "<my map>" and m["labels"] is None and m["ids"] is None
    np.testing.assert_array_equal(m["positions"], Y.astype(np.float32).ravel())


@pytest.mark.parametrize(
    "make",
    [
        lambda Y: Y.tolist(),
        lambda Y: Y.astype(np.float32),
        lambda Y: np.asfortranarray(Y),
        lambda Y: Y.T.copy().T[:, :],  # a strided view
        lambda Y: pd.DataFrame(Y, columns=["a", "b"]),
        lambda Y: (Y * 100).astype(np.int64),
    ],
)
def test_positions_of_any_array_like(Y, make):
    expected = np.asarray(make(Y), dtype=np.float64).astype(np.float32).ravel()
    np.testing.assert_array_equal(decode(tsne_rs.view(make(Y)).html)["positions"], expected)


@pytest.mark.parametrize(
    "labels, expected",
    [
        (np.array([0, 1, 2, 0, 1, 2]), ["0", "1", "2", "0", "1", "2"]),
        (np.array([0.0, 1.0, 2.0, 0.0, 1.0, np.nan]), ["0", "1", "2", "0", "1", ""]),
        (np.array([0.5, 1.0, 2.0, 0.0, 1.0, 2.0]), ["0.5", "1.0", "2.0", "0.0", "1.0", "2.0"]),
        (["a", "b", "c", "a", "b", "c"], ["a", "b", "c", "a", "b", "c"]),
        (np.array([True, False, True, True, False, False]), ["True", "False", "True", "True", "False", "False"]),
        (pd.Categorical(["x", "y", "x", "y", "x", None]), ["x", "y", "x", "y", "x", ""]),
        (pd.Series(["s", None, "s", "t", "t", "t"]), ["s", "", "s", "t", "t", "t"]),
        (np.array([b"p", b"q", b"p", b"q", b"p", b"q"]), ["p", "q", "p", "q", "p", "q"]),
        ([1, "mixed", 2.5, None, 3, "x"], ["1", "mixed", "2.5", "", "3", "x"]),
    ],
)
def test_labels_of_any_dtype_become_text(Y, labels, expected):
    assert classes(decode(tsne_rs.view(Y, labels=labels).html)["labels"]) == expected


def test_meta_from_a_dataframe(Y):
    meta = pd.DataFrame(
        {
            "count": np.arange(6),
            "score": [0.5, np.nan, 1.5, 2.0, 2.5, 3.0],
            "nullable": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "cell_type": ["T", "B", "T", "NK", "B", "T"],
            "flag": [True, False, True, False, True, False],
            "batch": pd.Categorical(["b1", "b2", "b1", "b2", "b1", "b2"]),
        },
        index=[f"cell{i}" for i in range(6)],
    )
    m = decode(tsne_rs.view(Y, meta=meta).html)
    assert [c["name"] for c in m["columns"]] == list(meta.columns)
    kind, values = column(m, "count")
    assert kind == "numeric" and values.tolist() == list(range(6))
    kind, values = column(m, "score")
    assert kind == "numeric" and np.isnan(values[1]) and values[5] == 3.0
    kind, values = column(m, "nullable")
    assert kind == "numeric" and np.isnan(values[1]) and values[2] == 3.0
    assert column(m, "cell_type") == ("categorical", ["T", "B", "T", "NK", "B", "T"])
    assert column(m, "flag") == ("categorical", ["True", "False"] * 3)
    assert column(m, "batch") == ("categorical", ["b1", "b2"] * 3)
    # The index gives the ids.
    assert m["ids"] == [f"cell{i}" for i in range(6)]


def test_meta_from_a_dict(Y):
    meta = {"depth": [1, 2, 3, 4, 5, 6], "group": np.array(["a", "b"] * 3), 7: [0.1, None, 0.3, 0.4, 0.5, 0.6]}
    m = decode(tsne_rs.view(Y, meta=meta).html)
    assert column(m, "depth")[0] == "numeric" and column(m, "depth")[1].tolist() == [1, 2, 3, 4, 5, 6]
    assert column(m, "group") == ("categorical", ["a", "b"] * 3)
    kind, values = column(m, "7")
    assert kind == "numeric" and np.isnan(values[1]) and values[0] == np.float32(0.1)
    assert m["ids"] is None


def test_ids_from_the_index_unless_default_or_given(Y):
    default = pd.DataFrame({"a": range(6)})
    assert decode(tsne_rs.view(Y, meta=default).html)["ids"] is None
    indexed = pd.DataFrame({"a": range(6)}, index=pd.Index([10, 11, 12, 13, 14, 15], name="cell"))
    assert decode(tsne_rs.view(Y, meta=indexed).html)["ids"] == ["10", "11", "12", "13", "14", "15"]
    given = list("uvwxyz")
    assert decode(tsne_rs.view(Y, meta=indexed, ids=given).html)["ids"] == given
    assert decode(tsne_rs.view(Y, ids=np.arange(6) * 2).html)["ids"] == ["0", "2", "4", "6", "8", "10"]


def test_frames_are_kept_in_order(Y):
    frames = [(0, Y * 0.1), (50, Y * 0.5)]
    m = decode(tsne_rs.view(Y, frames=frames).html)
    assert [f["iteration"] for f in m["frames"]] == [0, 50]
    np.testing.assert_array_equal(m["frames"][1]["positions"], (Y * 0.5).astype(np.float32).ravel())
    m = decode(tsne_rs.view(Y, frames={10: Y, 20: Y}).html)
    assert [f["iteration"] for f in m["frames"]] == [10, 20]


def test_path_and_save_write_the_page(Y, tmp_path):
    page = tsne_rs.view(Y, labels=list("abcabc"), path=tmp_path / "a.html")
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == page.html
    page.save(str(tmp_path / "b.html"))
    assert (tmp_path / "b.html").read_text(encoding="utf-8") == page.html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]
    with pytest.raises(OSError, match="no-such-folder"):
        page.save(tmp_path / "no-such-folder" / "c.html")


def frame_page(frame):
    """The page inside a notebook frame, checked to be a sandboxed iframe with scripts."""
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" ([^>]*)></iframe>', frame, re.S)
    assert match, frame[:200]
    attributes = match.group(2)
    assert 'sandbox="allow-scripts allow-downloads"' in attributes
    assert "height:" in attributes and "width: 100%" in attributes
    return html.unescape(match.group(1))


def test_notebook_display_is_the_page_in_a_sandboxed_frame(Y):
    page = tsne_rs.view(Y, labels=["a&b", 'q"uote', "<x>", "a&b", "y", "z"], title="t & \"q\"")
    assert frame_page(page._repr_html_()) == page.html


@pytest.fixture(scope="module")
def model():
    X = np.random.default_rng(1).normal(size=(60, 5))
    return _tsne_rs.fit(X, n_components=2, perplexity=10.0, seed=0, iterations=100, exaggeration_iterations=50)


def test_model_repr_html_is_its_map(model):
    page = frame_page(model._repr_html_())
    np.testing.assert_array_equal(decode(page)["positions"], model.positions().astype(np.float32).ravel())
    # view() takes the model itself.
    np.testing.assert_array_equal(decode(tsne_rs.view(model).html)["positions"], decode(page)["positions"])


def test_model_repr_html_is_none_unless_2d():
    X = np.random.default_rng(1).normal(size=(40, 5))
    model = _tsne_rs.fit(X, n_components=3, perplexity=10.0, seed=0, iterations=40, exaggeration_iterations=20)
    assert model._repr_html_() is None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(Y=None), TypeError, "got None"),
        (dict(Y=np.zeros((5, 3))), ValueError, "2-D maps: `Y` has 3 dimensions"),
        (dict(Y=np.zeros(5)), ValueError, r"shape \(n, 2\), got shape \(5,\)"),
        (dict(Y=np.zeros((0, 2))), ValueError, "empty"),
        (dict(Y=[[0, 0], [1, np.nan]]), ValueError, "row 1 of `Y` is not finite"),
        (dict(Y=[["a", "b"]]), ValueError, "cannot convert to numbers"),
        (dict(labels=["a", "b"]), ValueError, "`labels` has 2 entries but `Y` has 6 rows"),
        (dict(labels="abcdef"), TypeError, "not a string"),
        (dict(labels=np.zeros((6, 1))), ValueError, "one-dimensional"),
        (dict(ids=range(5)), ValueError, "`ids` has 5 entries"),
        (dict(meta=[1, 2, 3]), TypeError, "pandas DataFrame or a dict"),
        (dict(meta={"a": [1, 2]}), ValueError, "column `a` has 2 entries"),
        (dict(meta={"a": 5}), TypeError, "meta column `a` must be an array-like"),
        (dict(meta={"a": [1, 2, np.inf, 4, 5, 6]}), ValueError, "column `a` holds inf in row 2"),
        (dict(meta=pd.DataFrame([[1, 2]] * 6, columns=["a", "a"])), ValueError, "`a` was already added"),
        (dict(frames=[(0, np.zeros((5, 2)))]), ValueError, "`frames` entry 0 \\(iteration 0\\) holds 10 values"),
        (dict(frames=[np.zeros((6, 2))]), TypeError, r"frames\[0\] must be an \(iteration, positions\) pair"),
        (dict(frames=[(-1, np.zeros((6, 2)))]), TypeError, "non-negative integer"),
    ],
)
def test_errors_name_the_argument(Y, kwargs, error, message):
    kwargs.setdefault("Y", Y)
    with pytest.raises(error, match=message):
        tsne_rs.view(**kwargs)
