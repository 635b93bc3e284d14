"""A drop-in for openTSNE: ``import tsne_rs.opentsne as openTSNE``.

``TSNE(...).fit(X)`` returns a :class:`TSNEEmbedding`, an ``ndarray`` of the positions that
keeps the fitted model: ``optimize``, ``transform``, ``prepare_partial``, ``kl_divergence``,
``save`` / ``load`` and pickling. Parameters and defaults are openTSNE's (1.0): 250 iterations
of early exaggeration 12 then 500 more, momentum 0.8, learning rate ``auto`` = n / exaggeration,
FFT interpolation above 10,000 points with 3 nodes per interval, ``max_step_norm`` 5.
Callbacks are ``cb(iteration, error, embedding) -> bool``; returning True stops the run.
"""

import sys

import numpy as np

from . import _tsne_rs
from ._common import as_float_array, seed_of

__all__ = ["TSNE", "TSNEEmbedding", "PartialTSNEEmbedding", "OptimizationInterrupt"]


class OptimizationInterrupt(InterruptedError):
    """A callback stopped the optimisation (raised with ``propagate_exception=True``)."""

    def __init__(self, error, final_embedding):
        super().__init__()
        self.error = error
        self.final_embedding = final_embedding


def _callback(callbacks, every, verbose, total, embedding_type):
    """The Rust-side callback for openTSNE-style ``callbacks`` and ``verbose``."""
    if callbacks is None:
        callbacks = []
    elif callable(callbacks):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    if not callbacks and not verbose:
        return None, None
    stopped = {}

    def call(iteration, kl, gradient_norm, positions):
        if iteration % every != 0 and iteration != total:
            return False
        if verbose:
            kl_text = f"KL divergence {kl:.4f}, " if kl is not None else ""
            print(f"Iteration {iteration:4d}, {kl_text}gradient norm {gradient_norm:.4e}", file=sys.stderr, flush=True)
        stop = False
        for cb in callbacks:
            stop = bool(cb(iteration, kl, positions.view(embedding_type) if embedding_type else positions)) or stop
        if stop:
            stopped["at"] = iteration
        return stop

    return call, stopped


def _n_jobs(n_jobs):
    return None if n_jobs in (None, -1) else int(n_jobs)


class TSNEEmbedding(np.ndarray):
    """The positions of a fitted t-SNE model (``n x n_components``), with the model."""

    def __new__(cls, model, gradient_descent_params=None):
        obj = np.asarray(model.positions()).view(cls)
        obj._model = model
        obj.gradient_descent_params = dict(gradient_descent_params or {})
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self._model = getattr(obj, "_model", None)
        self.gradient_descent_params = getattr(obj, "gradient_descent_params", {})

    @property
    def kl_divergence(self):
        """KL(P || Q) of the current positions."""
        return self._model.summary()["kl_divergence"]

    @property
    def summary(self):
        """What the fit and later runs did (sizes, backends, stages, timings)."""
        return self._model.summary()

    def optimize(
        self,
        n_iter,
        inplace=False,
        propagate_exception=False,
        learning_rate="auto",
        exaggeration=None,
        momentum=0.8,
        max_grad_norm=None,
        max_step_norm=5,
        n_jobs=None,
        callbacks=None,
        callbacks_every_iters=50,
        verbose=False,
        **unsupported,
    ):
        """Continues the optimisation for ``n_iter`` iterations (a new embedding unless
        ``inplace``); openTSNE's ``TSNEEmbedding.optimize``."""
        _reject(unsupported)
        model = self._model if inplace else self._model.copy()
        if n_jobs is not None:
            model.set_n_jobs(_n_jobs(n_jobs))
        callback, stopped = _callback(callbacks, callbacks_every_iters, verbose, n_iter, None)
        report = model.optimize(
            int(n_iter),
            exaggeration=1.0 if exaggeration is None else float(exaggeration),
            momentum=float(momentum),
            learning_rate=None if learning_rate == "auto" else float(learning_rate),
            max_grad_norm=None if max_grad_norm is None else 4.0 * float(max_grad_norm),
            max_step_norm=None if max_step_norm is None else float(max_step_norm),
            kl_every=callbacks_every_iters if callback else 50,
            callback=callback,
            callback_every=1,
        )
        if inplace:
            self[...] = model.positions()
            result = self
        else:
            result = TSNEEmbedding(model, self.gradient_descent_params)
        if stopped and propagate_exception:
            raise OptimizationInterrupt(report["kl_divergence"], result)
        return result

    def transform(
        self,
        X,
        perplexity=5,
        initialization="median",
        k=25,
        learning_rate=0.1,
        early_exaggeration=4,
        early_exaggeration_iter=0,
        exaggeration=1.5,
        n_iter=250,
        initial_momentum=0.8,
        final_momentum=0.8,
        max_grad_norm=0.25,
        max_step_norm=None,
    ):
        """Places new points against the fixed embedding (openTSNE's ``transform``)."""
        if initialization != "median":
            raise ValueError("only initialization='median' is supported")
        partial = self.prepare_partial(X, k=k, perplexity=perplexity)
        if early_exaggeration_iter > 0:
            partial = partial.optimize(
                early_exaggeration_iter,
                learning_rate=learning_rate,
                exaggeration=early_exaggeration,
                momentum=initial_momentum,
                max_grad_norm=max_grad_norm,
                inplace=True,
            )
        partial = partial.optimize(
            n_iter,
            learning_rate=learning_rate,
            exaggeration=exaggeration,
            momentum=final_momentum,
            max_grad_norm=max_grad_norm,
            inplace=True,
        )
        return partial

    def prepare_partial(self, X, initialization="median", k=25, perplexity=5, **unsupported):
        """New points at the median position of their ``k`` nearest reference points, with
        perplexity-calibrated affinities to them (openTSNE's ``prepare_partial``)."""
        _reject(unsupported)
        if initialization != "median":
            raise ValueError("only initialization='median' is supported")
        X = as_float_array(X)
        partial = self._model.prepare_partial(X, perplexity=float(perplexity), k=int(k))
        return PartialTSNEEmbedding(partial, self._model)

    def add(self, X, n_iter=250, exaggeration=1.0, momentum=0.8, learning_rate="auto"):
        """A new embedding with the rows of ``X`` appended: placed, then settled with the old
        points pinned."""
        model = self._model.copy()
        model.add(
            as_float_array(X),
            iterations=int(n_iter),
            exaggeration=float(exaggeration),
            momentum=float(momentum),
            learning_rate=None if learning_rate == "auto" else float(learning_rate),
        )
        return TSNEEmbedding(model, self.gradient_descent_params)

    def save(self, path):
        """Writes the model file (versioned, checksummed)."""
        self._model.save(str(path))

    @classmethod
    def load(cls, path):
        """Reads a model file written by :meth:`save` (or ``tsne embed --save-model``)."""
        return cls(_tsne_rs.Model.load(str(path)))

    def __reduce__(self):
        return (_from_bytes, (bytes(self._model.to_bytes()), self.gradient_descent_params))

    def view_array(self):
        """The positions as a plain ``ndarray``."""
        return np.asarray(self)


def _from_bytes(data, params):
    return TSNEEmbedding(_tsne_rs.Model.from_bytes(data), params)


class PartialTSNEEmbedding(np.ndarray):
    """New points placed into a :class:`TSNEEmbedding`; ``optimize`` moves them against it."""

    def __new__(cls, partial, reference):
        obj = np.asarray(partial.positions()).view(cls)
        obj._partial = partial
        obj._reference = reference
        return obj

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self._partial = getattr(obj, "_partial", None)
        self._reference = getattr(obj, "_reference", None)

    def optimize(
        self,
        n_iter,
        inplace=False,
        propagate_exception=False,
        learning_rate=0.1,
        exaggeration=None,
        momentum=0.8,
        max_grad_norm=0.25,
        callbacks=None,
        callbacks_every_iters=50,
        verbose=False,
        **unsupported,
    ):
        """Moves the new points for ``n_iter`` iterations against the fixed reference."""
        _reject(unsupported)
        target = self if inplace else PartialTSNEEmbedding(self._partial.copy(), self._reference)
        callback, stopped = _callback(callbacks, callbacks_every_iters, verbose, n_iter, None)
        report = target._partial.optimize(
            self._reference,
            int(n_iter),
            exaggeration=1.0 if exaggeration is None else float(exaggeration),
            momentum=float(momentum),
            learning_rate=float(learning_rate),
            max_grad_norm=4.0 * float(max_grad_norm) if max_grad_norm is not None else 1e300,
            callback=callback,
            callback_every=1,
        )
        if inplace:
            self[...] = self._partial.positions()
            result = self
        else:
            result = PartialTSNEEmbedding(target._partial, target._reference)
        if stopped and propagate_exception:
            raise OptimizationInterrupt(report["kl_divergence"], result)
        return result


class TSNE:
    """openTSNE's ``TSNE``: the parameters, defaults and ``fit`` of openTSNE 1.0."""

    def __init__(
        self,
        n_components=2,
        perplexity=30,
        learning_rate="auto",
        early_exaggeration_iter=250,
        early_exaggeration="auto",
        n_iter=500,
        exaggeration=None,
        dof=1,
        theta=0.5,
        n_interpolation_points=3,
        min_num_intervals=50,
        ints_in_interval=1,
        initialization="pca",
        metric="euclidean",
        metric_params=None,
        initial_momentum=0.8,
        final_momentum=0.8,
        max_grad_norm=None,
        max_step_norm=5,
        n_jobs=1,
        neighbors="auto",
        knn_kwargs=None,
        negative_gradient_method="auto",
        callbacks=None,
        callbacks_every_iters=50,
        random_state=None,
        verbose=False,
    ):
        self.n_components = n_components
        self.perplexity = perplexity
        self.learning_rate = learning_rate
        if early_exaggeration == "auto":
            early_exaggeration = 12 if exaggeration is None else max(12, exaggeration)
        self.early_exaggeration = early_exaggeration
        self.early_exaggeration_iter = early_exaggeration_iter
        self.n_iter = n_iter
        self.exaggeration = exaggeration
        self.dof = dof
        self.theta = theta
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        self.initialization = initialization
        self.metric = metric
        self.metric_params = metric_params
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.max_grad_norm = max_grad_norm
        self.max_step_norm = max_step_norm
        self.n_jobs = n_jobs
        self.neighbors = neighbors
        self.knn_kwargs = knn_kwargs
        self.negative_gradient_method = negative_gradient_method
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state
        self.verbose = verbose

    def _repulsion(self, n):
        method = self.negative_gradient_method
        if method == "auto":
            method = "fft" if n > 10_000 else "bh"
        if method in ("fft", "interpolation", "fit-sne", "fitsne"):
            return "fft"
        if method in ("bh", "barnes-hut", "barnes_hut"):
            return "barnes_hut"
        if method == "exact":
            return "exact"
        raise ValueError(f"unknown negative_gradient_method {self.negative_gradient_method!r}")

    def fit(self, X=None, affinities=None, initialization=None):
        """Embeds ``X`` (points; with ``metric="precomputed"`` a distance matrix or a scipy
        sparse kNN distance graph), or precomputed ``affinities`` (a scipy sparse P or an
        object with a ``.P``); returns a :class:`TSNEEmbedding`."""
        kwargs = {}
        if affinities is not None:
            P = getattr(affinities, "P", affinities)
            data, kind = _csr(P), "affinities"
            kwargs["affinity_parts"] = data
            data = np.zeros((1, 1))
            n = kwargs["affinity_parts"][0]
        elif X is None:
            raise ValueError("give X or affinities")
        elif hasattr(X, "tocsr") and self.metric == "precomputed":
            indices, distances = knn_from_sparse(X)
            data, kind, n = indices, "graph", indices.shape[0]
            kwargs["knn_distances"] = distances
        else:
            data = as_float_array(X)
            n = data.shape[0]
            kind = "distances" if self.metric == "precomputed" else "points"
        init = self.initialization if initialization is None else initialization
        if isinstance(init, np.ndarray):
            init = as_float_array(init, "initialization")
        elif kind != "points" and init == "pca":
            init = "spectral"
        n_jobs = _n_jobs(self.n_jobs)
        callback, stopped = _callback(
            self.callbacks, self.callbacks_every_iters, self.verbose, self.early_exaggeration_iter, None
        )
        early_lr = None if self.learning_rate == "auto" else float(self.learning_rate)
        if self.learning_rate == "auto":
            early_lr = max(n / float(self.early_exaggeration), 1.0)
        model = _tsne_rs.fit(
            data,
            kind=kind,
            n_components=int(self.n_components),
            perplexity=float(self.perplexity),
            iterations=int(self.early_exaggeration_iter),
            early_exaggeration=float(self.early_exaggeration),
            exaggeration_iterations=int(self.early_exaggeration_iter),
            exaggeration=float(self.early_exaggeration),
            learning_rate=early_lr,
            momentum_early=float(self.initial_momentum),
            momentum_final=float(self.initial_momentum),
            dof=float(self.dof),
            repulsion=self._repulsion(n),
            theta=float(self.theta),
            interp_points=int(self.n_interpolation_points),
            min_intervals=int(self.min_num_intervals),
            intervals_per_unit=float(self.ints_in_interval),
            metric="euclidean" if self.metric == "precomputed" else self.metric,
            init=init,
            seed=seed_of(self.random_state),
            n_jobs=n_jobs,
            max_grad_norm=None if self.max_grad_norm is None else 4.0 * float(self.max_grad_norm),
            max_step_norm=None if self.max_step_norm is None else float(self.max_step_norm),
            kl_every=self.callbacks_every_iters if callback else 50,
            callback=callback,
            callback_every=1,
            **kwargs,
        )
        embedding = TSNEEmbedding(model)
        if stopped:
            return embedding
        try:
            return embedding.optimize(
                self.n_iter,
                inplace=True,
                propagate_exception=True,
                learning_rate=self.learning_rate,
                exaggeration=self.exaggeration,
                momentum=self.final_momentum,
                max_grad_norm=self.max_grad_norm,
                max_step_norm=self.max_step_norm,
                callbacks=self.callbacks,
                callbacks_every_iters=self.callbacks_every_iters,
                verbose=self.verbose,
            )
        except OptimizationInterrupt as e:
            return e.final_embedding


def _reject(unsupported):
    if unsupported:
        raise TypeError(f"unsupported parameters: {', '.join(sorted(unsupported))}")


def _csr(P):
    """``(n, indptr, indices, data)`` of a square scipy sparse matrix."""
    if not hasattr(P, "tocsr"):
        raise TypeError("affinities must be a scipy sparse matrix or have a .P attribute")
    P = P.tocsr()
    n, m = P.shape
    if n != m:
        raise ValueError(f"affinities must be square, got {n} x {m}")
    P.sort_indices()
    return (int(n), P.indptr.astype(np.int64).tolist(), P.indices.astype(np.int64).tolist(), P.data.astype(np.float64).tolist())


def knn_from_sparse(G):
    """Neighbour indices and distances (``n x k``) from a scipy sparse kNN distance graph:
    each row's ``k`` nearest stored entries, ``k`` the fewest any row has (the diagonal
    ignored)."""
    G = G.tocsr().copy()
    G.setdiag(0)
    G.eliminate_zeros()
    counts = np.diff(G.indptr)
    k = int(counts.min()) if len(counts) else 0
    if k < 1:
        raise ValueError("the kNN graph has a row without neighbours")
    n = G.shape[0]
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float64)
    for i in range(n):
        a, b = G.indptr[i], G.indptr[i + 1]
        order = np.argsort(G.data[a:b], kind="stable")[:k]
        indices[i] = G.indices[a:b][order]
        distances[i] = G.data[a:b][order]
    if not np.all(np.isfinite(distances)) or np.any(distances < 0):
        r = int(np.argwhere(~np.isfinite(distances) | (distances < 0))[0][0])
        raise ValueError(f"the kNN graph has a negative or non-finite distance in row {r}")
    return indices, distances
