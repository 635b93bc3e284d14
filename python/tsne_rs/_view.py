"""``tsne_rs.view``: an interactive map of a 2-D embedding as one self-contained HTML page.

The page, its data format and its checks are the Rust ``tsne-viewer`` crate's; this module only
converts Python types (arrays, pandas objects, dicts, lists) into the extension's arguments.
"""

import numbers
import os
from collections.abc import Mapping

import numpy as np

from . import _tsne_rs

# A missing label or categorical value (None, NaN, pandas.NA, NaT) is shown as this text.
MISSING = ""


def view(Y, labels=None, meta=None, ids=None, title=None, path=None, frames=None):
    """An interactive map of the embedding ``Y`` as one self-contained HTML page.

    The page opens from disk in any browser with no server and no network: pan by dragging,
    zoom with the wheel, hover a point for its row, label and metadata, colour by the labels
    or any metadata column, hide or isolate classes in the legend, search rows by id or label,
    and download the rows of a box or lasso selection as CSV.

    Parameters
    ----------
    Y : array-like of shape (n, 2), or a fitted ``tsne_rs.Model`` (its positions)
    labels : array-like of length n, optional
        One label per point, of any dtype (shown as text, coloured by class).
    meta : pandas.DataFrame or dict of columns, optional
        Per-point metadata: a numeric column (integers, floats; NaN is missing) is coloured
        with a colour map, any other column is categorical. A DataFrame's index gives the ids
        when ``ids`` is not given and the index is not a ``RangeIndex``.
    ids : array-like of length n, optional
        The row identifiers searched by the search box and written to the downloaded CSV.
    title : str, optional
    path : str or path-like, optional
        Writes the page there.
    frames : sequence of (iteration, positions) pairs or dict, optional
        Snapshots of the optimisation, each an (n, 2) array; the page replays them with a
        slider.

    Returns
    -------
    MapPage
        ``.html`` is the page as a string, ``.save(path)`` writes it, and in a notebook it
        displays itself in a sandboxed frame.
    """
    positions = _positions(Y, "Y")
    columns = [] if meta is None else _columns(meta)
    if ids is None and meta is not None:
        ids = _index_ids(meta)
    page = _tsne_rs.view_map(
        positions,
        labels=None if labels is None else _strings(labels, "labels"),
        ids=None if ids is None else _strings(ids, "ids"),
        columns=columns,
        frames=[] if frames is None else _frames(frames),
        title=None if title is None else str(title),
    )
    if path is not None:
        page.save(os.fspath(path))
    return page


def _positions(Y, name):
    if Y is None:
        raise TypeError(f"{name} must be an array-like of shape (n, 2), got None")
    if isinstance(Y, _tsne_rs.Model):
        Y = Y.positions()
    elif hasattr(Y, "embedding_"):  # a fitted scikit-learn-style estimator
        Y = Y.embedding_
    if hasattr(Y, "toarray") and not isinstance(Y, np.ndarray):
        raise TypeError(f"{name}: sparse matrices are not supported; pass a dense array")
    try:
        a = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot convert to numbers: {e}") from None
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, 2), got shape {a.shape}")
    return np.ascontiguousarray(a)


def _is_missing(v):
    if v is None:
        return True
    if isinstance(v, float) and v != v:
        return True
    return type(v).__name__ in ("NAType", "NaTType")


def _text(v):
    if _is_missing(v):
        return MISSING
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


def _strings(values, name):
    """One string per entry of a 1-D array-like of any dtype."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be an array-like with one entry per point, not a string")
    if isinstance(values, dict):
        raise TypeError(f"{name} must be an array-like with one entry per point, not a dict")
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.dtype.kind == "f":
        # Integral floats (labels read as 0.0, 1.0, ...) are shown as integers.
        finite = np.isfinite(a)
        if np.all(a[finite] == np.round(a[finite])) and np.all(np.abs(a[finite]) < 2**53):
            return [str(int(v)) if ok else MISSING for v, ok in zip(a.tolist(), finite.tolist())]
        return [_text(v) for v in a.tolist()]
    if a.dtype.kind == "U":
        return a.tolist()
    if a.dtype.kind in "iub":
        return a.astype(str).tolist()
    return [_text(v) for v in a.tolist()]


def _index_ids(meta):
    """A DataFrame's index, unless it is the default ``RangeIndex``."""
    if not _is_dataframe(meta) or type(meta.index).__name__ == "RangeIndex":
        return None
    return meta.index


def _is_dataframe(meta):
    return hasattr(meta, "columns") and hasattr(meta, "items") and hasattr(meta, "index")


def _columns(meta):
    """``(name, values)`` pairs: a float64 array for a numeric column, else strings."""
    if _is_dataframe(meta) or isinstance(meta, Mapping):
        items = list(meta.items())
    else:
        raise TypeError(f"meta must be a pandas DataFrame or a dict of columns, got {type(meta).__name__}")
    return [(str(name), _column(values, str(name))) for name, values in items]


def _column(values, name):
    what = f"meta column `{name}`"
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        raise TypeError(f"{what} must be an array-like with one entry per point")
    dtype = getattr(values, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if kind in ("i", "u", "f") and hasattr(values, "to_numpy"):
        # A pandas Series, including the nullable Int64/Float64 dtypes (pd.NA -> NaN).
        return np.ascontiguousarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    if a.dtype.kind in "iuf":
        return np.ascontiguousarray(a, dtype=np.float64)
    if a.dtype == object and _all_numbers(a):
        return np.array([np.nan if _is_missing(v) else float(v) for v in a.tolist()], dtype=np.float64)
    return _strings(a, what)


def _all_numbers(a):
    """Whether an object array holds only real numbers (not booleans) and missing values."""
    seen = False
    for v in a.tolist():
        if _is_missing(v):
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return False
        seen = True
    return seen


def _frames(frames):
    pairs = frames.items() if isinstance(frames, dict) else frames
    out = []
    for k, pair in enumerate(pairs):
        try:
            iteration, positions = pair
        except (TypeError, ValueError):
            raise TypeError(f"frames[{k}] must be an (iteration, positions) pair") from None
        if not isinstance(iteration, numbers.Integral) or iteration < 0:
            raise TypeError(f"frames[{k}]: the iteration must be a non-negative integer, got {iteration!r}")
        out.append((int(iteration), _positions(positions, f"frames[{k}] positions")))
    return out
