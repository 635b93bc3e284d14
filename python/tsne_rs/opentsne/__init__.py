"""A drop-in for openTSNE 1.0.4: ``import tsne_rs.opentsne as openTSNE``.

The public API is openTSNE's: ``TSNE`` (``fit``, ``prepare_initial``), ``TSNEEmbedding``
(an ``ndarray`` with ``optimize``, ``transform``, ``prepare_partial``, ``affinities``,
``kl_divergence``, ``optimizer``, ``gradient_descent_params``), ``PartialTSNEEmbedding``,
``OptimizationInterrupt`` and the modules ``affinity``, ``initialization``, ``callbacks`` and
``nearest_neighbors``. Diagnostics go through ``logging`` (loggers ``openTSNE.tsne`` and
``openTSNE.affinity``) and verbose progress is printed to stdout, as openTSNE does.

What runs where: the affinities P of the training points, every gradient step (Barnes-Hut
or FFT repulsion, gains, momentum, clipping, exaggeration), the placement of new points
(perplexity-calibrated affinities to exact neighbours, median or random start, the
optimisation against the fixed reference) are the Rust engine's. New points the engine does
not prepare itself (weighted or array starts, FixedSigmaNN / Uniform / multiscale / custom
``to_new``, a rectangular precomputed distance matrix, a hand-built PartialTSNEEmbedding) go
to the engine as their P and start (``Model.prepare_partial_from_affinities``). The
optimiser state (gains, update) lives in the engine model held by ``embedding.optimizer``;
it persists between ``optimize`` calls, through edits of the array and new affinities, as in
openTSNE, and ``optimizer.gains`` / ``update`` are copies of it. What openTSNE defines as
small numpy/scipy/scikit-learn formulas (``initialization``, ``to_new``, the Gaussian
mixture of several perplexities, the KL of new points) is reproduced in Python.

Extensions kept from earlier versions: ``TSNEEmbedding.summary``, ``save``/``load``, ``add``.
"""

import inspect
import logging
import math
import warnings
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp

from .. import _tsne_rs
from .._common import as_float_array, seed_of
from . import affinity, callbacks, initialization, nearest_neighbors  # noqa: F401
from . import initialization as initialization_scheme
from ._utils import Timer
from .affinity import Affinities, MultiscaleMixture

__all__ = ["TSNE", "TSNEEmbedding", "PartialTSNEEmbedding", "OptimizationInterrupt"]
__version__ = "1.0.4"

log = logging.getLogger("openTSNE.tsne")


class OptimizationInterrupt(InterruptedError):
    """Optimization was interrupted by a callback.

    Parameters
    ----------
    error: float
        The KL divergence of the embedding.
    final_embedding: Union[TSNEEmbedding, PartialTSNEEmbedding]
        The embedding at the iteration the callback stopped it.
    """

    def __init__(self, error, final_embedding):
        super().__init__()
        self.error = error
        self.final_embedding = final_embedding


# ----------------------------------------------------------------------------------------------
# openTSNE's parameter handling


def _check_callbacks(callbacks):
    if callbacks is not None:
        if isinstance(callbacks, Iterable):
            if any(not callable(c) for c in callbacks):
                raise ValueError("`callbacks` must contain callable objects!")
        elif callable(callbacks):
            callbacks = (callbacks,)
        else:
            raise ValueError("`callbacks` must be a callable object!")
    return callbacks


def _handle_nice_params(embedding, optim_params):
    """Convert the user-friendly params into what the optimizer understands (openTSNE's)."""
    n_samples = embedding.shape[0]
    optim_params["callbacks"] = _check_callbacks(optim_params.get("callbacks"))
    optim_params["use_callbacks"] = optim_params["callbacks"] is not None

    negative_gradient_method = optim_params.pop("negative_gradient_method", "auto")
    if isinstance(negative_gradient_method, str) and negative_gradient_method == "auto":
        negative_gradient_method = "bh" if n_samples < 10_000 else "fft"
        log.info(f"Automatically determined negative gradient method `{negative_gradient_method}`")
    if callable(negative_gradient_method):
        raise NotImplementedError(
            "tsne_rs.opentsne: a callable `negative_gradient_method` is not supported; the "
            "gradient is computed in the engine (use 'bh' or 'fft')"
        )
    elif negative_gradient_method in {"bh", "BH", "barnes-hut"}:
        negative_gradient_method = "bh"
    elif negative_gradient_method in {"fft", "FFT", "interpolation"}:
        negative_gradient_method = "fft"
    else:
        raise ValueError(
            "Unrecognized gradient method. Please choose one of "
            "the supported methods or provide a valid callback."
        )
    optim_params["objective_function"] = negative_gradient_method

    n_jobs = optim_params.get("n_jobs", 1)
    import multiprocessing

    n_cores = multiprocessing.cpu_count()
    if n_jobs < 0:
        n_jobs = n_cores + n_jobs + 1
    if n_jobs <= 0:
        log.warning(
            "`n_jobs` receieved value %d but only %d cores are available. "
            "Defaulting to single job." % (optim_params["n_jobs"], n_cores)
        )
        n_jobs = 1
    optim_params["n_jobs"] = n_jobs

    learning_rate = optim_params.get("learning_rate", "auto")
    if isinstance(learning_rate, str) and learning_rate == "auto":
        exaggeration = optim_params.get("exaggeration", None)
        if exaggeration is None:
            exaggeration = 1
        learning_rate = n_samples / exaggeration
    optim_params["learning_rate"] = learning_rate


def _check_init_num_samples(num_samples, required_num_samples):
    if num_samples != required_num_samples:
        raise ValueError(
            "The provided initialization contains a different number "
            "of points (%d) than the data provided (%d)." % (num_samples, required_num_samples)
        )


def _check_init_num_dimensions(num_dimensions, required_num_dimensions):
    if num_dimensions != required_num_dimensions:
        raise ValueError(
            "The provided initialization contains a different number "
            "of components (%d) than the embedding (%d)." % (num_dimensions, required_num_dimensions)
        )


# ----------------------------------------------------------------------------------------------
# The engine behind the optimizer


def _csr_parts(P):
    """``(n, indptr, indices, data)`` of a square scipy sparse P, diagonal dropped."""
    if not sp.issparse(P):
        raise TypeError("affinities.P must be a scipy sparse matrix")
    P = sp.csr_matrix(P)
    n, m = P.shape
    if n != m:
        raise ValueError(f"affinities must be square, got {n} x {m}")
    if P.diagonal().any():
        P = P.tolil()
        P.setdiag(0)
        P = P.tocsr()
    P.eliminate_zeros()
    P.sort_indices()
    return (
        int(n),
        P.indptr.astype(np.int64).tolist(),
        P.indices.astype(np.int64).tolist(),
        P.data.astype(np.float64).tolist(),
    )


def _fingerprint(P):
    P = P if sp.isspmatrix_csr(P) or isinstance(P, sp.csr_array) else sp.csr_matrix(P)
    return (P.shape, P.nnz, float(P.data.sum()), float(np.dot(P.data, P.indices)))


def _repulsion(method, dims):
    if method == "fft":
        if dims > 2:
            raise RuntimeError("Interpolation based t-SNE for >2 dimensions is currently unsupported (and generally a bad idea)")
        return "fft"
    if dims > 3:
        warnings.warn(
            "BH t-SNE for >3 dimensions can lead to segfaults and is generally a bad idea. In the "
            "future, calling BH with >3 dimensions will raise a RuntimeError",
            category=FutureWarning,
        )
        return "exact"  # the engine's tree is for at most 3 dimensions: exact repulsion
    return "barnes_hut"


class gradient_descent:
    """openTSNE's optimizer object. Its state (gains, update) lives in the engine model
    (``TSNEEmbedding``) or engine placement (``PartialTSNEEmbedding``) it holds. For a full
    embedding ``gains`` and ``update`` are copies of the engine model's state after each run
    (None before the first, as openTSNE); setting both to None restarts the optimiser, as a
    fresh openTSNE optimizer would. The same holds for a partial embedding and the engine
    placement (``Partial``) it holds."""

    def __init__(self):
        self.gains = None
        self.update = None
        self._model = None  # the engine Model (full embeddings)
        self._key = None  # (fingerprint of P, engine settings) the model was built with
        self._shifts = []  # translations applied to the array since the model last ran
        self._has_reference = False
        self._partial = None  # the engine Partial (partial embeddings)
        self._P_source = None  # the PartialTSNEEmbedding.P object the engine Partial was built from

    def copy(self):
        optimizer = self.__class__()
        optimizer.gains = None if self.gains is None else np.copy(self.gains)
        optimizer.update = None if self.update is None else np.copy(self.update)
        optimizer._model = None if self._model is None else self._model.copy()
        optimizer._key = self._key
        optimizer._shifts = list(self._shifts)
        optimizer._has_reference = self._has_reference
        optimizer._partial = None if self._partial is None else self._partial.copy()
        optimizer._P_source = self._P_source
        return optimizer

    def __getstate__(self):
        state = dict(self.__dict__)
        if self._model is not None:
            state["_model"] = bytes(self._model.to_bytes())
        if self._partial is not None:
            state["_partial"] = None  # an engine placement cannot be serialised
        return state

    def __setstate__(self, state):
        if isinstance(state.get("_model"), bytes):
            state["_model"] = _tsne_rs.Model.from_bytes(state["_model"])
        self.__dict__.update(state)

    # -- the engine placement of a partial embedding ------------------------------------------
    def _partial_for(self, embedding, ref_model, theta, shifts):
        """The engine Partial at ``embedding``'s positions with its ``P``: the one the engine
        prepared, or one built from ``P`` (``Model.prepare_partial_from_affinities``) when
        there is none, or ``P`` was replaced (then the state restarts)."""
        source = embedding.__dict__.get("_P")
        if self._partial is None or source is not self._P_source:
            P = sp.csr_matrix(embedding.P, dtype=np.float64)
            if P.shape != (embedding.shape[0], ref_model.n):
                raise ValueError(
                    f"tsne_rs.opentsne: P has shape {P.shape}, expected ({embedding.shape[0]}, {ref_model.n})"
                )
            P.sort_indices()
            sums = np.asarray(P.sum(axis=1)).ravel()
            scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
            P = sp.csr_matrix(sp.diags(scale) @ P)  # the engine takes rows summing to 1
            self._partial = ref_model.prepare_partial_from_affinities(
                P.indptr.astype(np.uint64),
                P.indices.astype(np.uint32),
                P.data.astype(np.float64),
                _reshift(embedding, shifts),
                theta=float(theta),
            )
            self._P_source = embedding.__dict__.get("_P")
        elif not np.array_equal(_unshift(self._partial.positions(), shifts), np.asarray(embedding)):
            self._partial.set_positions(_reshift(embedding, shifts))
        return self._partial

    # -- the model of a full embedding ---------------------------------------------------------
    def _expected(self):
        y = self._model.positions()
        for s in self._shifts:
            y -= s
        return y

    def _model_for(self, embedding, P, settings, n_jobs, seed):
        """The engine model at ``embedding``'s positions with ``P`` and ``settings``; built
        (optimizer state reset) when there is none or any of them changed."""
        key = None if P is None else (_fingerprint(P), settings)
        fresh = (
            self._model is None
            or (key is not None and self._key is not None and key[1] != self._key[1])
            or self._model.n != embedding.shape[0]
        )
        if not fresh:
            # openTSNE keeps its gains and update when P changes (``set_perplexities``, new
            # affinities) or the array is edited: so does the engine model.
            if key is not None and self._key is not None and key[0] != self._key[0]:
                self._model.set_affinities(*_csr_parts(P), asymmetric=True)
                self._key = key
                self._has_reference = False  # the new affinities may be over other points
            if not np.array_equal(self._expected(), np.asarray(embedding)):
                self._model.set_positions(np.ascontiguousarray(embedding, dtype=np.float64))
                self._shifts = []
        if fresh:
            if P is None:
                raise NotImplementedError(
                    "tsne_rs.opentsne: a loaded embedding has no affinities to rebuild its engine "
                    "model from (its number of points or its engine settings changed)"
                )
            dof, repulsion, theta, interp, intervals, per_unit = settings
            self._model = _tsne_rs.fit(
                np.zeros((1, 1)),
                kind="affinities",
                affinity_parts=_csr_parts(P),
                asymmetric_affinities=True,  # openTSNE optimises any P as given
                init=np.ascontiguousarray(embedding, dtype=np.float64),
                iterations=0,
                n_components=int(embedding.shape[1]),
                dof=float(dof),
                repulsion=repulsion,
                theta=float(theta),
                interp_points=int(interp),
                min_intervals=int(intervals),
                intervals_per_unit=float(per_unit),
                seed=seed,
                n_jobs=int(n_jobs),
            )
            self._key = key
            self._shifts = []
            self._has_reference = False
        elif key is not None and self._key is None:
            self._key = key
        self._model.set_n_jobs(int(n_jobs))
        return self._model

    def __call__(
        self,
        embedding,
        P,
        n_iter,
        objective_function,
        learning_rate="auto",
        momentum=0.8,
        exaggeration=None,
        dof=1,
        min_gain=0.01,
        max_grad_norm=None,
        max_step_norm=5,
        theta=0.5,
        n_interpolation_points=3,
        min_num_intervals=50,
        ints_in_interval=1,
        reference_embedding=None,
        n_jobs=1,
        use_callbacks=False,
        callbacks=None,
        callbacks_every_iters=50,
        verbose=False,
    ):
        """Perform batch gradient descent with momentum and gains (in the engine)."""
        if min_gain != 0.01:
            raise NotImplementedError("tsne_rs.opentsne: only min_gain=0.01 is supported (the engine's)")
        if exaggeration is None:
            exaggeration = 1
        if isinstance(callbacks, Iterable):
            for callback in callbacks:
                getattr(callback, "optimization_about_to_start", lambda: ...)()

        every = int(callbacks_every_iters) if use_callbacks else None
        steps = [s for s in (every, 50 if verbose else None) if s]
        observe_every = math.gcd(*steps) if len(steps) > 1 else (steps[0] if steps else None)
        stopped = {}
        clock = {"t": None}

        def observer(iteration, kl, gradient_norm, positions):
            if use_callbacks and iteration % every == 0:
                embedding[...] = _unshift(positions, shifts)
                if any(bool(c(iteration, kl, embedding)) for c in callbacks):
                    stopped["error"] = kl
                    return True
            if verbose and iteration % 50 == 0:
                from time import time

                now = time()
                if kl is None:  # new points: the engine reports their KL only at the end
                    print("Iteration %4d, 50 iterations in %.4f sec" % (iteration, now - clock["t"]))
                else:
                    print(
                        "Iteration %4d, KL divergence %6.4f, 50 iterations in %.4f sec"
                        % (iteration, kl, now - clock["t"])
                    )
                clock["t"] = now
            return False

        timer = Timer(
            "Running optimization with exaggeration=%.2f, lr=%.2f for %d iterations..."
            % (exaggeration, learning_rate, n_iter),
            verbose=verbose,
        )
        timer.__enter__()
        from time import time

        clock["t"] = time()
        if reference_embedding is None:
            settings = (
                float(dof),
                _repulsion(objective_function, embedding.shape[1]),
                float(theta),
                int(n_interpolation_points),
                int(min_num_intervals),
                1.0 / float(ints_in_interval),  # openTSNE: units per interval
            )
            model = self._model_for(embedding, P, settings, n_jobs, _seed(getattr(embedding, "random_state", None)))
            if self.gains is None and self.update is None:
                model.reset_optimizer()  # a fresh openTSNE optimizer (no-op on a new model)
            shifts = self._shifts
            report = model.optimize(
                int(n_iter),
                exaggeration=float(exaggeration),
                momentum=float(momentum),
                learning_rate=float(learning_rate),
                max_grad_norm=None if max_grad_norm is None else 4.0 * float(max_grad_norm),
                max_step_norm=None if max_step_norm is None else float(max_step_norm),
                kl_every=observe_every or 50,
                callback=observer if observe_every else None,
                callback_every=observe_every or 1,
            )
            if int(n_iter) > 0:  # both recentre every iteration: the frames agree again
                embedding[...] = model.positions()
                self._shifts = []
            self.gains, self.update = (np.array(a) for a in model.optimizer_state())
        else:
            grid = None
            if _repulsion(objective_function, embedding.shape[1]) == "fft":
                # openTSNE lays the grid over the (then centred) reference on first use; the
                # new points keep their coordinates while the reference moves.
                if reference_embedding.box_x_lower_bounds is None:
                    reference_embedding.prepare_interpolation_grid()
                grid = reference_embedding._placement_grid()
            ref_model = reference_embedding._engine_model()
            shifts = reference_embedding.optimizer._shifts
            partial = self._partial_for(embedding, ref_model, float(theta), shifts)
            if self.gains is None and self.update is None:
                partial.reset_optimizer()  # a fresh openTSNE optimizer
            # openTSNE's KL of new points, in numpy (the engine's is the sum of the points'
            # KL(p_i || q_i), another normalisation); the engine's above 5e7 pairs.
            exact_kl = embedding.shape[0] * ref_model.n <= 5e7
            if exact_kl:  # read before the run: the engine holds the placement during it
                indptr, indices, data = partial.affinities()
                P_new = sp.csr_matrix((data, indices, indptr), shape=(embedding.shape[0], ref_model.n))
                Y_ref = np.asarray(ref_model.positions())

            def kl_at(positions, engine_kl):
                if not exact_kl:
                    return engine_kl
                return _partial_kl(P_new, np.asarray(positions), Y_ref, float(dof))

            # openTSNE evaluates the error with the exaggerated P and corrects it as it does
            # for a full embedding (/ e - log e); with rows summing to 1 that leaves
            # (n_new - 1) log e in what its callbacks and verbose lines get.
            quirk = (float(P_new.sum()) - 1) * np.log(exaggeration) if exact_kl and exaggeration != 1 else 0.0

            def partial_observer(iteration, kl, gradient_norm, positions):
                return observer(iteration, kl_at(positions, kl) + quirk, gradient_norm, positions)

            report = partial.optimize(
                ref_model,
                int(n_iter),
                exaggeration=float(exaggeration),
                momentum=float(momentum),
                # openTSNE steps a new point along dC_i/dy / 2; the engine's gradient is dC/dy / 4.
                learning_rate=2.0 * float(learning_rate),
                max_grad_norm=1e300 if max_grad_norm is None else 2.0 * float(max_grad_norm),
                max_step_norm=None if max_step_norm is None else float(max_step_norm),
                kl_every=0 if exact_kl else (observe_every or 0),
                callback=partial_observer if observe_every else None,
                callback_every=observe_every or 1,
                theta=float(theta),
                grid=grid,
            )
            embedding[...] = _unshift(partial.positions(), shifts)
            self.gains, self.update = (np.array(a) for a in partial.optimizer_state())
            report = dict(report)
            report["kl_divergence"] = kl_at(partial.positions(), report.get("kl_divergence"))
        timer.__exit__()
        if stopped:
            raise OptimizationInterrupt(error=stopped["error"], final_embedding=embedding)
        return report["kl_divergence"], embedding


def _unshift(positions, shifts):
    positions = np.array(positions)
    for s in shifts:
        positions -= s
    return positions


def _reshift(array, shifts):
    """``array`` (the Python frame) in the engine model's frame."""
    positions = np.array(array, dtype=np.float64, order="C")
    for s in reversed(shifts):
        positions += s
    return positions


def _partial_kl(P, Y_new, Y_ref, dof, chunk=2048):
    """openTSNE's error of new points against a fixed reference (``kl_divergence_bh`` with a
    reference): ``sum_ij p_ij log(p_ij / (w_ij + eps) + eps) + sum_P log(sum_Q + eps)`` with
    ``w_ij = 1 / (1 + d_ij^2 / dof)`` and ``sum_Q`` the sum of ``(1 + d^2 / dof)^-dof`` over
    all (new, reference) pairs, here exact instead of openTSNE's Barnes-Hut sum."""
    eps = np.finfo(np.float64).eps
    dof = 1e-8 if dof <= 0 else dof
    P = sp.csr_matrix(P)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    d2 = np.sum((Y_new[rows] - Y_ref[P.indices]) ** 2, axis=1)
    w = 1.0 / (1.0 + d2 / dof)
    kl = float(np.sum(P.data * np.log(P.data / (w + eps) + eps)))
    sum_Q = 0.0
    ref2 = np.sum(Y_ref**2, axis=1)
    for a in range(0, Y_new.shape[0], chunk):
        block = Y_new[a : a + chunk]
        D = np.maximum(np.sum(block**2, axis=1)[:, None] + ref2[None, :] - 2 * block @ Y_ref.T, 0) + eps
        sum_Q += float(np.sum((1.0 + D / dof) ** -dof if dof != 1 else 1.0 / (1.0 + D)))
    return kl + float(P.data.sum()) * np.log(sum_Q + eps)


# ----------------------------------------------------------------------------------------------


class _LoadedAffinities(Affinities):
    """The affinities of a model read from a file: P and the reference points are inside the
    engine model, not available to Python."""

    def __init__(self, n):
        super().__init__()
        self._n = n
        self.P = None

    @property
    def n_samples(self):
        return self._n

    def to_new(self, data, perplexity=None, return_distances=False):
        raise NotImplementedError(
            "tsne_rs.opentsne: the affinities of a loaded model stay inside the engine; "
            "`to_new` is not available (transform and prepare_partial work)"
        )

    def _engine_reference(self):
        return "model"

    def _engine_perplexity(self, affinity_params):
        perplexity = affinity_params.get("perplexity", 30)
        if set(affinity_params) - {"perplexity"}:
            return None
        return float(perplexity), min(self._n, int(3 * perplexity))


class TSNEEmbedding(np.ndarray):
    """A t-SNE embedding: an ``ndarray`` of positions with its affinities and optimizer.

    ``TSNEEmbedding(embedding, affinities, dof=1, n_interpolation_points=3,
    min_num_intervals=50, ints_in_interval=1, negative_gradient_method="auto",
    random_state=None, optimizer=None, **gradient_descent_params)`` as openTSNE.
    """

    def __new__(
        cls,
        embedding,
        affinities,
        dof=1,
        n_interpolation_points=3,
        min_num_intervals=50,
        ints_in_interval=1,
        negative_gradient_method="auto",
        random_state=None,
        optimizer=None,
        **gradient_descent_params,
    ):
        _check_init_num_samples(embedding.shape[0], affinities.P.shape[0] if affinities.P is not None else affinities.n_samples)
        obj = np.array(embedding, dtype=np.float64, order="C").view(TSNEEmbedding)
        obj.affinities = affinities
        obj.gradient_descent_params = gradient_descent_params
        obj.gradient_descent_params.update(
            {
                "negative_gradient_method": negative_gradient_method,
                "n_interpolation_points": n_interpolation_points,
                "min_num_intervals": min_num_intervals,
                "ints_in_interval": ints_in_interval,
                "dof": dof,
            }
        )
        obj.random_state = random_state
        if optimizer is None:
            optimizer = gradient_descent()
        elif not isinstance(optimizer, gradient_descent):
            raise TypeError(
                "`optimizer` must be an instance of `%s`, but got `%s`."
                % (gradient_descent.__class__.__name__, type(optimizer))
            )
        obj.optimizer = optimizer
        obj.kl_divergence = None
        obj.interp_coeffs = None
        obj.box_x_lower_bounds = None
        obj.box_y_lower_bounds = None
        return obj

    @classmethod
    def _from_model(cls, model, shifts=(), **params):
        """An embedding around an engine model (loaded from a file, or grown by ``add``),
        at the model's positions less ``shifts``."""
        obj = cls(_unshift(model.positions(), shifts), _LoadedAffinities(model.n), **params)
        obj.optimizer._model = model
        obj.optimizer._shifts = list(shifts)
        obj.optimizer._has_reference = True
        obj.optimizer.gains, obj.optimizer.update = (np.array(a) for a in model.optimizer_state())
        return obj

    def optimize(self, n_iter, inplace=False, propagate_exception=False, **gradient_descent_params):
        """Run optimization on the embedding for ``n_iter`` steps (a new embedding unless
        ``inplace``; the optimizer state is copied along)."""
        if inplace:
            embedding = self
        else:
            embedding = TSNEEmbedding(
                np.copy(self),
                self.affinities,
                random_state=self.random_state,
                optimizer=self.optimizer.copy(),
                **self.gradient_descent_params,
            )
        if "reference_embedding" in gradient_descent_params:
            raise NotImplementedError("tsne_rs.opentsne: `reference_embedding` is not supported here")
        optim_params = dict(self.gradient_descent_params)
        optim_params.update(gradient_descent_params)
        optim_params["n_iter"] = n_iter
        _handle_nice_params(embedding, optim_params)
        try:
            error, embedding = embedding.optimizer(embedding=embedding, P=self.affinities.P, **optim_params)
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            if propagate_exception:
                raise ex
            error, embedding = ex.error, ex.final_embedding
        embedding.kl_divergence = error
        return embedding

    def _engine_settings(self):
        p = self.gradient_descent_params
        method = p.get("negative_gradient_method", "auto")
        if method == "auto":
            method = "bh" if self.shape[0] < 10_000 else "fft"
        method = "fft" if method in {"fft", "FFT", "interpolation"} else "bh"
        return (
            float(p.get("dof", 1)),
            _repulsion(method, self.shape[1]),
            float(p.get("theta", 0.5)),
            int(p.get("n_interpolation_points", 3)),
            int(p.get("min_num_intervals", 50)),
            1.0 / float(p.get("ints_in_interval", 1)),  # openTSNE: units per interval
        )

    def _engine_model(self):
        """The optimizer's engine model, at this array's positions."""
        opt = self.optimizer
        if isinstance(self.affinities, _LoadedAffinities):
            return opt._model_for(self, None, None, _jobs(self.gradient_descent_params.get("n_jobs", 1)), 0)
        return opt._model_for(
            self, self.affinities.P, self._engine_settings(), _jobs(self.gradient_descent_params.get("n_jobs", 1)),
            _seed(self.random_state),
        )

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
        """Embed new points into the existing embedding (each against the fixed reference,
        independently of the others). As openTSNE, the reference embedding is centred in
        place first."""
        affinity_signature = inspect.signature(self.affinities.to_new)
        if "perplexity" in affinity_signature.parameters:
            affinity_params = {"perplexity": perplexity}
        elif "perplexities" in affinity_signature.parameters:
            affinity_params = {"perplexities": perplexity}
        else:
            raise TypeError(
                f"`transform` currently does not support "
                f"{self.affinities.__class__.__name__} affinities. Please use "
                f"`prepare_partial` and `optimize` to add points to the embedding."
            )
        # Center the current embedding (in place, as openTSNE); the engine model keeps its
        # frame and the optimizer records the translation.
        self._engine_model()
        shift = (np.max(self, axis=0) + np.min(self, axis=0)) / 2
        self -= shift
        self.optimizer._shifts.append(np.asarray(shift))
        embedding = self.prepare_partial(X, initialization=initialization, k=k, **affinity_params)
        try:
            embedding.optimize(
                n_iter=early_exaggeration_iter,
                learning_rate=learning_rate,
                exaggeration=early_exaggeration,
                momentum=initial_momentum,
                inplace=True,
                propagate_exception=True,
                max_grad_norm=max_grad_norm,
                max_step_norm=max_step_norm,
            )
            embedding.optimize(
                n_iter=n_iter,
                learning_rate=learning_rate,
                exaggeration=exaggeration,
                momentum=final_momentum,
                inplace=True,
                propagate_exception=True,
                max_grad_norm=max_grad_norm,
                max_step_norm=max_step_norm,
            )
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            embedding = ex.final_embedding
        return embedding

    def prepare_partial(self, X, initialization="median", k=25, **affinity_params):
        """Prepare new points for optimization against this embedding: their affinities to
        the reference points and their starting positions (``median``, ``weighted``,
        ``random`` or an array)."""
        affinity_signature = inspect.signature(self.affinities.to_new)
        if (
            "perplexities" in affinity_signature.parameters
            and "perplexity" in affinity_params
            and "perplexities" not in affinity_params
        ):
            affinity_params["perplexities"] = affinity_params.pop("perplexity")
        partial = self._engine_partial(X, initialization, k, affinity_params)
        if partial is not None:
            engine_partial, theta = partial
            shifts = list(self.optimizer._shifts)
            embedding = _unshift(engine_partial.positions(), shifts)
            affinities = self.affinities
            params = dict(affinity_params)

            def P_of():
                return affinities.to_new(X, **params)

            result = PartialTSNEEmbedding(embedding, self, P=_LazyP(P_of, X.shape[0]), **self.gradient_descent_params)
            result.optimizer._partial = engine_partial
            result.optimizer._P_source = result.__dict__["_P"]
            return result
        P, neighbors, distances = self.affinities.to_new(X, return_distances=True, **affinity_params)
        if isinstance(initialization, np.ndarray):
            _check_init_num_samples(initialization.shape[0], X.shape[0])
            _check_init_num_dimensions(initialization.shape[1], self.shape[1])
            embedding = np.array(initialization)
        elif isinstance(initialization, str) and initialization == "random":
            embedding = initialization_scheme.random(X, self.shape[1], self.random_state)
        elif isinstance(initialization, str) and initialization == "weighted":
            embedding = initialization_scheme.weighted_mean(X, self, neighbors[:, :k], distances[:, :k])
        elif isinstance(initialization, str) and initialization == "median":
            embedding = initialization_scheme.median(self, neighbors[:, :k])
        else:
            raise ValueError(f"Unrecognized initialization scheme `{initialization}`.")
        return PartialTSNEEmbedding(embedding, self, P=P, **self.gradient_descent_params)

    def _engine_partial(self, X, initialization, k, affinity_params):
        """The engine's placement of ``X`` when it computes exactly what openTSNE would
        (perplexity-calibrated Gaussian, median or random start, points it can search), else
        None (then P and the start are computed in Python)."""
        if not (isinstance(initialization, str) and initialization in ("median", "random")):
            return None
        engine_perplexity = getattr(self.affinities, "_engine_perplexity", lambda p: None)(affinity_params)
        reference = getattr(self.affinities, "_engine_reference", lambda: None)()
        if engine_perplexity is None or reference is None:
            return None
        perplexity, kk = engine_perplexity
        if not (perplexity >= 1 and perplexity < kk) or self.shape[0] < kk:
            return None
        if not isinstance(X, np.ndarray) or sp.issparse(X) or X.ndim != 2:
            return None
        model = self._engine_model()
        if not self.optimizer._has_reference:
            points, metric = reference
            if isinstance(points, np.ndarray) and points.dtype not in (np.float32, np.float64):
                points = points.astype(np.float64)
            model.set_reference(points, metric)
            self.optimizer._has_reference = True
        theta = float(self.gradient_descent_params.get("theta", 0.5))
        verbose = bool(getattr(self.affinities, "verbose", False))
        # The engine searches the neighbours (exactly) and calibrates them in one call.
        with Timer(f"Finding {kk} nearest neighbors in existing embedding using exact search...", verbose):
            partial = model.prepare_partial(
                as_float_array(X),
                perplexity=perplexity,
                k=int(min(k, kk)),
                theta=theta,
                start=initialization,
                seed=_seed(self.random_state),
            )
        with Timer("Calculating affinity matrix...", verbose):
            pass
        return partial, theta

    def prepare_interpolation_grid(self, padding=0.25):
        """Centre the embedding in place and lay the interpolation grid over it, ``padding``
        (a fraction) wider than it on every side, as openTSNE: the grid new points are placed
        on with ``negative_gradient_method="fft"``. The engine computes the grid's potentials
        itself (``interp_coeffs`` stays None); ``box_x_lower_bounds`` (and, in 2-D,
        ``box_y_lower_bounds``) are openTSNE's."""
        if self.shape[1] > 2:
            raise RuntimeError("Cannot prepare interpolation grid for >2d embeddings")
        self._engine_model()
        shift = (np.max(self, axis=0) + np.min(self, axis=0)) / 2
        self -= shift
        self.optimizer._shifts.append(np.asarray(shift))
        self._grid_padding = float(padding)
        p = self.gradient_descent_params
        lo, hi = float(np.min(self)), float(np.max(self))
        if self.shape[1] == 2:
            hi = max(abs(lo), abs(hi))
            lo = -hi
        lo, hi = lo * (1 + padding), hi * (1 + padding)
        n = int(max(p.get("min_num_intervals", 50), (hi - lo) / p.get("ints_in_interval", 1)))
        width = (hi - lo) / n
        if self.shape[1] == 1:
            self.box_x_lower_bounds = lo + width * np.arange(n, dtype=float)
        else:
            self.box_x_lower_bounds = np.tile(lo + width * np.arange(n, dtype=float), n)
            self.box_y_lower_bounds = np.repeat(lo + width * np.arange(n, dtype=float), n)

    def _placement_grid(self):
        """The engine's grid settings for new points (``Partial.optimize``'s ``grid``)."""
        p = self.gradient_descent_params
        return (
            int(p.get("n_interpolation_points", 3)),
            int(p.get("min_num_intervals", 50)),
            1.0 / float(p.get("ints_in_interval", 1)),
            float(getattr(self, "_grid_padding", 0.25)),
            "opentsne",
        )

    # -- tsne_rs extensions --------------------------------------------------------------------
    @property
    def summary(self):
        """What the engine's fit and later runs did (sizes, backends, stages, timings)."""
        return self._engine_model().summary()

    def add(self, X, n_iter=250, exaggeration=1.0, momentum=0.8, learning_rate="auto"):
        """A new embedding with the rows of ``X`` appended: placed, then settled with the old
        points pinned (a tsne_rs extension; the affinities of the grown set are the engine's
        perplexity affinities)."""
        model = self._engine_model().copy()
        if not self.optimizer._has_reference:
            reference = self.affinities._engine_reference()
            if reference is None:
                raise NotImplementedError("tsne_rs.opentsne: add needs affinities computed from points")
            model.set_reference(*reference)
        model.add(
            as_float_array(X),
            iterations=int(n_iter),
            exaggeration=float(exaggeration),
            momentum=float(momentum),
            learning_rate=None if learning_rate == "auto" else float(learning_rate),
        )
        return TSNEEmbedding._from_model(model, self.optimizer._shifts)

    def save(self, path):
        """Writes the engine model file (positions, P, reference points; versioned)."""
        model = self._engine_model()
        has_reference = self.optimizer._has_reference
        if self.optimizer._shifts:  # the array was translated (transform): a copy at its positions
            model = model.copy()
            model.set_positions(np.ascontiguousarray(self, dtype=np.float64))
        if not has_reference:
            reference = self.affinities._engine_reference()
            if reference is not None and reference != "model":
                model = model.copy()
                model.set_reference(*reference)
        model.save(str(path))

    @classmethod
    def load(cls, path):
        """Reads a model file written by :meth:`save` (or ``tsne embed --save-model``)."""
        return cls._from_model(_tsne_rs.Model.load(str(path)))

    def __reduce__(self):
        state = super().__reduce__()
        new_state = state[2] + (
            self.optimizer,
            self.affinities,
            self.gradient_descent_params,
            self.random_state,
            self.kl_divergence,
            self.interp_coeffs,
            self.box_x_lower_bounds,
            self.box_y_lower_bounds,
        )
        return state[0], state[1], new_state

    def __setstate__(self, state):
        self.box_y_lower_bounds = state[-1]
        self.box_x_lower_bounds = state[-2]
        self.interp_coeffs = state[-3]
        self.kl_divergence = state[-4]
        self.random_state = state[-5]
        self.gradient_descent_params = state[-6]
        self.affinities = state[-7]
        self.optimizer = state[-8]
        super().__setstate__(state[:-8])


def _seed(random_state):
    """A seed for the engine that does not consume a RandomState's stream."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return 0
    return seed_of(random_state)


def _jobs(n_jobs):
    import multiprocessing

    n_jobs = 1 if n_jobs is None else int(n_jobs)
    if n_jobs < 0:
        n_jobs = multiprocessing.cpu_count() + n_jobs + 1
    return max(n_jobs, 1)


class _LazyP:
    """The new points' P, computed (by ``to_new``) the first time it is read."""

    def __init__(self, factory, n):
        self.factory, self.shape = factory, (n, None)


class PartialTSNEEmbedding(np.ndarray):
    """New points embedded against a fixed reference :class:`TSNEEmbedding`.

    ``PartialTSNEEmbedding(embedding, reference_embedding, P, optimizer=None,
    **gradient_descent_params)`` as openTSNE; ``P`` (csr, new x reference, rows summing to 1)
    is computed on first access for partial embeddings the engine prepared.
    """

    def __new__(cls, embedding, reference_embedding, P, optimizer=None, **gradient_descent_params):
        _check_init_num_samples(embedding.shape[0], P.shape[0])
        obj = np.array(embedding, dtype=np.float64, order="C").view(PartialTSNEEmbedding)
        obj.reference_embedding = reference_embedding
        obj.P = P
        obj.gradient_descent_params = gradient_descent_params
        if optimizer is None:
            optimizer = gradient_descent()
        elif not isinstance(optimizer, gradient_descent):
            raise TypeError(
                "`optimizer` must be an instance of `%s`, but got `%s`."
                % (gradient_descent.__class__.__name__, type(optimizer))
            )
        obj.optimizer = optimizer
        obj.kl_divergence = None
        return obj

    @property
    def P(self):
        lazy = self.__dict__.get("_P")
        P = lazy
        if isinstance(lazy, _LazyP):
            P = lazy.factory()
            self.__dict__["_P"] = P
            optimizer = self.__dict__.get("optimizer")
            if optimizer is not None and optimizer._P_source is lazy:
                optimizer._P_source = P
        return P

    @P.setter
    def P(self, value):
        self.__dict__["_P"] = value

    def optimize(self, n_iter, inplace=False, propagate_exception=False, **gradient_descent_params):
        """Run optimization of the new points against the fixed reference for ``n_iter``
        steps (a new object unless ``inplace``)."""
        if inplace:
            embedding = self
        else:
            embedding = PartialTSNEEmbedding(
                np.copy(self),
                self.reference_embedding,
                self.__dict__.get("_P"),
                optimizer=self.optimizer.copy(),
                **self.gradient_descent_params,
            )
        optim_params = dict(self.gradient_descent_params)
        optim_params.update(gradient_descent_params)
        optim_params["n_iter"] = n_iter
        _handle_nice_params(embedding, optim_params)
        try:
            error, embedding = embedding.optimizer(
                embedding=embedding,
                reference_embedding=self.reference_embedding,
                P=None,
                **optim_params,
            )
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            if propagate_exception:
                raise ex
            error, embedding = ex.error, ex.final_embedding
        embedding.kl_divergence = error
        return embedding


try:
    from sklearn.base import BaseEstimator as _Base
except ImportError:  # pragma: no cover
    _Base = object


class TSNE(_Base):
    """t-Distributed Stochastic Neighbor Embedding, openTSNE's estimator: its parameters,
    defaults, ``fit`` and ``prepare_initial``."""

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
        self.exaggeration = exaggeration
        if early_exaggeration == "auto":
            if self.exaggeration is None:
                early_exaggeration = 12
            else:
                early_exaggeration = max(12, self.exaggeration)
        self.early_exaggeration = early_exaggeration
        self.early_exaggeration_iter = early_exaggeration_iter
        self.n_iter = n_iter
        self.dof = dof
        self.theta = theta
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        if isinstance(initialization, np.ndarray):
            _check_init_num_dimensions(initialization.shape[1], n_components)
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

    def fit(self, X=None, affinities=None, initialization=None):
        """Fit a t-SNE embedding for a given data set (or precomputed affinities); returns a
        :class:`TSNEEmbedding`."""
        if self.verbose:
            print("-" * 80, repr(self), "-" * 80, sep="\n")
        embedding = self.prepare_initial(X, affinities, initialization)
        try:
            embedding.optimize(
                n_iter=self.early_exaggeration_iter,
                exaggeration=self.early_exaggeration,
                momentum=self.initial_momentum,
                inplace=True,
                propagate_exception=True,
            )
            embedding.optimize(
                n_iter=self.n_iter,
                exaggeration=self.exaggeration,
                momentum=self.final_momentum,
                inplace=True,
                propagate_exception=True,
            )
        except OptimizationInterrupt as ex:
            log.info("Optimization was interrupted with callback.")
            embedding = ex.final_embedding
        return embedding

    def prepare_initial(self, X=None, affinities=None, initialization=None):
        """The affinities and the initial positions, as an unoptimized :class:`TSNEEmbedding`."""
        if X is None and affinities is None and initialization is None:
            raise ValueError("At least one of the parameters `X` or `affinities` must be specified!")
        if affinities is None:
            if self.metric == "precomputed" and sp.issparse(X):
                X = _distance_graph_index(X)
                method = X
                X = None
                affinities = MultiscaleMixture(
                    None, self.perplexity, n_jobs=self.n_jobs, verbose=self.verbose, knn_index=method
                )
            else:
                affinities = MultiscaleMixture(
                    X,
                    self.perplexity,
                    method=self.neighbors,
                    metric=self.metric,
                    metric_params=self.metric_params,
                    n_jobs=self.n_jobs,
                    random_state=self.random_state,
                    verbose=self.verbose,
                    knn_kwargs=self.knn_kwargs,
                )
        else:
            if not isinstance(affinities, Affinities) and not _is_opentsne_affinities(affinities):
                raise ValueError("`affinities` must be an instance of `openTSNE.affinity.Affinities`")
            log.info("Precomputed affinities provided. Ignoring perplexity-related parameters.")

        if initialization is None:
            initialization = self.initialization
            log.info("Precomputed initialization provided. Ignoring initalization-related parameters.")

        if X is None and isinstance(initialization, str) and initialization == "pca":
            log.warning(
                "Attempting to use `pca` initalization, but no `X` matrix specified! "
                "Using `spectral` initilization instead, which doesn't need access "
                "to the data matrix"
            )
            initialization = "spectral"
        if self.metric == "precomputed" and isinstance(initialization, str) and initialization == "pca":
            log.warning(
                "Attempting to use `pca` initalization, but using precomputed "
                "distance matrix! Using `spectral` initilization instead, which "
                "doesn't need access to the data matrix."
            )
            initialization = "spectral"

        if X is not None:
            n_samples = X.shape[0]
        else:
            n_samples = affinities.P.shape[0]

        if isinstance(initialization, np.ndarray):
            _check_init_num_samples(initialization.shape[0], n_samples)
            _check_init_num_dimensions(initialization.shape[1], self.n_components)
            embedding = np.array(initialization)
            stddev = np.std(embedding, axis=0)
            if any(stddev > 1e-2):
                log.warning(
                    "Standard deviation of embedding is greater than 0.0001. Initial "
                    "embeddings with high variance may have display poor convergence."
                )
        elif initialization == "pca":
            embedding = initialization_scheme.pca(
                X, self.n_components, random_state=self.random_state, verbose=self.verbose
            )
        elif initialization == "random":
            embedding = initialization_scheme.random(
                n_samples, self.n_components, random_state=self.random_state, verbose=self.verbose
            )
        elif initialization == "spectral":
            embedding = initialization_scheme.spectral(
                affinities.P, self.n_components, random_state=self.random_state, verbose=self.verbose
            )
        else:
            raise ValueError(f"Unrecognized initialization scheme `{initialization}`.")

        gradient_descent_params = {
            "dof": self.dof,
            "negative_gradient_method": self.negative_gradient_method,
            "learning_rate": self.learning_rate,
            "momentum": self.final_momentum,
            "theta": self.theta,
            "n_interpolation_points": self.n_interpolation_points,
            "min_num_intervals": self.min_num_intervals,
            "ints_in_interval": self.ints_in_interval,
            "max_grad_norm": self.max_grad_norm,
            "max_step_norm": self.max_step_norm,
            "n_jobs": self.n_jobs,
            "verbose": self.verbose,
            "callbacks": self.callbacks,
            "callbacks_every_iters": self.callbacks_every_iters,
        }
        return TSNEEmbedding(
            embedding, affinities=affinities, random_state=self.random_state, **gradient_descent_params
        )


def _is_opentsne_affinities(obj):
    try:
        from openTSNE.affinity import Affinities as Theirs
    except Exception:
        return False
    return isinstance(obj, Theirs)


def _distance_graph_index(G):
    """A scipy sparse kNN distance graph (tsne_rs extension of ``metric="precomputed"``) as a
    precomputed-neighbours index."""
    indices, distances = knn_from_sparse(G)
    return nearest_neighbors.PrecomputedNeighbors(indices, distances)


def knn_from_sparse(G, k=None):  # kept importable here for tsne_rs.scanpy
    """Neighbour indices and distances (``n x k``) from a scipy sparse kNN distance graph:
    each row's ``k`` nearest stored entries, ``k`` the fewest any row has (the diagonal
    ignored)."""
    try:
        from .._common import knn_from_sparse as shared
    except ImportError:
        shared = None
    if shared is not None:
        return shared(G) if k is None else shared(G, k)
    G = G.tocsr().copy()
    G.setdiag(0)
    G.eliminate_zeros()
    counts = np.diff(G.indptr)
    kk = int(counts.min()) if len(counts) else 0
    if k is not None:
        if k > kk:
            raise ValueError(f"the kNN graph has a row with fewer than k={k} neighbours")
        kk = k
    if kk < 1:
        raise ValueError("the kNN graph has a row without neighbours")
    n = G.shape[0]
    indices = np.empty((n, kk), dtype=np.int64)
    distances = np.empty((n, kk), dtype=np.float64)
    for i in range(n):
        a, b = G.indptr[i], G.indptr[i + 1]
        order = np.argsort(G.data[a:b], kind="stable")[:kk]
        indices[i] = G.indices[a:b][order]
        distances[i] = G.data[a:b][order]
    if not np.all(np.isfinite(distances)) or np.any(distances < 0):
        r = int(np.argwhere(~np.isfinite(distances) | (distances < 0))[0][0])
        raise ValueError(f"the kNN graph has a negative or non-finite distance in row {r}")
    return indices, distances
