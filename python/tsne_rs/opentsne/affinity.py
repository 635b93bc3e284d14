"""openTSNE's ``openTSNE.affinity`` on the Rust engine.

Each class has openTSNE 1.0.4's constructor, checks, log messages (``logging``, loggers
``openTSNE.affinity``; openTSNE does not use ``warnings`` here) and attributes. The joint P of
the training points is computed by the engine (``tsne_rs._tsne_rs.affinities``: its neighbour
search and perplexity calibration) and stored as openTSNE does, a float64
``scipy.sparse.csr_matrix`` summing to 1; openTSNE's Gaussian mixture of several perplexities
(``MultiscaleMixture``) comes from the engine's ``mixture_rows``, openTSNE's bisection.
``to_new`` (rows: new points, columns: reference points, each row summing to 1) calibrates
the same way on an exact scikit-learn neighbour query (``FixedSigmaNN`` and ``Uniform``
rows are their closed forms in numpy).
"""

import logging
import numbers

import numpy as np
import scipy.sparse as sp

from .. import _tsne_rs
from .._common import seed_of
from . import nearest_neighbors
from ._utils import Timer

log = logging.getLogger("openTSNE.affinity")

__all__ = [
    "Affinities",
    "PerplexityBasedNN",
    "FixedSigmaNN",
    "MultiscaleMixture",
    "Multiscale",
    "Uniform",
    "PrecomputedAffinities",
    "get_knn_index",
    "joint_probabilities_nn",
]


class Affinities:
    """Computes affinities between points in an embedding (openTSNE's base class).

    A subclass needs ``P`` (a square scipy sparse matrix) and, for ``transform`` /
    ``prepare_partial``, ``to_new``.
    """

    def __init__(self, verbose=False):
        self.P = None
        self.verbose = verbose
        self.knn_index = None

    def to_new(self, data, return_distances=False):
        """Compute the affinities of new samples to the initial samples."""

    @property
    def n_samples(self):
        if self.knn_index is None:
            raise RuntimeError("`knn_index` is not set!")
        return self.knn_index.n_samples

    # -- tsne_rs: what the engine needs to place new points itself -----------------------------
    def _engine_reference(self):
        """``(points, metric)`` for ``Model.set_reference`` when the engine can find new
        points' neighbours itself (dense data under a built-in metric), else None."""
        index = getattr(self, "knn_index", None)
        if not isinstance(index, nearest_neighbors.KNNIndex):
            return None
        metric = index.engine_metric() if index.engine_neighbors else None
        if metric is None:
            return None
        return np.asarray(index.data), metric

    def _engine_perplexity(self, affinity_params):
        """The single perplexity-calibrated Gaussian the engine's placement computes, or None
        when these affinities are of another kind."""
        return None


# ----------------------------------------------------------------------------------------------
# Helpers


def _to_csr(parts):
    """A float64 csr_matrix summing to 1 from the engine's ``(n, indptr, indices, data)``."""
    n, indptr, indices, data = parts
    P = sp.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(n, n),
    )
    P /= P.sum()
    return P


def _engine_P(knn_index, verbose, n_jobs, **settings):
    """The engine's joint P: it searches the data itself when ``knn_index`` allows it (a
    built-in metric on dense data), else it calibrates ``knn_index.build()``'s graph."""
    index = knn_index
    metric = index.engine_metric() if isinstance(index, nearest_neighbors.KNNIndex) else None
    jobs = None if n_jobs in (None, -1) else int(n_jobs)
    if metric is not None:
        data = np.asarray(index.data)
        if data.dtype not in (np.float32, np.float64):
            data = data.astype(np.float64)
        # The search the engine actually runs (openTSNE's wording).
        approximate = index.engine_neighbors in ("nndescent", "hnsw") or (
            index.engine_neighbors == "auto" and data.shape[0] >= 200_000
        )
        search = "NN-descent approximate search" if approximate and index.engine_neighbors != "hnsw" else (
            "HNSW approximate search" if approximate else "exact search"
        )
        with Timer(f"Finding {index.k} nearest neighbors using {search} using {index.metric} distance...", verbose):
            parts = _tsne_rs.affinities(
                data,
                kind="points",
                metric=metric,
                neighbors=index.engine_neighbors,
                seed=seed_of(getattr(index, "random_state", None)),
                n_jobs=jobs,
                lenient=True,
                **settings,
            )
        with Timer("Calculating affinity matrix...", verbose):
            return _to_csr(parts)
    neighbors, distances = index.build()
    with Timer("Calculating affinity matrix...", verbose):
        parts = _tsne_rs.affinities(
            np.ascontiguousarray(neighbors, dtype=np.int64),
            kind="graph",
            knn_distances=np.ascontiguousarray(distances, dtype=np.float64),
            n_jobs=jobs,
            lenient=True,
            **settings,
        )
        return _to_csr(parts)


def _gaussian_perplexity(distances, perplexities):
    """openTSNE's ``_tsne.compute_gaussian_perplexity``: for each scale ``h`` (in the order
    given), ``p_j = sqrt(tau_h) exp(-d_j^2 tau_h / 2)`` with ``tau_h`` bisected (from 1) until
    the entropy ``tau/2 sum_j p_j d_j^2 / S + log S - log(tau) / 2`` (``S = sum_j p_j + eps``)
    is ``log(h)`` to 1e-8; the mixture is the sum of the scales' unnormalised ``p``,
    row-normalised once. As openTSNE's Cython, the bisection bracket of a row is kept from one
    scale to the next, and a row that does not converge keeps the values of the last
    evaluated ``tau``. Computed by the engine (``MultiscaleMixture::opentsne``)."""
    d = np.ascontiguousarray(distances, dtype=np.float64)
    return _tsne_rs.mixture_rows(d, [float(p) for p in perplexities], shared_bracket=True)


def _mixture_joint_P(neighbors, distances, perplexities, n_reference_samples=None):
    """openTSNE's pair-wise symmetric P of the Gaussian mixture over several perplexities:
    the conditional mixture (``_gaussian_perplexity``, openTSNE's bisection exactly), then
    ``(P + P^T) / 2`` normalised to sum 1, as a float64 csr_matrix."""
    neighbors = np.asarray(neighbors)
    n = neighbors.shape[0]
    P = _rows_to_csr(_gaussian_perplexity(distances, perplexities), neighbors, n_reference_samples or n)
    P = sp.csr_matrix((P + P.T) / 2)
    P /= np.sum(P)
    return P


def _rows_to_csr(values, neighbors, n_reference):
    n, k = values.shape
    return sp.csr_matrix(
        (values.ravel(), np.asarray(neighbors).ravel(), range(0, n * k + 1, k)), shape=(n, n_reference)
    )


def _check_data_or_index(data, knn_index):
    if data is None and knn_index is None:
        raise ValueError("At least one of the parameters `data` or `knn_index` must be specified!")
    if data is not None and knn_index is not None:
        raise ValueError("Both `data` or `knn_index` were specified! Please pass only one.")


def _conditional_P(knn_index, verbose, perplexities):
    """openTSNE's ``symmetrize=False`` P of the index's graph: the conditional rows
    (openTSNE's bisection, by the engine), normalised to sum 1 and not symmetrised."""
    neighbors, distances = knn_index.build()
    with Timer("Calculating affinity matrix...", verbose):
        return joint_probabilities_nn(neighbors, distances, perplexities, symmetrize=False)


def _fixed_sigma_rows(neighbors, distances, sigma, n_reference):
    """openTSNE's fixed-bandwidth kernel: rows ``exp(-d^2 / 2 sigma^2)`` summing to 1."""
    conditional_P = np.exp(-(np.asarray(distances) ** 2) / (2 * sigma**2))
    conditional_P /= np.sum(conditional_P, axis=1)[:, np.newaxis]
    return _rows_to_csr(conditional_P, neighbors, n_reference)


def joint_probabilities_nn(
    neighbors,
    distances,
    perplexities,
    symmetrize=True,
    normalization="pair-wise",
    n_reference_samples=None,
    n_jobs=1,
):
    """openTSNE's kernel: perplexity-calibrated Gaussian affinities over a kNN graph.

    ``pair-wise`` (joint, symmetrised, summing to 1) is computed by the engine;
    ``point-wise`` (rows summing to 1, openTSNE's ``to_new``) in numpy.
    """
    assert normalization in ("pair-wise", "point-wise"), (
        f"Unrecognized normalization scheme `{normalization}`."
    )
    neighbors = np.asarray(neighbors)
    n_samples, k = neighbors.shape
    if n_reference_samples is None:
        n_reference_samples = n_samples
    perplexities = list(np.atleast_1d(perplexities).astype(float))
    if normalization == "pair-wise" and symmetrize and n_reference_samples == n_samples:
        if len(perplexities) != 1:
            return _mixture_joint_P(neighbors, distances, perplexities)
        parts = _tsne_rs.affinities(
            np.ascontiguousarray(neighbors, dtype=np.int64),
            kind="graph",
            knn_distances=np.ascontiguousarray(distances, dtype=np.float64),
            perplexity=perplexities[0],
            k=k,
            lenient=True,
            n_jobs=None if n_jobs in (None, -1) else int(n_jobs),
        )
        return _to_csr(parts)
    P = _rows_to_csr(_gaussian_perplexity(distances, perplexities), neighbors, n_reference_samples)
    if symmetrize:
        P = (P + P.T) / 2
    if normalization == "pair-wise":
        return sp.csr_matrix(P / np.sum(P))
    P = sp.diags(np.asarray(1 / P.sum(axis=1)).ravel()) @ P
    return sp.csr_matrix(P)


# ----------------------------------------------------------------------------------------------


def get_knn_index(
    data,
    method,
    k,
    metric,
    metric_params=None,
    n_jobs=1,
    random_state=None,
    verbose=False,
    knn_kwargs=None,
):
    """openTSNE's choice of nearest-neighbour index (see ``nearest_neighbors``)."""
    if metric == "precomputed":
        return nearest_neighbors.PrecomputedDistanceMatrix(data, k=k)
    nn = nearest_neighbors
    preferred_approx_method = nn.Annoy
    if sp.issparse(data) or metric not in ["cosine", "euclidean", "manhattan", "hamming", "dot", "l1", "l2", "taxicab"]:
        preferred_approx_method = nn.NNDescent
    preferred_method = nn.Sklearn if data.shape[0] < 1000 else preferred_approx_method
    methods = {
        "exact": nn.Sklearn,
        "auto": preferred_method,
        "approx": preferred_approx_method,
        "annoy": nn.Annoy,
        "pynndescent": nn.NNDescent,
        "hnsw": nn.HNSW,
    }
    if _is_knn_index(method):
        return method
    if not isinstance(method, str) or method not in methods:
        raise ValueError(
            "Unrecognized nearest neighbor algorithm `%s`. Please choose one "
            "of the supported methods or provide a valid `KNNIndex` instance." % method
        )
    return methods[method](
        data=data,
        k=k,
        metric=metric,
        metric_params=metric_params,
        n_jobs=n_jobs,
        random_state=random_state,
        verbose=verbose,
        knn_kwargs=knn_kwargs,
    )


def _is_knn_index(obj):
    if isinstance(obj, nearest_neighbors.KNNIndex):
        return True
    try:  # openTSNE's own index objects work too
        from openTSNE.nearest_neighbors import KNNIndex
    except Exception:
        return False
    return isinstance(obj, KNNIndex)


# ----------------------------------------------------------------------------------------------


class PerplexityBasedNN(Affinities):
    """Compute standard, Gaussian, perplexity-based affinities (openTSNE's defaults)."""

    def __init__(
        self,
        data=None,
        perplexity=30,
        method="auto",
        metric="euclidean",
        metric_params=None,
        symmetrize=True,
        n_jobs=1,
        random_state=None,
        verbose=False,
        k_neighbors="auto",
        knn_kwargs=None,
        knn_index=None,
    ):
        _check_data_or_index(data, knn_index)
        if knn_index is None:
            n_samples = data.shape[0]
            if k_neighbors == "auto":
                _k_neighbors = min(n_samples - 1, int(3 * perplexity))
            else:
                _k_neighbors = k_neighbors
            effective_perplexity = self.check_perplexity(perplexity, _k_neighbors)
            if _k_neighbors > int(3 * effective_perplexity):
                log.warning(
                    "The k_neighbors value is over 3 times larger than the perplexity value. "
                    "This may result in an unnecessary slowdown."
                )
            self.knn_index = get_knn_index(
                data,
                method,
                k=_k_neighbors,
                metric=metric,
                metric_params=metric_params,
                n_jobs=n_jobs,
                random_state=random_state,
                verbose=verbose,
                knn_kwargs=knn_kwargs,
            )
        else:
            self.knn_index = knn_index
            effective_perplexity = self.check_perplexity(perplexity, self.knn_index.k)
            log.info("KNN index provided. Ignoring KNN-related parameters.")
        self.symmetrize = symmetrize
        self.P = self._P(self.knn_index, verbose, n_jobs, effective_perplexity)
        self.perplexity = perplexity
        self.effective_perplexity_ = effective_perplexity
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs

    # openTSNE keeps the training kNN graph in these (name-mangled) attributes; here it is
    # searched (exactly) the first time it is read.
    @property
    def _PerplexityBasedNN__neighbors(self):
        return self.knn_index.build()[0]

    @property
    def _PerplexityBasedNN__distances(self):
        return self.knn_index.build()[1]

    def set_perplexity(self, new_perplexity):
        """Change the perplexity of the affinity matrix (not above the kNN graph's)."""
        if new_perplexity == self.perplexity:
            return
        effective_perplexity = self.check_perplexity(new_perplexity, np.inf)
        k = self.knn_index.k
        if effective_perplexity > k:
            raise RuntimeError(
                "The desired perplexity `%.2f` is larger than the kNN graph "
                "allows. This would need to recompute the nearest neighbors, "
                "which is not efficient. Please create a new `%s` instance "
                "with the increased perplexity." % (effective_perplexity, self.__class__.__name__)
            )
        if 3 * effective_perplexity > k:
            log.warning(
                "The new perplexity is quite close to the computed number of "
                "nearest neighbors. The results may be unexpected. Consider "
                "creating a new `%s` instance with the increased perplexity." % self.__class__.__name__
            )
        self.perplexity = new_perplexity
        self.effective_perplexity_ = effective_perplexity
        k_neighbors = min(int(3 * new_perplexity), k)
        with Timer("Perplexity changed. Recomputing affinity matrix...", self.verbose):
            self.P = self._P(_Truncated(self.knn_index, k_neighbors), False, self.n_jobs, effective_perplexity)

    def _P(self, index, verbose, n_jobs, perplexity):
        """The engine's joint P, or the conditional one when not ``symmetrize``."""
        if not self.symmetrize:
            return _conditional_P(index, verbose, [float(perplexity)])
        return _engine_P(index, verbose, n_jobs, perplexity=float(perplexity), k=int(index.k))

    def to_new(self, data, perplexity=None, return_distances=False, k_neighbors="auto"):
        """Affinities of new samples to the reference samples: csr (n_new, n_reference),
        rows summing to 1."""
        perplexity = perplexity if perplexity is not None else self.perplexity
        if k_neighbors == "auto":
            _k_neighbors = min(self.n_samples, int(3 * perplexity))
        else:
            _k_neighbors = k_neighbors
        effective_perplexity = self.check_perplexity(perplexity, _k_neighbors)
        neighbors, distances = self.knn_index.query(data, _k_neighbors)
        with Timer("Calculating affinity matrix...", self.verbose):
            P = joint_probabilities_nn(
                neighbors,
                distances,
                [effective_perplexity],
                symmetrize=False,
                normalization="point-wise",
                n_reference_samples=self.n_samples,
                n_jobs=self.n_jobs,
            )
        if return_distances:
            return P, neighbors, distances
        return P

    def _engine_perplexity(self, affinity_params):
        if set(affinity_params) - {"perplexity"}:
            return None
        perplexity = affinity_params.get("perplexity")
        perplexity = perplexity if perplexity is not None else self.perplexity
        k = min(self.n_samples, int(3 * perplexity))
        if perplexity > k:
            return None  # openTSNE lowers it; the engine would refuse
        return float(perplexity), k

    @staticmethod
    def check_perplexity(perplexity, k_neighbors):
        if perplexity <= 0:
            raise ValueError("Perplexity must be >=0. %.2f given" % perplexity)
        if perplexity > k_neighbors:
            old_perplexity, perplexity = perplexity, k_neighbors / 3
            log.warning(
                "Perplexity value %d is too high. Using perplexity %.2f instead" % (old_perplexity, perplexity)
            )
        return perplexity


class _Truncated:
    """The first ``k`` neighbours of an index (``set_perplexity``)."""

    def __init__(self, index, k):
        self._index, self.k, self.n_samples = index, k, index.n_samples

    def engine_metric(self):
        return None

    def build(self):
        indices, distances = self._index.build()
        return indices[:, : self.k], distances[:, : self.k]


class FixedSigmaNN(Affinities):
    """Gaussian affinities with one fixed bandwidth ``sigma`` over ``k`` neighbours."""

    def __init__(
        self,
        data=None,
        sigma=None,
        k=30,
        method="auto",
        metric="euclidean",
        metric_params=None,
        symmetrize=True,
        n_jobs=1,
        random_state=None,
        verbose=False,
        knn_kwargs=None,
        knn_index=None,
    ):
        if sigma is None:
            raise ValueError("`sigma` must be specified!")
        _check_data_or_index(data, knn_index)
        if knn_index is None:
            if k >= data.shape[0]:
                raise ValueError("`k` (%d) cannot be larger than N-1 (%d)." % (k, data.shape[0]))
            self.knn_index = get_knn_index(
                data,
                method,
                k=k,
                metric=metric,
                metric_params=metric_params,
                n_jobs=n_jobs,
                random_state=random_state,
                verbose=verbose,
                knn_kwargs=knn_kwargs,
            )
        else:
            self.knn_index = knn_index
            log.info("KNN index provided. Ignoring KNN-related parameters.")
        if symmetrize:
            self.P = _engine_P(
                self.knn_index, verbose, n_jobs, affinity="fixed_sigma", sigma=float(sigma), k=int(self.knn_index.k)
            )
        else:
            neighbors, distances = self.knn_index.build()
            with Timer("Calculating affinity matrix...", verbose):
                P = _fixed_sigma_rows(neighbors, distances, sigma, self.knn_index.n_samples)
                self.P = sp.csr_matrix(P / np.sum(P))
        self.symmetrize = symmetrize
        self.sigma = sigma
        self.n_jobs = n_jobs
        self.verbose = verbose

    def to_new(self, data, k=None, sigma=None, return_distances=False):
        n_samples = data.shape[0]
        n_reference_samples = self.n_samples
        if k is None:
            k = self.knn_index.k
        elif k >= n_reference_samples:
            raise ValueError(
                "`k` (%d) cannot be larger than the number of reference samples (%d)." % (k, self.n_samples)
            )
        if sigma is None:
            sigma = self.sigma
        neighbors, distances = self.knn_index.query(data, k)
        with Timer("Calculating affinity matrix...", self.verbose):
            P = _fixed_sigma_rows(neighbors, distances, sigma, n_reference_samples)
        if return_distances:
            return P, neighbors, distances
        return P


class MultiscaleMixture(Affinities):
    """openTSNE's Gaussian-mixture multiscale kernel. One perplexity is the standard
    perplexity kernel (what ``TSNE.fit`` uses; the engine's); several perplexities are
    openTSNE's mixture ``p_j|i ~ sum_h sqrt(tau_h) exp(-d_ij^2 tau_h / 2)``, calibrated as
    openTSNE does (see ``_gaussian_perplexity``)."""

    def __init__(
        self,
        data=None,
        perplexities=None,
        method="auto",
        metric="euclidean",
        metric_params=None,
        symmetrize=True,
        n_jobs=1,
        random_state=None,
        verbose=False,
        knn_kwargs=None,
        knn_index=None,
    ):
        if perplexities is None:
            raise ValueError("`perplexities` must be specified!")
        _check_data_or_index(data, knn_index)
        if knn_index is None:
            n_samples = data.shape[0]
            effective_perplexities = self.check_perplexities(perplexities, n_samples)
            self._check_supported(effective_perplexities)
            max_perplexity = np.max(effective_perplexities)
            k_neighbors = min(n_samples - 1, int(3 * max_perplexity))
            self.knn_index = get_knn_index(
                data,
                method,
                k=k_neighbors,
                metric=metric,
                metric_params=metric_params,
                n_jobs=n_jobs,
                random_state=random_state,
                verbose=verbose,
                knn_kwargs=knn_kwargs,
            )
        else:
            self.knn_index = knn_index
            n_samples = self.knn_index.n_samples
            effective_perplexities = self.check_perplexities(perplexities, n_samples)
            self._check_supported(effective_perplexities)
            log.info("KNN index provided. Ignoring KNN-related parameters.")
        self.symmetrize = symmetrize
        self.P = self._P(self.knn_index, effective_perplexities, verbose, n_jobs)
        self.perplexities = perplexities
        self.effective_perplexities_ = effective_perplexities
        self.n_jobs = n_jobs
        self.verbose = verbose

    @staticmethod
    def _check_supported(perplexities):
        pass

    def _P(self, index, perplexities, verbose, n_jobs):
        """The joint P, or openTSNE's unsymmetrised one when not ``symmetrize``."""
        if self.symmetrize:
            return self._engine_P(index, perplexities, verbose, n_jobs)
        neighbors, distances = index.build()
        with Timer("Calculating affinity matrix...", verbose):
            return self._calculate_P(
                neighbors, distances, list(perplexities), symmetrize=False, n_reference_samples=index.n_samples
            )

    def _engine_P(self, index, perplexities, verbose, n_jobs):
        if len(perplexities) == 1:
            return _engine_P(index, verbose, n_jobs, perplexity=float(perplexities[0]), k=int(index.k))
        # Several scales: openTSNE's mixture with its bisection (whose bounds carry over
        # from one scale to the next) over the index's neighbours, in numpy. The engine's
        # "multiscale_mixture" calibrates every scale alone, which is the kernel openTSNE
        # means but not the one it computes (they differ by up to 60% of max P on digits).
        neighbors, distances = index.build()
        with Timer("Calculating affinity matrix...", verbose):
            return _mixture_joint_P(neighbors, distances, list(perplexities), index.n_samples)

    @staticmethod
    def _calculate_P(
        neighbors,
        distances,
        perplexities,
        symmetrize=True,
        normalization="pair-wise",
        n_reference_samples=None,
        n_jobs=1,
    ):
        return joint_probabilities_nn(
            neighbors,
            distances,
            perplexities,
            symmetrize=symmetrize,
            normalization=normalization,
            n_reference_samples=n_reference_samples,
            n_jobs=n_jobs,
        )

    @property
    def _MultiscaleMixture__neighbors(self):
        return self.knn_index.build()[0]

    @property
    def _MultiscaleMixture__distances(self):
        return self.knn_index.build()[1]

    def set_perplexities(self, new_perplexities):
        """Change the perplexities (not above the largest one the kNN graph was built for)."""
        if np.array_equal(self.perplexities, new_perplexities):
            return
        effective_perplexities = self.check_perplexities(new_perplexities, self.n_samples)
        max_perplexity = np.max(effective_perplexities)
        k_neighbors = min(self.n_samples - 1, int(3 * max_perplexity))
        if k_neighbors > self.knn_index.k:
            raise RuntimeError(
                "The largest perplexity `%.2f` is larger than the initial one "
                "used. This would need to recompute the nearest neighbors, "
                "which is not efficient. Please create a new `%s` instance "
                "with the increased perplexity." % (max_perplexity, self.__class__.__name__)
            )
        self._check_supported(effective_perplexities)
        self.perplexities = new_perplexities
        self.effective_perplexities_ = effective_perplexities
        with Timer("Perplexity changed. Recomputing affinity matrix...", self.verbose):
            index = self.knn_index if k_neighbors == self.knn_index.k else _Truncated(self.knn_index, k_neighbors)
            self.P = self._P(index, effective_perplexities, False, self.n_jobs)

    def to_new(self, data, perplexities=None, return_distances=False):
        perplexities = perplexities if perplexities is not None else self.perplexities
        effective_perplexities = self.check_perplexities(perplexities, self.n_samples)
        max_perplexity = np.max(effective_perplexities)
        k_neighbors = min(self.n_samples - 1, int(3 * max_perplexity))
        neighbors, distances = self.knn_index.query(data, k_neighbors)
        with Timer("Calculating affinity matrix...", self.verbose):
            P = self._calculate_P(
                neighbors,
                distances,
                effective_perplexities,
                symmetrize=False,
                normalization="point-wise",
                n_reference_samples=self.n_samples,
                n_jobs=self.n_jobs,
            )
        if return_distances:
            return P, neighbors, distances
        return P

    def _engine_perplexity(self, affinity_params):
        if set(affinity_params) - {"perplexities"}:
            return None
        perplexities = affinity_params.get("perplexities")
        perplexities = perplexities if perplexities is not None else self.perplexities
        if isinstance(perplexities, numbers.Number):
            perplexities = [perplexities]
        perplexities = list(perplexities)
        if len(perplexities) != 1 or perplexities[0] <= 0 or 3 * perplexities[0] > self.n_samples - 1:
            return None
        return float(perplexities[0]), min(self.n_samples - 1, int(3 * perplexities[0]))

    def check_perplexities(self, perplexities, n_samples):
        if isinstance(perplexities, numbers.Number):
            perplexities = [perplexities]
        usable_perplexities = []
        for perplexity in sorted(perplexities):
            if perplexity <= 0:
                raise ValueError("Perplexity must be >=0. %.2f given" % perplexity)
            if 3 * perplexity > n_samples - 1:
                new_perplexity = (n_samples - 1) / 3
                if new_perplexity in usable_perplexities:
                    log.warning(
                        "Perplexity value %d is too high. Dropping "
                        "because the max perplexity is already in the "
                        "list." % perplexity
                    )
                else:
                    usable_perplexities.append(new_perplexity)
                    log.warning(
                        "Perplexity value %d is too high. Using perplexity %.2f instead" % (perplexity, new_perplexity)
                    )
            else:
                usable_perplexities.append(perplexity)
        return usable_perplexities


class Multiscale(MultiscaleMixture):
    """Multiscale affinities: the average of Gaussians each calibrated to one perplexity
    (the engine's ``multiscale``)."""

    @staticmethod
    def _check_supported(perplexities):
        pass

    def _engine_P(self, index, perplexities, verbose, n_jobs):
        return _engine_P(
            index, verbose, n_jobs, affinity="multiscale", perplexities=[float(p) for p in perplexities], k=int(index.k)
        )

    @staticmethod
    def _calculate_P(
        neighbors,
        distances,
        perplexities,
        symmetrize=True,
        normalization="pair-wise",
        n_reference_samples=None,
        n_jobs=1,
    ):
        # Multiple perplexities: the average of per-perplexity (normalised) affinities.
        n_samples = neighbors.shape[0]
        P = sp.csr_matrix((n_samples, n_reference_samples or n_samples))
        for perplexity in perplexities:
            P += joint_probabilities_nn(
                neighbors,
                distances,
                [perplexity],
                symmetrize=symmetrize,
                normalization=normalization,
                n_reference_samples=n_reference_samples,
                n_jobs=n_jobs,
            )
        if normalization == "pair-wise":
            P /= np.sum(P)
        else:
            P = sp.csr_matrix(sp.diags(np.asarray(1 / P.sum(axis=1)).ravel()) @ P)
        return P

    def _engine_perplexity(self, affinity_params):
        return MultiscaleMixture._engine_perplexity(self, affinity_params)


class Uniform(Affinities):
    """Uniform affinities on each point's ``k_neighbors`` nearest neighbours."""

    def __init__(
        self,
        data=None,
        k_neighbors=30,
        method="auto",
        metric="euclidean",
        metric_params=None,
        symmetrize=True,
        n_jobs=1,
        random_state=None,
        verbose=False,
        knn_kwargs=None,
        knn_index=None,
    ):
        _check_data_or_index(data, knn_index)
        if knn_index is None:
            if k_neighbors >= data.shape[0]:
                raise ValueError(
                    "`k_neighbors` (%d) cannot be larger than N-1 (%d)." % (k_neighbors, data.shape[0])
                )
            self.knn_index = get_knn_index(
                data,
                method,
                k=k_neighbors,
                metric=metric,
                metric_params=metric_params,
                n_jobs=n_jobs,
                random_state=random_state,
                verbose=verbose,
                knn_kwargs=knn_kwargs,
            )
        else:
            self.knn_index = knn_index
            log.info("KNN index provided. Ignoring KNN-related parameters.")
        if symmetrize in ("max", True, "mean"):
            # The engine's uniform P is (A + A^T) / 2Nk for the kNN adjacency A: "mean" as is,
            # and "max" (openTSNE's default) is its support with equal weights.
            P = _engine_P(self.knn_index, verbose, n_jobs, affinity="uniform", k=int(self.knn_index.k))
            if symmetrize != "mean":
                P.data[:] = 1.0
                P /= P.sum()
        elif symmetrize in ("none", False):
            neighbors, _ = self.knn_index.build()
            n, k = neighbors.shape
            P = sp.csr_matrix((np.ones(n * k), neighbors.ravel(), range(0, n * k + 1, k)), shape=(n, n))
            P /= np.sum(P)
        else:
            raise ValueError(f"Symmetrization method `{symmetrize}` is not recognized.")
        self.P = P
        self.verbose = verbose
        self.n_jobs = n_jobs

    def to_new(self, data, k_neighbors=None, return_distances=False):
        n_samples = data.shape[0]
        n_reference_samples = self.n_samples
        if k_neighbors is None:
            k_neighbors = self.knn_index.k
        elif k_neighbors >= n_reference_samples:
            raise ValueError(
                "`k` (%d) cannot be larger than the number of reference samples (%d)."
                % (k_neighbors, self.n_samples)
            )
        neighbors, distances = self.knn_index.query(data, k_neighbors)
        with Timer("Calculating affinity matrix...", self.verbose):
            values = np.ones((n_samples, k_neighbors)) / k_neighbors
            P = sp.csr_matrix(
                (values.ravel(), neighbors.ravel(), range(0, n_samples * k_neighbors + 1, k_neighbors)),
                shape=(n_samples, n_reference_samples),
            )
        if return_distances:
            return P, neighbors, distances
        return P


class PrecomputedAffinities(Affinities):
    """Use a precomputed affinity matrix (scipy sparse or dense)."""

    def __init__(self, affinities, normalize=True):
        if not isinstance(affinities, sp.csr_matrix):
            affinities = sp.csr_matrix(affinities)
        if normalize:
            affinities /= np.sum(affinities)
        self.P = affinities

    def to_new(self, data, return_distances=False):
        raise RuntimeError("Precomputed affinity matrices cannot be queried.")
