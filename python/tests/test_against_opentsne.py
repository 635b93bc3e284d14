"""The same openTSNE script run on openTSNE itself and on tsne_rs.opentsne gives embeddings of
the same quality (skipped where openTSNE is not installed)."""

import numpy as np
import pytest

import tsne_rs.opentsne
from conftest import knn_accuracy

openTSNE = pytest.importorskip("openTSNE")


def script(module, X):
    """A typical openTSNE session: fit, continue with exaggeration, place new points."""
    train, new = X[:1500], X[1500:]
    embedding = module.TSNE(perplexity=30, n_jobs=2, random_state=42).fit(train)
    tighter = embedding.optimize(n_iter=100, exaggeration=1.5, momentum=0.8)
    placed = embedding.transform(new)
    return embedding, tighter, placed


def test_same_script_same_quality(digits):
    X, y = digits
    ours = script(tsne_rs.opentsne, X)
    theirs = script(openTSNE, X)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
    (e1, t1, p1), (e2, t2, p2) = ours, theirs
    assert abs(e1.kl_divergence - e2.kl_divergence) < 0.05 * e2.kl_divergence
    assert knn_accuracy(np.asarray(e1), y[:1500]) >= knn_accuracy(np.asarray(e2), y[:1500]) - 0.01
    from sklearn.neighbors import KNeighborsClassifier

    def placed_accuracy(e, p):
        return KNeighborsClassifier(10).fit(np.asarray(e), y[:1500]).score(np.asarray(p), y[1500:])

    assert placed_accuracy(e1, p1) >= placed_accuracy(e2, p2) - 0.03
