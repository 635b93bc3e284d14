"""``tsne_rs.TSNE``: a drop-in for ``sklearn.manifold.TSNE``.

Same parameters, meanings, attributes and errors as scikit-learn's (the learning rate in its
units: ``auto`` is ``max(n / early_exaggeration / 4, 50)``; our optimiser steps with the
gradient divided by four, so the rate passed on is four times scikit-learn's), plus
``method="fft"`` (FFT-accelerated interpolation, for large n).
"""

import numbers

import numpy as np

from . import _tsne_rs
from ._common import Progress, as_float_array, chain, seed_of

try:  # scikit-learn is optional: without it the estimator API is provided here.
    from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        def validate_data(estimator, X, **kwargs):
            return estimator._validate_data(X, **kwargs)

    _Bases = (ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator)
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

    _Bases = (_Params,)
    validate_data = None

# Iterations of early exaggeration, as scikit-learn's ``_EXPLORATION_MAX_ITER``.
_EXPLORATION_ITER = 250


class TSNE(*_Bases):
    """T-distributed Stochastic Neighbor Embedding, computed by the Rust ``tsne`` crate.

    Parameters are scikit-learn's ``TSNE``'s (see its documentation); ``method`` also takes
    ``"fft"``. ``n_jobs=None`` uses every core (scikit-learn's gradient does too); results are
    bit-identical for any ``n_jobs``.
    """

    def __init__(
        self,
        n_components=2,
        *,
        perplexity=30.0,
        early_exaggeration=12.0,
        learning_rate="auto",
        max_iter=None,
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

    def _check_params(self, n_samples):
        def number(name, value, low, strict=True):
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(f"The '{name}' parameter of TSNE must be a float, got {value!r}.")
            if value < low or (strict and value == low):
                raise ValueError(f"The '{name}' parameter of TSNE must be {'>' if strict else '>='} {low}, got {value}.")

        if not isinstance(self.n_components, numbers.Integral) or self.n_components < 1:
            raise ValueError(f"The 'n_components' parameter of TSNE must be an int >= 1, got {self.n_components!r}.")
        number("perplexity", self.perplexity, 0.0)
        number("early_exaggeration", self.early_exaggeration, 1.0, strict=False)
        number("min_grad_norm", self.min_grad_norm, 0.0, strict=False)
        number("angle", self.angle, 0.0, strict=False)
        if self.method not in ("barnes_hut", "exact", "fft"):
            raise ValueError(f"The 'method' parameter of TSNE must be 'barnes_hut', 'exact' or 'fft', got {self.method!r}.")
        if self.method == "barnes_hut" and self.n_components > 3:
            raise ValueError(
                "'n_components' should be inferior to 4 for the barnes_hut algorithm as it relies on quad-tree or oct-tree."
            )
        if self.method == "fft" and self.n_components > 2:
            raise ValueError("'n_components' should be 1 or 2 for the fft method.")
        if isinstance(self.learning_rate, str):
            if self.learning_rate != "auto":
                raise ValueError(f"The 'learning_rate' parameter of TSNE must be 'auto' or a float, got {self.learning_rate!r}.")
        else:
            number("learning_rate", self.learning_rate, 0.0)
        max_iter = 1000 if self.max_iter is None else self.max_iter
        if not isinstance(max_iter, numbers.Integral) or max_iter < 1:
            raise ValueError(f"The 'max_iter' parameter of TSNE must be an int >= 1, got {max_iter!r}.")
        if not isinstance(self.n_iter_without_progress, numbers.Integral) or self.n_iter_without_progress < -1:
            raise ValueError(f"The 'n_iter_without_progress' parameter of TSNE must be an int >= -1, got {self.n_iter_without_progress!r}.")
        if isinstance(self.init, str):
            if self.init not in ("pca", "random"):
                raise ValueError(f"The 'init' parameter of TSNE must be 'pca', 'random' or an array, got {self.init!r}.")
            if self.init == "pca" and self.metric == "precomputed":
                raise ValueError('The parameter init="pca" cannot be used with metric="precomputed".')
        if not isinstance(self.metric, str) or self.metric not in ("euclidean", "l2", "cosine", "manhattan", "l1", "cityblock", "precomputed"):
            raise ValueError(
                f"metric {self.metric!r} is not supported: use euclidean, cosine, manhattan or precomputed"
            )
        if self.perplexity >= n_samples:
            raise ValueError(f"perplexity ({self.perplexity}) must be less than n_samples ({n_samples})")
        return max_iter

    def _fit(self, X):
        if validate_data is not None:
            X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
        X = as_float_array(X)
        n = X.shape[0]
        max_iter = self._check_params(n)
        if self.metric == "precomputed":
            if X.shape[0] != X.shape[1]:
                raise ValueError("X should be a square distance matrix")
            if np.any(X < 0):
                raise ValueError("Precomputed distance contains negative values")
        if self.learning_rate == "auto":
            self.learning_rate_ = max(n / self.early_exaggeration / 4.0, 50.0)
        else:
            self.learning_rate_ = float(self.learning_rate)
        init = self.init
        if not isinstance(init, str):
            init = as_float_array(init, "init")
            if init.shape != (n, self.n_components):
                raise ValueError(f"init.shape={init.shape} but should be (n_samples, n_components)={(n, self.n_components)}")
        callback = chain(
            Progress(max_iter) if self.verbose else None,
            _NoProgress(self.n_iter_without_progress, _EXPLORATION_ITER) if self.n_iter_without_progress >= 0 else None,
        )
        model = _tsne_rs.fit(
            X,
            kind="distances" if self.metric == "precomputed" else "points",
            n_components=int(self.n_components),
            perplexity=float(self.perplexity),
            iterations=int(max_iter),
            early_exaggeration=float(self.early_exaggeration),
            exaggeration_iterations=min(_EXPLORATION_ITER, int(max_iter)),
            learning_rate=4.0 * self.learning_rate_,
            repulsion={"barnes_hut": "barnes_hut", "exact": "exact", "fft": "fft"}[self.method],
            theta=float(self.angle),
            metric="euclidean" if self.metric == "precomputed" else self.metric,
            init=init,
            seed=seed_of(self.random_state),
            n_jobs=self.n_jobs,
            min_grad_norm=float(self.min_grad_norm),
            callback=callback,
            callback_every=50,
        )
        summary = model.summary()
        self.embedding_ = model.positions()
        self.kl_divergence_ = summary["kl_divergence"]
        self.n_iter_ = summary["iterations"]
        self._n_features_out = self.n_components
        return self.embedding_

    def fit_transform(self, X, y=None):
        """Fits X into an embedded space and returns that embedding (``n_samples x n_components``)."""
        return self._fit(X)

    def fit(self, X, y=None):
        """Fits X into an embedded space; the embedding is ``self.embedding_``."""
        self._fit(X)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags


class _NoProgress:
    """Stops after ``patience`` iterations without a lower KL, counted after the
    exaggeration phase (scikit-learn's ``n_iter_without_progress``)."""

    def __init__(self, patience, start):
        self.patience = patience
        self.start = start
        self.best = np.inf
        self.best_iteration = start

    def __call__(self, iteration, kl, gradient_norm, positions):
        if iteration <= self.start or kl is None:
            return False
        if kl < self.best:
            self.best, self.best_iteration = kl, iteration
            return False
        return iteration - self.best_iteration > self.patience
