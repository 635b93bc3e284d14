"""openTSNE's ``openTSNE.initialization``: the same functions, signatures, defaults and
results (openTSNE defines them as small numpy / scikit-learn / scipy formulas, reproduced
here; ``pca`` falls back to the engine's PCA start when scikit-learn is not installed)."""

import numpy as np
import scipy.sparse as sp

from ._utils import Timer

__all__ = ["rescale", "jitter", "random", "pca", "spectral", "weighted_mean", "median"]


def _check_random_state(seed):
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (int, np.integer)):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError("%r cannot be used to seed a numpy.random.RandomState instance" % seed)


def rescale(x, inplace=False, target_std=1e-4):
    """Rescale an embedding so optimization will not have convergence issues: every column
    divided by one factor, so that column 0 has standard deviation ``target_std``."""
    if not inplace:
        x = np.array(x, copy=True)
    x /= np.std(x[:, 0]) / target_std
    return x


def jitter(x, inplace=False, scale=0.01, random_state=None):
    """Add Gaussian noise of standard deviation ``scale * std(x[:, 0])``."""
    if not inplace:
        x = np.array(x, copy=True)
    target_std = np.std(x[:, 0]) * scale
    random_state = _check_random_state(random_state)
    x += random_state.normal(0, target_std, x.shape)
    return x


def random(n_samples, n_components=2, random_state=None, verbose=False):
    """Initialize an embedding using samples from an isotropic Gaussian (std 1e-4)."""
    random_state = _check_random_state(random_state)
    if isinstance(n_samples, np.ndarray):
        n_samples = n_samples.shape[0]
    embedding = random_state.normal(0, 1e-4, (n_samples, n_components))
    return np.ascontiguousarray(embedding)


def pca(X, n_components=2, svd_solver="auto", random_state=None, verbose=False, add_jitter=True):
    """Initialize an embedding using the top principal components (scikit-learn's PCA),
    rescaled to standard deviation 1e-4 on the first, with 1% jitter."""
    with Timer("Calculating PCA-based initialization...", verbose):
        try:
            from sklearn.decomposition import PCA
        except ImportError:  # the engine's PCA start (iterations=0)
            from .. import _tsne_rs
            from .._common import as_float_array, seed_of

            if svd_solver != "auto":
                raise NotImplementedError("svd_solver needs scikit-learn") from None
            embedding = _tsne_rs.fit(
                as_float_array(X), init="pca", iterations=0, n_components=int(n_components),
                seed=seed_of(random_state if not isinstance(random_state, np.random.RandomState) else 0),
            ).positions()
        else:
            pca_ = PCA(n_components=n_components, svd_solver=svd_solver, random_state=random_state)
            embedding = pca_.fit_transform(X)
        rescale(embedding, inplace=True)
        if add_jitter:
            jitter(embedding, inplace=True, random_state=random_state)
    return np.ascontiguousarray(embedding)


def spectral(A, n_components=2, tol=1e-4, max_iter=None, random_state=None, verbose=False, add_jitter=True):
    """Initialize an embedding using the spectral embedding of the KNN graph (the leading
    generalised eigenvectors of ``A v = lambda D v``, scaled by their eigenvalues)."""
    if A.ndim != 2:
        raise ValueError("The graph adjacency matrix must be a 2-dimensional matrix.")
    if A.shape[0] != A.shape[1]:
        raise ValueError("The graph adjacency matrix must be a square matrix.")
    import scipy.sparse.linalg  # noqa: F401

    with Timer("Calculating spectral initialization...", verbose):
        D = sp.diags(np.ravel(np.sum(A, axis=1)))
        k = n_components + 1
        random_state = _check_random_state(random_state)
        v0 = random_state.uniform(-1, 1, A.shape[0])
        eigvals, eigvecs = sp.linalg.eigsh(A, M=D, k=k, tol=tol, maxiter=max_iter, which="LM", v0=v0)
        order = np.argsort(eigvals)[::-1]
        eigvecs = eigvecs[:, order]
        # openTSNE multiplies by the eigenvalues in their unsorted order (kept as it is).
        eigvecs *= eigvals
        embedding = eigvecs[:, 1:]
        rescale(embedding, inplace=True)
        if add_jitter:
            jitter(embedding, inplace=True, random_state=random_state)
    return embedding


def weighted_mean(X, embedding, neighbors, distances, verbose=False):
    """Each new point at the mean position of its neighbours, weighted by the (raw)
    distances, as openTSNE does."""
    n_samples = X.shape[0]
    n_components = embedding.shape[1]
    with Timer("Calculating weighted-mean initialization...", verbose):
        partial_embedding = np.zeros((n_samples, n_components), order="C")
        for i in range(n_samples):
            partial_embedding[i] = np.average(np.asarray(embedding)[neighbors[i]], axis=0, weights=distances[i])
    return partial_embedding


def median(embedding, neighbors, verbose=False):
    """Each new point at the coordinate-wise median position of its neighbours."""
    with Timer("Calculating meadian initialization...", verbose):
        embedding = np.median(np.asarray(embedding)[neighbors], axis=1)
    return np.ascontiguousarray(embedding)
