"""``tsne_rs.scanpy.tsne(adata)``: scanpy's ``sc.tl.tsne`` on the Rust engine.

Writes ``adata.obsm["X_tsne"]`` and ``adata.uns["tsne"]["params"]`` as scanpy does. The input
is ``adata.obsm["X_pca"]`` when present (its first ``n_pcs`` columns), else ``adata.X``, or
``adata.obsm[use_rep]``. With ``use_neighbors=True`` the kNN graph that ``sc.pp.neighbors``
left in ``adata.obsp["distances"]`` is reused instead of a new neighbour search.
"""

import warnings

import numpy as np

from . import _tsne_rs
from ._common import Progress, as_float_array, seed_of
from .opentsne import knn_from_sparse


def _representation(adata, use_rep, n_pcs):
    if use_rep is None:
        use_rep = "X_pca" if "X_pca" in adata.obsm else "X"
    if use_rep == "X":
        X = adata.X
        if hasattr(X, "toarray"):
            X = X.toarray()
    else:
        if use_rep not in adata.obsm:
            raise ValueError(f"adata.obsm has no {use_rep!r}; run sc.pp.pca or give use_rep")
        X = np.asarray(adata.obsm[use_rep])
    if n_pcs is not None:
        X = X[:, :n_pcs]
    return as_float_array(X, f"adata representation {use_rep!r}"), use_rep


def tsne(
    adata,
    n_pcs=None,
    *,
    use_rep=None,
    perplexity=30,
    metric="euclidean",
    early_exaggeration=12,
    learning_rate=1000,
    random_state=0,
    use_fast_tsne=False,
    n_jobs=None,
    key_added=None,
    copy=False,
    use_neighbors=False,
    neighbors_key=None,
    max_iter=1000,
    verbose=False,
):
    """t-SNE of ``adata`` with scanpy's parameters and outputs (see ``sc.tl.tsne``).

    ``learning_rate`` is in scikit-learn's units, as scanpy passes it there (1000 by
    default). ``use_neighbors=True`` reuses the graph of ``sc.pp.neighbors``
    (``adata.obsp[neighbors_key or "distances"]``); if it has fewer neighbours per point
    than the perplexity needs, the perplexity is lowered to a third of them, with a warning.
    """
    adata = adata.copy() if copy else adata
    n = adata.n_obs
    seed = seed_of(random_state)
    kwargs = {}
    if use_neighbors:
        key = "distances"
        if neighbors_key is not None:
            key = adata.uns[neighbors_key]["distances_key"]
        if key not in adata.obsp:
            raise ValueError(f"adata.obsp has no {key!r}; run sc.pp.neighbors first or use use_neighbors=False")
        indices, distances = knn_from_sparse(adata.obsp[key])
        k = indices.shape[1]
        if perplexity >= k:
            lowered = max(k / 3.0, 1.0)
            warnings.warn(
                f"the neighbour graph has {k} neighbours per point, too few for perplexity {perplexity}; "
                f"using perplexity {lowered:.3g}",
                stacklevel=2,
            )
            perplexity = lowered
        data, kind, rep = indices, "graph", key
        kwargs["knn_distances"] = distances
        init = "spectral"
    else:
        data, rep = _representation(adata, use_rep, n_pcs)
        kind, init = "points", "pca"
    model = _tsne_rs.fit(
        data,
        kind=kind,
        perplexity=float(perplexity),
        iterations=int(max_iter),
        early_exaggeration=float(early_exaggeration),
        learning_rate=4.0 * float(learning_rate) if learning_rate != "auto" else None,
        metric=metric,
        init=init,
        seed=seed,
        n_jobs=n_jobs,
        callback=Progress(max_iter) if verbose else None,
        callback_every=50,
        **kwargs,
    )
    key_obsm = key_added or "X_tsne"
    key_uns = key_added or "tsne"
    adata.obsm[key_obsm] = model.positions()
    params = {
        "perplexity": perplexity,
        "early_exaggeration": early_exaggeration,
        "learning_rate": learning_rate,
        "n_jobs": n_jobs,
        "metric": metric,
        "use_rep": rep,
    }
    if n_pcs is not None:
        params["n_pcs"] = n_pcs
    adata.uns[key_uns] = {"params": {k: v for k, v in params.items() if v is not None}}
    if use_fast_tsne:
        warnings.warn("use_fast_tsne has no effect: tsne_rs is the fast implementation", stacklevel=2)
    return adata if copy else None
