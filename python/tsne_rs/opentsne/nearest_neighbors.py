"""openTSNE's ``openTSNE.nearest_neighbors``: the kNN index objects an affinity keeps.

``Sklearn`` and ``PrecomputedDistanceMatrix`` / ``PrecomputedNeighbors`` are openTSNE's
(exact search with scikit-learn). ``Annoy``, ``NNDescent`` and ``HNSW`` keep openTSNE's names
and metric lists, but the neighbours of the training points are found by the Rust engine
(exact below 200,000 points, NN-descent or HNSW above) while P is computed, and ``build`` /
``query`` (used by ``set_perplexity`` and ``to_new``) are exact scikit-learn searches.
"""

import logging

import numpy as np

from ._utils import Timer

log = logging.getLogger("openTSNE.nearest_neighbors")

# The metrics the Rust engine computes itself, by openTSNE's names.
ENGINE_METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "cosine": "cosine",
    "manhattan": "manhattan",
    "l1": "manhattan",
    "cityblock": "manhattan",
    "taxicab": "manhattan",
}


class KNNIndex:
    VALID_METRICS = []
    # The engine's neighbour search for this index (None: scikit-learn's graph is used).
    engine_neighbors = None

    def __init__(
        self,
        data,
        k,
        metric="euclidean",
        metric_params=None,
        n_jobs=1,
        random_state=None,
        verbose=False,
        knn_kwargs=None,
    ):
        self.data = data
        self.n_samples = data.shape[0]
        self.k = k
        self.metric = self.check_metric(metric)
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.knn_kwargs = knn_kwargs
        self.index = None

    def build(self):
        """The ``k`` nearest neighbours of every training point (self excluded):
        ``(indices, distances)``, each ``n_samples x k``."""

    def query(self, query, k):
        """The ``k`` nearest training points of every row of ``query``."""

    def check_metric(self, metric):
        """Check that the metric is supported by the KNNIndex instance."""
        if callable(metric):
            pass
        elif metric not in self.VALID_METRICS:
            raise ValueError(
                f"`{self.__class__.__name__}` does not support the `{metric}` "
                f"metric. Please choose one of the supported metrics: "
                f"{', '.join(self.VALID_METRICS)}."
            )
        return metric

    # -- tsne_rs ------------------------------------------------------------------------------
    def engine_metric(self):
        """The engine's name of this index's metric when the engine can search the data
        itself (dense data, a built-in metric, no metric_params, no knn_kwargs), else None."""
        import scipy.sparse as sp

        if self.engine_neighbors is None or not isinstance(self.metric, str):
            return None
        if self.metric_params or self.knn_kwargs or sp.issparse(self.data):
            return None
        return ENGINE_METRICS.get(self.metric)


class Sklearn(KNNIndex):
    VALID_METRICS = [
        "braycurtis",
        "canberra",
        "chebyshev",
        "cityblock",
        "dice",
        "euclidean",
        "hamming",
        "haversine",
        "infinity",
        "jaccard",
        "kulsinski",
        "l1",
        "l2",
        "mahalanobis",
        "manhattan",
        "matching",
        "minkowski",
        "p",
        "pyfunc",
        "rogerstanimoto",
        "russellrao",
        "seuclidean",
        "sokalmichener",
        "sokalsneath",
        "wminkowski",
    ] + ["cosine"]
    _search = "exact search"
    engine_neighbors = "exact"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__data = None
        self._built = None

    def _fit(self):
        from sklearn import neighbors

        data = self.data
        if self.metric == "cosine":
            effective_metric = "euclidean"
            effective_data = data / np.linalg.norm(data, axis=1)[:, None]
            self.__data = data
        else:
            effective_metric = self.metric
            effective_data = data
        knn_kwargs_ = dict(algorithm="auto")
        if self.knn_kwargs is not None:
            knn_kwargs_.update(self.knn_kwargs)
        self.index = neighbors.NearestNeighbors(
            metric=effective_metric,
            metric_params=self.metric_params,
            n_jobs=self.n_jobs,
            **knn_kwargs_,
        )
        self.index.fit(effective_data)

    def build(self):
        if self._built is not None:
            return self._built
        from scipy.spatial.distance import cdist

        k = self.k
        with Timer(
            f"Finding {k} nearest neighbors using {self._search} using {self.metric} distance...",
            self.verbose,
        ):
            self._fit()
            distances, indices = self.index.kneighbors(n_neighbors=k)
            if self.metric == "cosine":
                data = self.data
                distances = np.vstack(
                    [cdist(np.atleast_2d(x), data[idx], metric="cosine") for x, idx in zip(data, indices)]
                )
        self._built = (indices, distances)
        return self._built

    def query(self, query, k):
        from scipy.spatial.distance import cdist

        with Timer(f"Finding {k} nearest neighbors in existing embedding using {self._search}...", self.verbose):
            if self.index is None:
                self._fit()
            if self.metric == "cosine":
                effective_data = query / np.linalg.norm(query, axis=1)[:, None]
            else:
                effective_data = query
            distances, indices = self.index.kneighbors(effective_data, n_neighbors=k)
            if self.metric == "cosine":
                distances = np.vstack(
                    [cdist(np.atleast_2d(x), self.__data[idx], metric="cosine") for x, idx in zip(query, indices)]
                )
        return indices, distances


class Annoy(Sklearn):
    """openTSNE's default approximate index. Here: the engine's neighbour search while P is
    computed (exact below 200,000 points, NN-descent above); ``build``/``query`` exact."""

    VALID_METRICS = ["cosine", "euclidean", "manhattan", "hamming", "dot", "l1", "l2", "taxicab"]
    _search = "Annoy approximate search"
    engine_neighbors = "auto"

    def _fit(self):
        metric = self.metric
        if metric == "taxicab":
            self.metric = "manhattan"
        elif metric == "dot":
            raise NotImplementedError("tsne_rs.opentsne: the `dot` metric is not supported")
        try:
            super()._fit()
        finally:
            self.metric = metric


class NNDescent(Annoy):
    VALID_METRICS = [
        "euclidean", "l2", "sqeuclidean", "manhattan", "taxicab", "l1", "chebyshev", "linfinity",
        "linfty", "linf", "minkowski", "seuclidean", "standardised_euclidean", "wminkowski",
        "weighted_minkowski", "mahalanobis", "canberra", "cosine", "dot", "correlation", "haversine",
        "braycurtis", "spearmanr", "kantorovich", "wasserstein", "tsss", "true_angular", "hamming",
        "jaccard", "dice", "matching", "kulsinski", "rogerstanimoto", "russellrao", "sokalsneath",
        "sokalmichener", "yule",
    ]
    _search = "pynndescent search"
    engine_neighbors = "nndescent"


class HNSW(Annoy):
    VALID_METRICS = ["cosine", "euclidean", "dot", "l2", "ip"]
    _search = "HNSWlib search"
    engine_neighbors = "hnsw"


class PrecomputedDistanceMatrix(KNNIndex):
    """Use a precomputed distance matrix to construct the KNNG."""

    def __init__(self, distance_matrix, k):
        from sklearn import neighbors

        nn = neighbors.NearestNeighbors(metric="precomputed")
        nn.fit(distance_matrix)
        self.distances, self.indices = nn.kneighbors(n_neighbors=k)
        self.n_samples = distance_matrix.shape[0]
        self.k = k
        self.metric = "precomputed"

    def build(self):
        return self.indices, self.distances

    def query(self, query, k):
        query = np.asarray(query)
        indices = np.argsort(query, axis=1)[:, :k]
        distances = np.take_along_axis(query, indices, axis=1)
        return indices, distances


class PrecomputedNeighbors(KNNIndex):
    """Use precomputed nearest neighbors to construct the KNNG."""

    def __init__(self, neighbors, distances):
        self.distances = distances
        self.indices = neighbors
        self.n_samples = neighbors.shape[0]
        self.k = neighbors.shape[1]
        self.metric = None

    def build(self):
        return self.indices, self.distances

    def query(self, *args, **kwargs):
        raise RuntimeError("Precomputed distance matrices cannot be queried")
