"""``tsne_rs.TSNE``: a drop-in for ``sklearn.manifold.TSNE`` (scikit-learn 1.9).

Same parameters, defaults, meanings, attributes, result dtypes and errors as scikit-learn's:
the parameters are checked by scikit-learn's own constraints and messages, the affinities use
its neighbour count ``min(n - 1, int(3 * perplexity + 1))`` and squared distances for every
metric, the learning rate is in its units (``auto`` is ``max(n / early_exaggeration / 4, 50)``;
our optimiser steps with the gradient divided by four, so the rate passed on is four times
scikit-learn's), the optimisation is scikit-learn's two phases (250 iterations of early
exaggeration, then the optimiser restarted from no velocity and unit gains, as its second
``_gradient_descent`` call), and early stopping is checked where scikit-learn checks it
(every 50 iterations). ``method="fft"`` (FFT-accelerated interpolation, for large n) is an addition.

Euclidean, cosine and Manhattan distances of dense input are computed in the engine; every
other metric scikit-learn accepts (a name, or a callable), and sparse input, go through
scikit-learn's ``NearestNeighbors`` (``pairwise_distances`` for ``method="exact"``) as in
scikit-learn itself, and the engine gets the kNN graph.
"""

import numbers
import time
import warnings

import numpy as np

from . import _tsne_rs
from ._common import as_float_array, knn_from_sparse, seed_of

try:  # scikit-learn is optional: without it the estimator API is provided here.
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
    from sklearn.manifold import TSNE as _SklearnTSNE
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.validation import check_non_negative, check_random_state

    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        def validate_data(estimator, X, **kwargs):
            return estimator._validate_data(X, **kwargs)

    _Bases = (ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator)
    _CONSTRAINTS = dict(_SklearnTSNE._parameter_constraints)
    _CONSTRAINTS["method"] = [StrOptions({"barnes_hut", "exact", "fft"})]
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    import inspect

    class _Params:
        def get_params(self, deep=True):
            names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
            return {n: getattr(self, n) for n in names}

        def set_params(self, **params):
            valid = self.get_params()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"Invalid parameter {k!r} for estimator {type(self).__name__}")
                setattr(self, k, v)
            return self

    def _fit_context(prefer_skip_nested_validation):
        def decorate(method):
            def wrapper(estimator, *args, **kwargs):
                estimator._check_params_without_sklearn()
                return method(estimator, *args, **kwargs)

            wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
            return wrapper

        return decorate

    def check_random_state(seed):
        if seed is None or isinstance(seed, numbers.Integral):
            return np.random.RandomState(seed)
        return seed

    _Bases = (_Params,)
    _CONSTRAINTS = {}
    validate_data = None
    HAVE_SKLEARN = False

# Iterations of early exaggeration and the interval of the convergence checks, as
# scikit-learn's ``_EXPLORATION_MAX_ITER`` and ``_N_ITER_CHECK``.
_EXPLORATION_ITER = 250
_CHECK_EVERY = 50

# Metrics the engine computes itself, by scikit-learn's (SciPy's) definitions: scikit-learn's
# name -> the engine's. The engine's neighbours and affinities for these are scikit-learn's
# (the same P, up to the order of tied neighbours).
_ENGINE_METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "cosine": "cosine",
    "correlation": "correlation",
    "manhattan": "manhattan",
    "l1": "manhattan",
    "cityblock": "manhattan",
    "chebyshev": "chebyshev",
    "minkowski": "minkowski",
    "canberra": "canberra",
    "braycurtis": "braycurtis",
    "hamming": "hamming",
    "jaccard": "jaccard",
}
# Those the engine also searches on sparse points.
_ENGINE_SPARSE_METRICS = {"euclidean", "cosine"}


def _n_samples(X):
    shape = getattr(X, "shape", None)
    return shape[0] if shape is not None else len(X)


class TSNE(*_Bases):
    """T-distributed Stochastic Neighbor Embedding, computed by the Rust ``tsne`` crate.

    Parameters are scikit-learn's ``TSNE``'s (see its documentation); ``method`` also takes
    ``"fft"``. ``n_jobs=None`` uses every core for the gradient (scikit-learn's gradient does
    too) and one for a neighbour search run by scikit-learn; results are bit-identical for any
    ``n_jobs``.
    """

    _parameter_constraints: dict = _CONSTRAINTS

    def __init__(
        self,
        n_components=2,
        *,
        perplexity=30.0,
        early_exaggeration=12.0,
        learning_rate="auto",
        max_iter=1000,
        n_iter_without_progress=300,
        min_grad_norm=1e-7,
        metric="euclidean",
        metric_params=None,
        init="pca",
        verbose=0,
        random_state=None,
        method="barnes_hut",
        angle=0.5,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.metric_params = metric_params
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ checks

    def _check_params_without_sklearn(self):  # pragma: no cover - only without scikit-learn
        """The parameter domains of scikit-learn's constraints, with plainer messages."""

        def real(name, low, closed_low, high=None):
            v = getattr(self, name)
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and not np.isnan(v)
            ok = ok and (v >= low if closed_low else v > low) and (high is None or v <= high)
            if not ok:
                raise ValueError(f"The '{name}' parameter of TSNE must be a float >{'=' if closed_low else ''} {low}. Got {v!r} instead.")

        def integer(name, low):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
                raise ValueError(f"The '{name}' parameter of TSNE must be an int >= {low}. Got {v!r} instead.")

        integer("n_components", 1)
        real("perplexity", 0, False)
        real("early_exaggeration", 1, True)
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            real("learning_rate", 0, False)
        integer("max_iter", 250)
        integer("n_iter_without_progress", -1)
        real("min_grad_norm", 0, True)
        real("angle", 0, True, 1)
        if not (callable(self.metric) or isinstance(self.metric, str)):
            raise ValueError(f"The 'metric' parameter of TSNE must be a str or a callable. Got {self.metric!r} instead.")
        if not (isinstance(self.init, np.ndarray) or self.init in ("pca", "random")):
            raise ValueError(f"The 'init' parameter of TSNE must be 'pca', 'random' or an array. Got {self.init!r} instead.")
        if self.method not in ("barnes_hut", "exact", "fft"):
            raise ValueError(f"The 'method' parameter of TSNE must be 'barnes_hut', 'exact' or 'fft'. Got {self.method!r} instead.")

    def _check_params_vs_input(self, X):
        n = _n_samples(X)
        if self.perplexity >= n:
            raise ValueError(f"perplexity ({self.perplexity}) must be less than n_samples ({n})")

    def _validate_input(self, X):
        if validate_data is None:  # pragma: no cover - only without scikit-learn
            if self.metric == "precomputed" or hasattr(X, "tocsr"):
                import scipy.sparse as sp

                if sp.issparse(X):
                    return X.tocsr()
            return as_float_array(X)
        if self.method == "exact":
            return validate_data(self, X, accept_sparse=["csr", "csc", "coo"], dtype=[np.float32, np.float64])
        return validate_data(self, X, accept_sparse=["csr"], ensure_min_samples=2, dtype=[np.float32, np.float64])

    def _check_precomputed(self, X, sparse):
        if isinstance(self.init, str) and self.init == "pca":
            raise ValueError('The parameter init="pca" cannot be used with metric="precomputed".')
        if X.shape[0] != X.shape[1]:
            raise ValueError("X should be a square distance matrix")
        message = "TSNE.fit(). With metric='precomputed', X should contain positive distances."
        if HAVE_SKLEARN:
            check_non_negative(X, message)
        elif (X.data if sparse else X).min(initial=0) < 0:  # pragma: no cover
            raise ValueError(f"Negative values in data passed to {message}")
        if self.method == "exact" and sparse:
            raise TypeError(
                'TSNE with method="exact" does not accept sparse precomputed distance matrix. '
                'Use method="barnes_hut" or provide the dense distance matrix.'
            )

    # ------------------------------------------------------------------ inputs

    def _engine_metric(self, X):
        """The engine's settings (``metric``, ``metric_p``) when the engine computes ``metric``
        on X as scikit-learn would, else None (scikit-learn's machinery is used)."""
        import scipy.sparse as sp

        if not isinstance(self.metric, str):
            return None  # a callable
        params = dict(self.metric_params or {})
        if self.metric == "euclidean" and self.method == "exact":
            params = {}  # scikit-learn ignores metric_params here
        metric = _ENGINE_METRICS.get(self.metric)
        if metric is None:
            return None
        settings = {"metric": metric}
        if metric == "minkowski":
            p = params.pop("p", 2)
            if not isinstance(p, numbers.Real) or isinstance(p, bool) or not p >= 1:
                return None  # scikit-learn's own error
            settings["metric_p"] = float(p)
            if "p" in (self.metric_params or {}) and self.method != "exact":
                warnings.warn(
                    "Parameter p is found in metric_params. The corresponding parameter from __init__ is ignored.",
                    SyntaxWarning,
                    stacklevel=5,
                )
            if p == 2:
                settings = {"metric": "euclidean"}
        if params:
            return None  # scikit-learn hands them on: its meaning, or its error
        if sp.issparse(X) and settings["metric"] not in _ENGINE_SPARSE_METRICS:
            return None
        if metric in ("cosine", "correlation") and _has_directionless_rows(X, metric):
            return None  # the engine refuses zero (constant) rows; scikit-learn embeds them
        if metric == "jaccard" and X.dtype != bool:
            from sklearn.exceptions import DataConversionWarning

            warnings.warn(f"Data was converted to boolean for metric {metric}", DataConversionWarning, stacklevel=5)
        return settings

    def _engine_input(self, X, n, k):
        """``(data, settings)`` for ``_tsne_rs.fit``: the input kind and what goes with it."""
        import scipy.sparse as sp

        sparse = sp.issparse(X)
        if self.metric == "precomputed":
            if sparse:
                indices, distances = _precomputed_graph(X, k, self.n_jobs)
                return indices, {"kind": "graph", "knn_distances": distances}
            return X, {"kind": "distances"}
        metric = self._engine_metric(X) if HAVE_SKLEARN else {"metric": self.metric}
        if sparse:
            return _sparse_points_input(X, k, self.method == "exact", metric, self._metric_kwargs())
        if metric is not None:
            return X, {"kind": "points", **metric}
        return _sklearn_metric_input(X, k, self.method == "exact", self._metric_kwargs())

    def _sklearn_affinities(self, X, n, k):
        """scikit-learn's joint P (its neighbours, its binary search), for the engine to embed."""
        import scipy.sparse as sp
        from sklearn.manifold import _t_sne

        metric = self.metric
        kwargs = self._metric_kwargs()
        if self.method == "exact":
            if metric == "precomputed":
                D = np.array(X, dtype=np.float64) ** 2
            else:
                D, squared = _pairwise(X, **kwargs)
                D = D if squared else D**2
            P = sp.csr_matrix(squareform_(_t_sne._joint_probabilities(D, self.perplexity, 0)))
        else:
            if metric == "precomputed" and sp.issparse(X):
                indices, distances = _precomputed_graph(X, k, self.n_jobs)
            else:
                indices, distances = _knn_graph(X, k, **kwargs)
            G = sp.csr_matrix(
                (distances.ravel() ** 2, indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n)
            )
            P = sp.csr_matrix(_t_sne._joint_probabilities_nn(G, self.perplexity, 0))
        P.sum_duplicates()
        P.sort_indices()
        parts = (n, P.indptr.astype(np.int64), P.indices.astype(np.int64), P.data.astype(np.float64))
        return {"kind": "affinities", "affinity_parts": parts}

    def _metric_kwargs(self):
        return {"metric": self.metric, "metric_params": self.metric_params, "n_jobs": self.n_jobs}

    def _init(self, X, random_state):
        """The engine's ``init``: a name or an array; and the dtype of ``embedding_``."""
        if isinstance(self.init, np.ndarray):
            init = self.init
            dtype = init.dtype if init.dtype in (np.float32, np.float64) else np.float64
            init = np.asarray(init, dtype=np.float64)
            n = _n_samples(X)
            if init.ndim != 2 or init.shape != (n, self.n_components):
                raise ValueError(
                    f"init.shape={init.shape} but should be (n_samples, n_components)={(n, self.n_components)}"
                )
            if not np.all(np.isfinite(init)):
                raise ValueError("init contains NaN or infinity")
            return init, dtype
        if self.init == "random" or not HAVE_SKLEARN:
            return self.init, np.float32
        # scikit-learn's own PCA start (its solver, sign convention and float32 rounding).
        return _sklearn_pca_init(X, self.n_components, random_state), np.float32

    # ------------------------------------------------------------------ fit

    def _fit(self, X):
        if self.learning_rate == "auto":
            self.learning_rate_ = np.maximum(_n_samples(X) / self.early_exaggeration / 4, 50)
        else:
            self.learning_rate_ = self.learning_rate
        X = self._validate_input(X)
        import scipy.sparse as sp

        sparse = sp.issparse(X)
        if self.metric == "precomputed":
            self._check_precomputed(X, sparse)
        if self.method == "barnes_hut" and not _tsne_rs.repulsion_supports("barnes_hut", self.n_components):
            raise ValueError(
                "'n_components' should be inferior to 4 for the barnes_hut algorithm as it relies on quad-tree or oct-tree."
            )
        if self.method == "fft" and not _tsne_rs.repulsion_supports("fft", self.n_components):
            raise ValueError("'n_components' should be 1 or 2 for the fft method (an addition of tsne_rs).")
        seed = seed_of(self.random_state)
        random_state = check_random_state(self.random_state)
        n = X.shape[0]
        # scikit-learn's exact method calibrates on every other point, Barnes-Hut on k.
        k = n - 1 if self.method == "exact" else min(n - 1, int(3.0 * self.perplexity + 1))
        if self.verbose:
            what = "pairwise distances" if self.method == "exact" else f"{k} nearest neighbors"
            print(f"[t-SNE] Computing {what}...", flush=True)
        if self.perplexity < 1:
            # The engine calibrates perplexities from 1 up; scikit-learn's own calibration
            # takes any positive one, so it computes P here.
            data, settings = None, self._sklearn_affinities(X, n, k)
        else:
            data, settings = self._engine_input(X, n, k)
            # scikit-learn's neighbour count, and its tolerance of a perplexity the neighbours
            # cannot reach and of identical points.
            settings.update(perplexity=float(self.perplexity), k=int(k), lenient=True)
        init, dtype = self._init(X, random_state)
        if settings["kind"] == "points":
            data = as_float_array(data)
        pca = getattr(self, "_engine_pca", None)  # set by tsne_rs.scanpy without scanpy
        if pca is not None and settings["kind"] == "points" and pca < X.shape[1]:
            settings["pca"] = pca
        model, self.n_iter_, kl = _sklearn_schedule(
            lambda **run: _tsne_rs.fit(
                data,
                n_components=int(self.n_components),
                dof=float(max(self.n_components - 1, 1)),
                repulsion={"barnes_hut": "barnes_hut", "exact": "exact", "fft": "fft"}[self.method],
                theta=float(self.angle),
                init=init,
                seed=seed,
                n_jobs=self.n_jobs,
                **run,
                **settings,
            ),
            max_iter=int(self.max_iter),
            early_exaggeration=float(self.early_exaggeration),
            learning_rate=4.0 * float(self.learning_rate_),
            min_grad_norm=float(self.min_grad_norm),
            n_iter_without_progress=int(self.n_iter_without_progress),
            verbose=self.verbose,
        )
        # scikit-learn's types: a Python float from its Barnes-Hut objective, np.float64 from
        # its exact one (and its "no error computed" value, np.finfo(float).max).
        self.kl_divergence_ = float(kl) if self.method != "exact" and type(kl) is float else np.float64(kl)
        if self.verbose:
            print(f"[t-SNE] KL divergence after {self.n_iter_ + 1} iterations: {kl:f}", flush=True)
        self.embedding_ = np.ascontiguousarray(model.positions(), dtype=dtype)
        return self.embedding_

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fits X into an embedded space and returns that embedding (``n_samples x n_components``).

        X is an array-like or scipy sparse matrix of points, or with ``metric="precomputed"``
        a square distance matrix or a sparse kNN distance graph (Barnes-Hut and FFT only).
        """
        self._check_params_vs_input(X)
        return self._fit(X)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fits X into an embedded space; the embedding is ``self.embedding_``."""
        self.fit_transform(X)
        return self

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.embedding_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags


# ---------------------------------------------------------------------- inputs by scikit-learn


def _knn_graph(X, k, metric, metric_params, n_jobs):
    """Each point's ``k`` nearest other points by scikit-learn's ``NearestNeighbors``, as
    scikit-learn's Barnes-Hut TSNE finds them (same search, same errors and warnings)."""
    from sklearn.neighbors import NearestNeighbors

    knn = NearestNeighbors(
        algorithm="auto", n_neighbors=k, metric=metric, metric_params=metric_params, n_jobs=n_jobs
    )
    knn.fit(X)
    distances, indices = knn.kneighbors(return_distance=True)
    return np.ascontiguousarray(indices, dtype=np.int64), np.ascontiguousarray(distances, dtype=np.float64)


def _pairwise(X, metric, metric_params, n_jobs):
    """scikit-learn's exact-method distance matrix (not yet squared)."""
    from sklearn.metrics import pairwise_distances

    if metric == "euclidean":
        return pairwise_distances(X, metric="euclidean", squared=True), True
    D = pairwise_distances(X, metric=metric, n_jobs=n_jobs, **(metric_params or {}))
    if np.isnan(D).any():
        # scikit-learn fails here in its squareform check; the message says why too.
        r, c = np.argwhere(np.isnan(D))[0]
        raise ValueError(
            f"Distance matrix 'X' must be symmetric. (metric {metric!r} gave NaN at row {r}, column {c})"
        )
    if np.any(D < 0):
        raise ValueError("All distances should be positive, the metric given is not correct")
    return D, False


def _sklearn_metric_input(X, k, exact, metric_kwargs):
    """Dense points under a metric the engine does not have: scikit-learn computes the
    neighbours (or, for the exact method, every distance)."""
    if exact:
        D, squared = _pairwise(X, **metric_kwargs)
        return np.asarray(D, dtype=np.float64), {"kind": "distances", "distances_as_given": squared}
    indices, distances = _knn_graph(X, k, **metric_kwargs)
    return indices, {"kind": "graph", "knn_distances": distances}


def _sparse_points_input(X, k, exact, engine_metric, metric_kwargs):
    """Sparse points (CSR, or CSR/CSC/COO for the exact method), never densified: the
    engine's sparse input for the metrics it searches on sparse points, else scikit-learn's
    neighbours (all distances for the exact method) handed over as a kNN graph."""
    import scipy.sparse as sp

    if engine_metric is None:
        return _sklearn_metric_input(X, k, exact, metric_kwargs)
    X = sp.csr_matrix(X, copy=False)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    parts = (
        X.shape[0],
        X.shape[1],
        X.indptr.astype(np.int64),
        X.indices.astype(np.int64),
        X.data.astype(np.float64),
    )
    return parts, {"kind": "sparse", **engine_metric}


def _has_directionless_rows(X, metric):
    """Whether X has a row without a direction under ``metric``: all zero (cosine) or
    constant (correlation)."""
    import scipy.sparse as sp

    if sp.issparse(X):
        X = sp.csr_matrix(X)
        if metric == "cosine":
            return bool((abs(X).sum(axis=1) == 0).any())
        squares = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        means = np.asarray(X.mean(axis=1)).ravel()
        return bool(np.any(squares / X.shape[1] - means**2 <= 0))
    if metric == "cosine":
        return bool(np.any(~X.any(axis=1)))
    return bool(np.any(np.ptp(X, axis=1) == 0))


def _precomputed_graph(G, k, n_jobs):
    """The ``k`` nearest neighbours in a sparse precomputed distance graph, as scikit-learn's
    ``NearestNeighbors(metric="precomputed")`` reads it: each row needs ``k + 1`` stored
    entries, the point itself (or, if not stored, the nearest entry) is dropped."""
    if HAVE_SKLEARN:
        return _knn_graph(G, k, "precomputed", None, n_jobs)
    return knn_from_sparse(G, k)  # pragma: no cover


def squareform_(condensed):
    from scipy.spatial.distance import squareform

    return squareform(condensed)


def _sklearn_pca_init(X, n_components, random_state):
    """scikit-learn's ``init="pca"``: its PCA of X (dense or sparse), in float32, scaled so
    the first coordinate has standard deviation 1e-4."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=n_components, random_state=random_state)
    pca.set_output(transform="default")
    start = pca.fit_transform(X).astype(np.float32, copy=False)
    std = float(np.std(start[:, 0]))
    if not (np.isfinite(std) and std > 0):
        raise ValueError(
            f'init="pca" has no direction to start from: all {X.shape[0]} points are identical '
            'under PCA; use init="random"'
        )
    return (start / np.float32(std) * np.float32(1e-4)).astype(np.float64)


# ---------------------------------------------------------------------- the schedule


def _sklearn_schedule(fit, *, max_iter, early_exaggeration, learning_rate, min_grad_norm,
                      n_iter_without_progress, verbose):
    """scikit-learn's optimisation: two runs of its ``_gradient_descent``.

    The first (``fit(**run)``, the engine's fit with the run's schedule keywords) is the
    exploration phase: 250 iterations with P multiplied by ``early_exaggeration`` and
    momentum 0.5. The optimiser then starts afresh (no velocity, unit gains, as scikit-learn's
    second call does) at the same learning rate for the rest of ``max_iter``, with momentum
    0.8 and no exaggeration. Both runs are checked every 50 iterations, counted from the start
    of the first, as scikit-learn checks them: the gradient norm against ``min_grad_norm``
    (which ends the first phase early too) and, in the second, ``n_iter_without_progress``.

    ``learning_rate`` is in the engine's units. Returns ``(model, n_iter_, kl_divergence_)``
    as scikit-learn reports them: the last 0-based iteration index, and the KL at the last
    iteration whose error scikit-learn computes (a multiple of 50 or the last of ``max_iter``,
    before that iteration's step); ``np.finfo(float).max`` when the second phase is empty
    (``max_iter=250``).
    """
    explore = min(_EXPLORATION_ITER, max_iter)
    watch = _SklearnStopping(min_grad_norm, verbose, early_exaggeration)
    watch.phase(0, explore, n_iter_without_progress=_EXPLORATION_ITER)
    model = fit(
        iterations=explore,
        early_exaggeration=early_exaggeration,
        exaggeration_iterations=explore,
        momentum_early=0.5,
        learning_rate=learning_rate,
        min_grad_norm=0.0,
        callback=watch,
        callback_every=_CHECK_EVERY,
        gradient_norm="gains",  # scikit-learn's: after `grad *= gains`
    )
    done = model.summary()["iterations"]
    if verbose:
        print(
            f"[t-SNE] KL divergence after {done} iterations with early exaggeration: {watch.error:f}",
            flush=True,
        )
    watch.phase(done, max_iter, n_iter_without_progress=n_iter_without_progress)
    model.reset_optimizer()
    # The engine reports the KL every 50 iterations of a run (the second starts at a multiple
    # of 50, so at scikit-learn's checks); scikit-learn also computes it at its last
    # iteration, before the step: a last run of one iteration with the KL of every iteration.
    remaining = max_iter - done
    runs = [(remaining - 1, _CHECK_EVERY), (1, 1)] if max_iter % _CHECK_EVERY else [(remaining, _CHECK_EVERY)]
    for iterations, kl_every in runs:
        if iterations <= 0 or watch.stopped:
            continue
        watch.offset = done
        report = model.optimize(
            iterations,
            exaggeration=1.0,
            momentum=0.8,
            learning_rate=learning_rate,
            kl_every=kl_every,
            callback=watch,
            callback_every=kl_every,
            gradient_norm="gains",
        )
        done += report["iterations"]
    n_iter = done - 1 if remaining > 0 else done
    return model, int(n_iter), watch.error


class _SklearnStopping:
    """The checks of scikit-learn's ``_gradient_descent``, as an engine callback: at every
    50th iteration (counted from the start of the first phase) the gradient norm against
    ``min_grad_norm`` and the KL against the best so far (``n_iter_without_progress``), with
    scikit-learn's progress lines when verbose >= 2. Records the last error scikit-learn
    computes (``error``): every 50th iteration and the phase's last, exaggerated in the
    first phase as scikit-learn's objective is (``E * KL + E * ln E`` for P times E)."""

    def __init__(self, min_grad_norm, verbose, early_exaggeration):
        self.min_grad_norm = float(min_grad_norm)
        self.verbose = verbose
        self.early_exaggeration = float(early_exaggeration)
        self.tic = time.perf_counter()

    def phase(self, start, end, *, n_iter_without_progress):
        """A new ``_gradient_descent`` call: iterations ``start`` to ``end`` (exclusive,
        0-based), the first with exaggeration when ``start == 0``. ``offset`` is the number
        of iterations before the current engine run (a phase may take several)."""
        self.offset, self.end = start, end
        self.exaggerated = start == 0
        self.patience = n_iter_without_progress
        self.error = np.finfo(float).max
        self.best_error = np.finfo(float).max
        self.best_iter = start
        self.stopped = False

    def __call__(self, iteration, kl, gradient_norm, positions):
        done = self.offset + iteration  # iterations run so far; scikit-learn's i is done - 1
        i = done - 1
        check = done % _CHECK_EVERY == 0
        if kl is not None and (check or done == self.end):
            if self.exaggerated:
                e = self.early_exaggeration
                kl = e * kl + e * np.log(e)
            self.error = kl
        if not check or kl is None:
            return False
        error = self.error
        if self.verbose >= 2:
            toc = time.perf_counter()
            print(
                "[t-SNE] Iteration %d: error = %.7f, gradient norm = %.7f (%s iterations in %0.3fs)"
                % (done, error, gradient_norm, _CHECK_EVERY, toc - self.tic),
                flush=True,
            )
            self.tic = toc
        if error < self.best_error:
            self.best_error, self.best_iter = error, i
        elif i - self.best_iter > self.patience:
            if self.verbose >= 2:
                print(
                    "[t-SNE] Iteration %d: did not make any progress during the last %d episodes. Finished."
                    % (done, self.patience),
                    flush=True,
                )
            self.stopped = True
        if not self.stopped and gradient_norm <= self.min_grad_norm:
            if self.verbose >= 2:
                print("[t-SNE] Iteration %d: gradient norm %f. Finished." % (done, gradient_norm), flush=True)
            self.stopped = True
        return self.stopped
