"""``tsne_rs.scanpy.tsne(adata)``: a drop-in for scanpy's ``sc.tl.tsne`` (scanpy 1.11).

Same signature, representation choice (``X_pca``, ``.X`` for at most ``N_PCS`` variables, or
``obsm[use_rep]``; with neither, scanpy's warning and its own ``sc.pp.pca``), errors and
outputs (``obsm["X_tsne"]`` float32, ``uns["tsne"]["params"]`` with scanpy's keys). The
t-SNE is ``tsne_rs.TSNE`` with the arguments scanpy gives ``sklearn.manifold.TSNE``
(``learning_rate=1000`` in scikit-learn's units, ``init="pca"``, Barnes-Hut, 1000
iterations), so sparse ``.X`` is not densified.

Additions, keyword-only: ``use_neighbors=True`` reuses the kNN graph of ``sc.pp.neighbors``
(``adata.obsp["distances"]``, or that of ``neighbors_key``) instead of a new neighbour search;
``max_iter`` (1000, scikit-learn's default that scanpy leaves in place).
"""

import functools
import inspect
import sys
import warnings

import numpy as np

from ._common import knn_from_sparse

# sc.tl.tsne's parameters after ``n_pcs`` that may still be given by position (with a
# FutureWarning), as scanpy's ``old_positionals``.
_OLD_POSITIONALS = (
    "use_rep",
    "perplexity",
    "early_exaggeration",
    "learning_rate",
    "random_state",
    "use_fast_tsne",
    "n_jobs",
    "copy",
)


def _legacy_positionals(fn):
    """scanpy's ``old_positionals`` (``legacy_api_wrap``): the listed keyword-only parameters
    may be passed by position, with scanpy's FutureWarning."""
    n_positional = 2  # adata, n_pcs

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if len(args) <= n_positional:
            return fn(*args, **kwargs)
        head, rest = args[:n_positional], args[n_positional:]
        if len(rest) > len(_OLD_POSITIONALS):
            raise TypeError(
                f"{fn.__name__}() takes from 1 to {n_positional + len(_OLD_POSITIONALS)} parameters, "
                f"but {len(args)} were given."
            )
        warnings.warn(
            f"The specified parameters {_OLD_POSITIONALS[: len(rest)]!r} are no longer positional. "
            f"Please specify them like `{_OLD_POSITIONALS[0]}={rest[0]!r}`",
            FutureWarning,
            stacklevel=2,
        )
        return fn(*head, **{**kwargs, **dict(zip(_OLD_POSITIONALS, rest))})

    call.__signature__ = inspect.signature(fn)
    return call


def _scanpy_settings():
    """scanpy's ``settings`` when scanpy has been imported (its defaults otherwise: N_PCS 50,
    n_jobs 1, verbosity 1; scanpy is not imported just to read them)."""
    sc = sys.modules.get("scanpy")
    return getattr(sc, "settings", None)


def _scanpy():
    """The scanpy module, imported if installed, else None."""
    try:
        import scanpy
    except ImportError:
        return None
    return scanpy


def _log(message, **kwargs):
    """A line in scanpy's log (shown at ``sc.settings.verbosity >= 3``), when scanpy is there."""
    sc = sys.modules.get("scanpy")
    if sc is None:
        return None
    return sc.logging.info(message, **kwargs)


def _n_pcs_default(settings):
    return settings.N_PCS if settings is not None else 50


def _is_backed(x):
    """scanpy's ``is_backed_type``: an on-disk (h5py or anndata sparse dataset) matrix."""
    try:
        import h5py

        if isinstance(x, (h5py.File, h5py.Dataset)):
            return True
    except ImportError:
        pass
    try:
        from anndata._core.sparse_dataset import BaseCompressedSparseDataset

        return isinstance(x, BaseCompressedSparseDataset)
    except ImportError:
        return False


def _get_pca_or_small_x(adata, n_pcs, settings):
    """scanpy's ``_get_pca_or_small_x``; returns ``(x, engine_pca)`` where ``engine_pca`` is a
    PCA dimension for the engine when scanpy is not there to run ``sc.pp.pca``."""
    n_max = _n_pcs_default(settings)
    if adata.n_vars <= n_max:
        _log("    using data matrix X directly")
        return adata.X, None
    if "X_pca" in adata.obsm:
        if n_pcs is not None and n_pcs > adata.obsm["X_pca"].shape[1]:
            raise ValueError("`X_pca` does not have enough PCs. Rerun `sc.pp.pca` with adjusted `n_comps`.")
        x = adata.obsm["X_pca"][:, :n_pcs]
        _log(f"    using 'X_pca' with n_pcs = {x.shape[1]}")
        return x, None
    warnings.warn(
        f"You’re trying to run this on {adata.n_vars} dimensions of `.X`, "
        "if you really want this, set `use_rep='X'`.\n         "
        "Falling back to preprocessing with `sc.pp.pca` and default params.",
        stacklevel=5,  # the caller of tsne
    )
    n_pcs_pca = n_pcs if n_pcs is not None else n_max
    sc = _scanpy()
    if sc is not None:
        sc.pp.pca(adata, n_comps=n_pcs_pca)  # scanpy's own fallback, written back as scanpy does
        return adata.obsm["X_pca"], None
    return adata.X, n_pcs_pca  # without scanpy: the engine's own PCA of .X


def _choose_representation(adata, use_rep, n_pcs, settings):
    """scanpy's ``_choose_representation``: ``(x, engine_pca)``."""
    if use_rep is None and n_pcs == 0:  # backwards compat for specifying `.X`
        use_rep = "X"
    if use_rep is None:
        return _get_pca_or_small_x(adata, n_pcs, settings)
    if use_rep in adata.obsm and n_pcs is not None:
        if n_pcs > adata.obsm[use_rep].shape[1]:
            raise ValueError(
                f"{use_rep} does not have enough Dimensions. Provide a "
                "Representation with equal or more dimensions than"
                "`n_pcs` or lower `n_pcs` "
            )
        return adata.obsm[use_rep][:, :n_pcs], None
    if use_rep in adata.obsm:
        return adata.obsm[use_rep], None
    if use_rep == "X":
        return adata.X, None
    raise ValueError(f"Did not find {use_rep} in `.obsm.keys()`. You need to compute it first.")


@_legacy_positionals
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
):
    """t-SNE of ``adata`` with scanpy's parameters, defaults and outputs (see ``sc.tl.tsne``).

    Writes ``adata.obsm[key_added or "X_tsne"]`` (float32, ``n_obs x 2``) and
    ``adata.uns[key_added or "tsne"] = {"params": {...}}``; returns the AnnData with
    ``copy=True``, else None. ``learning_rate`` is in scikit-learn's units, as scanpy passes
    it there. ``use_fast_tsne`` is accepted (with scanpy's FutureWarning) and changes nothing.

    ``use_neighbors=True`` (an addition) embeds the kNN graph that ``sc.pp.neighbors`` left in
    ``adata.obsp[adata.uns[neighbors_key]["distances_key"]]`` (default ``"distances"``); if it
    has fewer neighbours per point than the perplexity needs, the perplexity is lowered to a
    third of them, with a warning.
    """
    from ._sklearn import TSNE

    settings = _scanpy_settings()
    start = _log("computing tSNE")
    adata = adata.copy() if copy else adata
    n_jobs = (settings.n_jobs if settings is not None else 1) if n_jobs is None else n_jobs
    if use_fast_tsne:
        warnings.warn(
            "Argument `use_fast_tsne` is deprecated, and support for MulticoreTSNE "
            "will be dropped in a future version of scanpy.",
            FutureWarning,
            stacklevel=3,
        )
    verbose = settings is not None and settings.verbosity > 3
    if use_neighbors:
        x_tsne = _tsne_of_graph(adata, neighbors_key, perplexity, early_exaggeration, learning_rate,
                                random_state, n_jobs, max_iter, verbose)
    else:
        x, engine_pca = _choose_representation(adata, use_rep, n_pcs, settings)
        if _is_backed(x):
            raise NotImplementedError(f"tsne is not implemented for matrices of type {type(x)}")
        estimator = TSNE(
            perplexity=perplexity,
            random_state=random_state,
            verbose=verbose,
            early_exaggeration=early_exaggeration,
            learning_rate=learning_rate,
            n_jobs=n_jobs,
            metric=metric,
            max_iter=max_iter,
        )
        if engine_pca is not None:
            x = _without_scanpy_pca(estimator, x, engine_pca)
        _log("    using tsne_rs.TSNE")
        x_tsne = estimator.fit_transform(x)
    params = dict(
        perplexity=perplexity,
        early_exaggeration=early_exaggeration,
        learning_rate=learning_rate,
        n_jobs=n_jobs,
        metric=metric,
        use_rep=use_rep,
    )
    if use_neighbors:
        params["use_neighbors"] = True
        if neighbors_key is not None:
            params["neighbors_key"] = neighbors_key
    key_uns, key_obsm = ("tsne", "X_tsne") if key_added is None else [key_added] * 2
    adata.obsm[key_obsm] = x_tsne
    adata.uns[key_uns] = dict(params={k: v for k, v in params.items() if v is not None})
    if start is not None:
        _log(
            "    finished",
            time=start,
            deep=(
                f"added\n"
                f"    {key_obsm!r}, tSNE coordinates (adata.obsm)\n"
                f"    {key_uns!r}, tSNE parameters (adata.uns)"
            ),
        )
    return adata if copy else None


def _without_scanpy_pca(estimator, x, n_comps):
    """Without scanpy there is no ``sc.pp.pca`` to fall back on: the engine projects dense
    ``.X`` on its leading ``n_comps`` principal components before the neighbour search (and
    starts from the PCA of that); sparse ``.X`` is projected by scikit-learn's PCA, which
    centres it implicitly as ``sc.pp.pca`` does."""
    import scipy.sparse as sp

    if sp.issparse(x):
        from sklearn.decomposition import PCA

        return PCA(n_components=n_comps, random_state=0).fit_transform(x).astype(np.float32)
    estimator._engine_pca = int(n_comps)
    return x


def _tsne_of_graph(adata, neighbors_key, perplexity, early_exaggeration, learning_rate, random_state,
                   n_jobs, max_iter, verbose):
    """The ``use_neighbors=True`` addition: t-SNE of the graph of ``sc.pp.neighbors``."""
    from . import _tsne_rs
    from ._common import seed_of
    from ._sklearn import _sklearn_schedule

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
            stacklevel=3,
        )
        perplexity = lowered
    # scikit-learn's schedule, as for the rest of tl.tsne (its TSNE's defaults for the checks).
    model, _, _ = _sklearn_schedule(
        lambda **run: _tsne_rs.fit(
            indices,
            kind="graph",
            knn_distances=distances,
            perplexity=float(perplexity),
            lenient=True,
            init="spectral",
            seed=seed_of(random_state),
            n_jobs=n_jobs,
            **run,
        ),
        max_iter=int(max_iter),
        early_exaggeration=float(early_exaggeration),
        learning_rate=4.0 * float(learning_rate),
        min_grad_norm=1e-7,
        n_iter_without_progress=300,
        verbose=int(verbose),
    )
    return model.positions().astype(np.float32)
