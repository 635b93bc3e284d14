"""Conversion helpers shared by the scikit-learn, openTSNE and scanpy layers."""

import sys

import numpy as np


def as_float_array(X, name="X"):
    """A 2-D float32/float64 array (C or F order kept); other dtypes become float64.

    Raises ``ValueError`` for wrong shapes and non-finite values, naming the first bad entry.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name}: sparse input is not supported as points; pass a dense array")
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        if X.dtype == object or not np.issubdtype(X.dtype, np.number):
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name}: cannot convert to numbers: {e}") from None
        else:
            X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"{name} contains NaN or infinity: {X[r, c]} at row {r}, column {c}")
    return X


def seed_of(random_state):
    """A 64-bit seed from scikit-learn's ``random_state`` (None, an int or a RandomState)."""
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise ValueError(f"random_state must be None, an int or a RandomState, got {random_state!r}")


class Progress:
    """Prints progress to Python's ``sys.stderr`` every ``every`` iterations."""

    def __init__(self, total, every=50):
        self.total = total
        self.every = every

    def __call__(self, iteration, kl, gradient_norm, positions):
        if iteration % self.every == 0 or iteration == self.total:
            kl_text = f", KL {kl:.4f}" if kl is not None else ""
            print(
                f"[tsne_rs] iteration {iteration}/{self.total}{kl_text}, gradient norm {gradient_norm:.3e}",
                file=sys.stderr,
                flush=True,
            )
        return False


def chain(*callbacks):
    """One callback calling each of ``callbacks`` (None skipped); any True stops."""
    active = [c for c in callbacks if c is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def call(iteration, kl, gradient_norm, positions):
        stop = False
        for c in active:
            stop = bool(c(iteration, kl, gradient_norm, positions)) or stop
        return stop

    return call


def knn_from_sparse(G, k=None):
    """Neighbour indices (int64) and distances (float64), both ``n x k``, from a scipy sparse
    kNN distance graph (any format, matrix or array class): each row's ``k`` nearest stored
    entries, nearest first, the diagonal left out. Explicit zeros off the diagonal are kept
    as neighbours at distance 0 (a duplicate point is a neighbour).

    ``k=None`` takes the fewest off-diagonal entries any row has. A row with fewer than ``k``
    entries, a negative or non-finite distance, or a graph that is not square raises
    ``ValueError``.
    """
    import scipy.sparse as sp

    if not sp.issparse(G):
        raise TypeError(f"knn_from_sparse needs a scipy sparse matrix, got {type(G).__name__}")
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"the kNN graph must be square (n x n), got shape {G.shape}")
    C = sp.coo_matrix(G)
    n = C.shape[0]
    off = C.row != C.col
    rows, cols, vals = C.row[off], C.col[off], np.asarray(C.data[off], dtype=np.float64)
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        r = int(rows[np.argmax(bad)])
        raise ValueError(f"the kNN graph has a negative or non-finite distance in row {r}")
    # Row by row, nearest first (ties: lower column first): one lexicographic sort.
    order = np.lexsort((cols, vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=n)
    fewest = int(counts.min()) if n else 0
    if k is None:
        k = fewest
        if k < 1:
            raise ValueError("the kNN graph has a row without neighbours")
    k = int(k)
    if k < 1:
        raise ValueError(f"need at least one neighbour per point, got k={k}")
    if fewest < k:
        r = int(np.argmin(counts))
        raise ValueError(
            f"the kNN graph has {fewest} neighbours in row {r}, fewer than the {k} needed per point"
        )
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    take = (starts[:, None] + np.arange(k)[None, :]).ravel()
    indices = cols[take].astype(np.int64).reshape(n, k)
    distances = vals[take].reshape(n, k)
    return indices, distances
