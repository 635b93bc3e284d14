"""tsne_rs.scanpy.tsne on small AnnData objects: scanpy's outputs, and the additions."""

import re
import warnings

import anndata
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

import tsne_rs.scanpy
from conftest import knn_accuracy


@pytest.fixture
def adata(digits):
    X, y = digits
    a = anndata.AnnData(X=X[:600].astype(np.float32))
    a.obs["label"] = y[:600].astype(str)
    centred = X[:600] - X[:600].mean(axis=0)
    a.obsm["X_pca"] = (centred @ np.linalg.svd(centred, full_matrices=False)[2][:20].T).astype(np.float32)
    return a


def test_writes_obsm_and_params_like_scanpy(adata, digits):
    _, y = digits
    assert tsne_rs.scanpy.tsne(adata, random_state=0) is None
    Y = adata.obsm["X_tsne"]
    assert Y.shape == (600, 2) and Y.dtype == np.float32 and Y.flags.c_contiguous
    assert adata.uns["tsne"] == {
        "params": {"perplexity": 30, "early_exaggeration": 12, "learning_rate": 1000, "n_jobs": 1, "metric": "euclidean"}
    }
    assert knn_accuracy(Y, y[:600]) >= 0.9
    copy = tsne_rs.scanpy.tsne(adata, n_pcs=10, key_added="tsne10", copy=True, random_state=0)
    assert copy.obsm["tsne10"].shape == (600, 2) and "tsne10" not in adata.obsm
    # n_pcs and random_state are not stored; use_rep only when given.
    assert copy.uns["tsne10"]["params"] == adata.uns["tsne"]["params"]
    # The same random_state gives the same embedding.
    again = tsne_rs.scanpy.tsne(adata, copy=True, random_state=0)
    assert np.array_equal(again.obsm["X_tsne"], Y)
    tsne_rs.scanpy.tsne(adata, use_rep="X_pca", n_jobs=2, perplexity=20.0, random_state=0)
    assert adata.uns["tsne"]["params"] == {
        "perplexity": 20.0, "early_exaggeration": 12, "learning_rate": 1000, "n_jobs": 2,
        "metric": "euclidean", "use_rep": "X_pca",
    }


def test_n_pcs_takes_the_leading_columns(adata, monkeypatch):
    seen = []
    engine_fit = tsne_rs._sklearn._tsne_rs.fit

    def spy(data, **settings):
        seen.append(np.array(data))
        return engine_fit(data, **settings)

    monkeypatch.setattr(tsne_rs._sklearn._tsne_rs, "fit", spy)
    tsne_rs.scanpy.tsne(adata, n_pcs=7, max_iter=250)
    assert np.array_equal(seen[-1], adata.obsm["X_pca"][:, :7])
    tsne_rs.scanpy.tsne(adata, n_pcs=0, max_iter=250)  # n_pcs=0 means .X
    assert np.array_equal(seen[-1], adata.X)


def test_reuses_the_neighbour_graph(adata, digits, monkeypatch):
    _, y = digits
    nn = NearestNeighbors(n_neighbors=45).fit(adata.obsm["X_pca"])
    adata.obsp["distances"] = nn.kneighbors_graph(mode="distance")
    # scikit-learn's schedule, as the rest of tl.tsne: 250 exploration iterations, the
    # optimiser restarted, the rest.
    calls, engine_fit = [], tsne_rs._sklearn._tsne_rs.fit

    class Spy:
        def __init__(self, model):
            self.model = model

        def reset_optimizer(self):
            calls.append("reset")
            self.model.reset_optimizer()

        def optimize(self, iterations, **kwargs):
            calls.append(iterations)
            return self.model.optimize(iterations, **kwargs)

        def __getattr__(self, name):
            return getattr(self.model, name)

    def spy(data, **settings):
        calls.append((settings["kind"], settings["iterations"]))
        return Spy(engine_fit(data, **settings))

    monkeypatch.setattr(tsne_rs._sklearn._tsne_rs, "fit", spy)
    tsne_rs.scanpy.tsne(adata, perplexity=10, use_neighbors=True, random_state=0)
    assert calls == [("graph", 250), "reset", 750]
    assert adata.obsm["X_tsne"].dtype == np.float32
    assert knn_accuracy(adata.obsm["X_tsne"], y[:600]) >= 0.9
    assert adata.uns["tsne"]["params"]["use_neighbors"] is True
    # A graph with too few neighbours lowers the perplexity, with a warning.
    adata.obsp["distances"] = NearestNeighbors(n_neighbors=15).fit(adata.obsm["X_pca"]).kneighbors_graph(mode="distance")
    with pytest.warns(UserWarning, match="too few"):
        tsne_rs.scanpy.tsne(adata, use_neighbors=True, random_state=0)


def test_missing_representation_is_an_error(adata):
    with pytest.raises(ValueError, match=re.escape("Did not find X_umap in `.obsm.keys()`. You need to compute it first.")):
        tsne_rs.scanpy.tsne(adata, use_rep="X_umap")


class _NoDensify(sp.csr_matrix):
    def toarray(self, *args, **kwargs):
        raise AssertionError("sparse .X was densified")

    def todense(self, *args, **kwargs):
        raise AssertionError("sparse .X was densified")


def test_sparse_x_is_not_densified(adata, digits):
    _, y = digits
    X = sp.csr_matrix(adata.X)
    X.__class__ = _NoDensify
    a = anndata.AnnData(X=sp.csr_matrix(adata.X))
    a.X = X  # anndata keeps the object it is given
    assert isinstance(a.X, _NoDensify)
    tsne_rs.scanpy.tsne(a, use_rep="X", random_state=0)
    assert a.obsm["X_tsne"].dtype == np.float32
    assert knn_accuracy(a.obsm["X_tsne"], y[:600]) >= 0.9


def test_without_scanpy_the_engine_projects_wide_x(adata, monkeypatch):
    # No scanpy: no sc.pp.pca to fall back on; the same warning, then the engine's pca=50.
    del adata.obsm["X_pca"]
    wide = anndata.AnnData(X=np.hstack([adata.X, adata.X[:, ::-1]]))  # 128 variables
    seen = {}
    engine_fit = tsne_rs._sklearn._tsne_rs.fit

    def spy(data, **settings):
        seen.update(settings)
        return engine_fit(data, **settings)

    monkeypatch.setattr(tsne_rs._sklearn._tsne_rs, "fit", spy)
    monkeypatch.setattr(tsne_rs.scanpy, "_scanpy_settings", lambda: None)
    monkeypatch.setattr(tsne_rs.scanpy, "_scanpy", lambda: None)
    with pytest.warns(UserWarning, match="Falling back to preprocessing with `sc.pp.pca` and default params"):
        tsne_rs.scanpy.tsne(wide, max_iter=250)
    assert seen["pca"] == 50
    assert "X_pca" not in wide.obsm and wide.obsm["X_tsne"].shape == (600, 2)
    assert wide.uns["tsne"]["params"]["n_jobs"] == 1


def test_old_positionals_warn_as_scanpy(adata):
    with pytest.warns(FutureWarning, match=r"The specified parameters \('use_rep',\) are no longer positional"):
        tsne_rs.scanpy.tsne(adata, None, "X_pca", max_iter=250)
    assert adata.uns["tsne"]["params"]["use_rep"] == "X_pca"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tsne_rs.scanpy.tsne(adata, 10, max_iter=250)
