"""The same openTSNE scripts run on openTSNE itself and on tsne_rs.opentsne give embeddings of
the same quality (skipped where openTSNE is not installed): the basic usage of openTSNE's
documentation (TSNE.fit, optimize, transform) and its advanced usage (affinity.PerplexityBasedNN
-> initialization.pca -> TSNEEmbedding -> optimize twice -> prepare_partial -> optimize) on
the digits split as the documentation splits its data."""

import time

import numpy as np
import pytest

import tsne_rs.opentsne
from conftest import knn_accuracy

openTSNE = pytest.importorskip("openTSNE")


def held_out_accuracy(train, y_train, test, y_test):
    """10-NN classifier fitted on the training embedding, scored on the placed test points."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(10).fit(np.asarray(train), y_train).score(np.asarray(test), y_test)


def basic(module, X):
    """A typical openTSNE session: fit, continue with exaggeration, place new points."""
    train, new = X[:1500], X[1500:]
    embedding = module.TSNE(perplexity=30, n_jobs=1, random_state=42).fit(train)
    tighter = embedding.optimize(n_iter=100, exaggeration=1.5, momentum=0.8)
    placed = embedding.transform(new)
    return embedding, tighter, placed


def test_same_script_same_quality(digits):
    X, y = digits
    ours = basic(tsne_rs.opentsne, X)
    theirs = basic(openTSNE, X)
    for a, b in zip(ours, theirs):
        assert type(a).__name__ == type(b).__name__ and a.shape == b.shape
    (e1, t1, p1), (e2, t2, p2) = ours, theirs
    assert abs(e1.kl_divergence - e2.kl_divergence) < 0.05 * e2.kl_divergence
    assert knn_accuracy(np.asarray(e1), y[:1500]) >= knn_accuracy(np.asarray(e2), y[:1500]) - 0.01
    assert held_out_accuracy(e1, y[:1500], p1, y[1500:]) >= held_out_accuracy(e2, y[:1500], p2, y[1500:]) - 0.03


def advanced(module, x, y):
    """02_advanced_usage with only the import swapped (n_jobs=1 here)."""
    from sklearn.model_selection import train_test_split

    affinity, initialization, TSNEEmbedding = module.affinity, module.initialization, module.TSNEEmbedding
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.33, random_state=42)
    times = {}
    t = time.perf_counter()
    affinities_train = affinity.PerplexityBasedNN(
        x_train, perplexity=30, metric="euclidean", n_jobs=1, random_state=42, verbose=False
    )
    init_train = initialization.pca(x_train, random_state=42)
    embedding_train = TSNEEmbedding(init_train, affinities_train, negative_gradient_method="fft", n_jobs=1)
    embedding_train_1 = embedding_train.optimize(n_iter=250, exaggeration=12)
    embedding_train_2 = embedding_train_1.optimize(n_iter=500)
    times["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    embedding_test = embedding_train_2.prepare_partial(x_test)
    embedding_test_1 = embedding_test.optimize(n_iter=250, learning_rate=0.1, exaggeration=1.5)
    times["transform"] = time.perf_counter() - t
    return {
        "types": [type(e).__name__ for e in (embedding_train, embedding_train_2, embedding_test, embedding_test_1)],
        "shapes": [embedding_train_2.shape, embedding_test_1.shape, embedding_test.P.shape],
        "kl": embedding_train_2.kl_divergence,
        "train_accuracy": knn_accuracy(np.asarray(embedding_train_2), y_train),
        "test_accuracy": held_out_accuracy(embedding_train_2, y_train, embedding_test_1, y_test),
        "times": times,
    }


def test_advanced_usage_flow_same_quality(digits, record_property):
    X, y = digits
    ours = advanced(tsne_rs.opentsne, X, y)
    theirs = advanced(openTSNE, X, y)
    for key in ("kl", "train_accuracy", "test_accuracy", "times"):
        record_property(f"ours_{key}", ours[key])
        record_property(f"openTSNE_{key}", theirs[key])
    print("\nadvanced usage, ours:", ours, "\nadvanced usage, openTSNE:", theirs)
    assert ours["types"] == theirs["types"] == [
        "TSNEEmbedding", "TSNEEmbedding", "PartialTSNEEmbedding", "PartialTSNEEmbedding"
    ]
    assert ours["shapes"] == theirs["shapes"] == [(1203, 2), (594, 2), (594, 1203)]
    assert abs(ours["kl"] - theirs["kl"]) < 0.05 * theirs["kl"]
    assert abs(ours["train_accuracy"] - theirs["train_accuracy"]) <= 0.01
    assert abs(ours["test_accuracy"] - theirs["test_accuracy"]) <= 0.01


@pytest.fixture(scope="module")
def reference_split(digits):
    """The advanced-usage split and openTSNE's training embedding of it."""
    from sklearn.model_selection import train_test_split

    X, y = digits
    x_train, x_test, _, _ = train_test_split(X, y, test_size=0.33, random_state=42)
    aff = openTSNE.affinity.PerplexityBasedNN(x_train, perplexity=30, random_state=42)
    E = openTSNE.TSNEEmbedding(openTSNE.initialization.pca(x_train, random_state=42), aff)
    return x_train, x_test, np.array(E.optimize(250, exaggeration=12).optimize(500))


@pytest.mark.parametrize("method", ["bh", "fft"])
def test_new_points_follow_openTSNEs_placement(reference_split, method):
    """On the same reference array, new points placed by the drop-in land where openTSNE
    places them: with fft on the reference's interpolation grid (centred in place on first
    use, points kept on its disc, openTSNE's gain rule), with bh on the tree; the partial's
    optimizer state is exposed as openTSNE's."""
    x_train, x_test, Y = reference_split
    placed = {}
    for m in (openTSNE, tsne_rs.opentsne):
        reference = m.TSNEEmbedding(
            Y.copy(), m.affinity.PerplexityBasedNN(x_train, perplexity=30, random_state=42),
            negative_gradient_method=method,
        )
        partial = reference.prepare_partial(x_test)
        start = np.array(partial)
        done = partial.optimize(n_iter=250, learning_rate=0.1, exaggeration=1.5)
        placed[m] = (start, np.array(done), np.array(reference), done.optimizer)
    (s_t, p_t, r_t, o_t), (s_o, p_o, r_o, o_o) = placed[openTSNE], placed[tsne_rs.opentsne]
    assert np.allclose(r_o, r_t)  # the reference moved (fft) or not (bh) alike
    moved = np.median(np.linalg.norm(p_t - s_t, axis=1))
    apart = np.median(np.linalg.norm(p_o - p_t, axis=1))
    assert apart < 0.05 * moved, (apart, moved)
    assert o_o.gains.shape == o_o.update.shape == p_o.shape and o_o.gains.dtype == np.float64
    if method == "fft":  # openTSNE 1.0.4 zeroes the gains of the points inside the grid's disc
        assert np.mean((o_o.gains == 0) == (o_t.gains == 0)) > 0.99
