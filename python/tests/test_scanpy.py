"""tsne_rs.scanpy.tsne on a small AnnData, as sc.tl.tsne."""

import anndata
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import tsne_rs.scanpy
from conftest import knn_accuracy


@pytest.fixture
def adata(digits):
    X, y = digits
    a = anndata.AnnData(X=X[:600].astype(np.float32))
    a.obs["label"] = y[:600].astype(str)
    centred = X[:600] - X[:600].mean(axis=0)
    a.obsm["X_pca"] = centred @ np.linalg.svd(centred, full_matrices=False)[2][:20].T
    return a


def test_writes_obsm_and_params_like_scanpy(adata, digits):
    _, y = digits
    assert tsne_rs.scanpy.tsne(adata, random_state=0) is None
    Y = adata.obsm["X_tsne"]
    assert Y.shape == (600, 2)
    assert adata.uns["tsne"]["params"]["use_rep"] == "X_pca"
    assert adata.uns["tsne"]["params"]["perplexity"] == 30
    assert knn_accuracy(Y, y[:600]) >= 0.9
    copy = tsne_rs.scanpy.tsne(adata, n_pcs=10, key_added="tsne10", copy=True, random_state=0)
    assert copy.obsm["tsne10"].shape == (600, 2) and "tsne10" not in adata.obsm
    assert copy.uns["tsne10"]["params"]["n_pcs"] == 10
    # The same random_state gives the same embedding.
    again = tsne_rs.scanpy.tsne(adata, copy=True, random_state=0)
    assert np.array_equal(again.obsm["X_tsne"], Y)


def test_reuses_the_neighbour_graph(adata, digits):
    _, y = digits
    nn = NearestNeighbors(n_neighbors=45).fit(adata.obsm["X_pca"])
    adata.obsp["distances"] = nn.kneighbors_graph(mode="distance")
    tsne_rs.scanpy.tsne(adata, perplexity=10, use_neighbors=True, random_state=0)
    assert knn_accuracy(adata.obsm["X_tsne"], y[:600]) >= 0.9
    assert adata.uns["tsne"]["params"]["use_rep"] == "distances"
    # A graph with too few neighbours lowers the perplexity, with a warning.
    adata.obsp["distances"] = NearestNeighbors(n_neighbors=15).fit(adata.obsm["X_pca"]).kneighbors_graph(mode="distance")
    with pytest.warns(UserWarning, match="too few"):
        tsne_rs.scanpy.tsne(adata, use_neighbors=True, random_state=0)


def test_missing_representation_is_an_error(adata):
    with pytest.raises(ValueError, match="X_umap"):
        tsne_rs.scanpy.tsne(adata, use_rep="X_umap")
