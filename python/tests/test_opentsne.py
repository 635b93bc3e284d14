"""tsne_rs.opentsne as a drop-in for openTSNE: the embedding object, continuation,
transform, callbacks, persistence, precomputed inputs, and how the engine model behind an
embedding follows what openTSNE code does to it (edits of the array, new affinities).

Changed for openTSNE's contract (see test_opentsne_contract.py): ``prepare_partial`` uses
the affinities' perplexity unless one is given (openTSNE's ``to_new`` default), ``transform``
centres the reference embedding in place as openTSNE does, and precomputed affinities are an
``affinity.PrecomputedAffinities`` object (a bare matrix is openTSNE's ValueError).
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

import tsne_rs.opentsne as openTSNE
from conftest import knn_accuracy


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    test = np.arange(len(X)) % 6 == 0
    return X[~test], y[~test], X[test], y[test]


@pytest.fixture(scope="module")
def embedding(split):
    X, _, _, _ = split
    return openTSNE.TSNE(random_state=1, n_jobs=2).fit(X)


def test_fit_returns_an_embedding_array(embedding, split):
    _, y, _, _ = split
    assert isinstance(embedding, openTSNE.TSNEEmbedding) and isinstance(embedding, np.ndarray)
    assert embedding.shape == (len(y), 2)
    assert knn_accuracy(np.asarray(embedding), y) >= 0.95
    assert 0 < embedding.kl_divergence < 2
    # openTSNE's schedule: 250 early iterations at exaggeration 12, then 500 at 1.
    assert [(s["iterations"], s["exaggeration"]) for s in embedding.summary["stages"]] == [(250, 12.0), (500, 1.0)]


def test_optimize_continues_and_in_pieces_equals_at_once(embedding):
    a = embedding.optimize(100, exaggeration=1.5)
    b = embedding.optimize(40, exaggeration=1.5).optimize(60, exaggeration=1.5)
    assert isinstance(a, openTSNE.TSNEEmbedding)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, embedding)  # not in place by default
    c = embedding.optimize(0)
    assert np.array_equal(c, embedding)


def test_transform_places_held_out_points_among_their_class(embedding, split):
    X, y, X_new, y_new = split
    placed = embedding.transform(X_new)
    assert placed.shape == (len(y_new), 2)
    from sklearn.neighbors import KNeighborsClassifier

    accuracy = KNeighborsClassifier(10).fit(np.asarray(embedding), y).score(np.asarray(placed), y_new)
    assert accuracy >= 0.9
    # One at a time equals the batch; the reference does not move.
    before = np.array(embedding)
    for i in range(5):
        assert np.array_equal(embedding.transform(X_new[i : i + 1])[0], placed[i])
    assert np.array_equal(before, embedding)
    # prepare_partial + optimize is transform.
    partial = embedding.prepare_partial(X_new, perplexity=5)
    again = partial.optimize(250, learning_rate=0.1, exaggeration=1.5, momentum=0.8, max_grad_norm=0.25)
    assert np.array_equal(again, placed)


def test_callbacks_can_stop_the_fit(split):
    X, _, _, _ = split
    seen = []

    def stop_at_100(iteration, error, embedding):
        seen.append((iteration, error is not None, embedding.shape))
        return iteration >= 100

    emb = openTSNE.TSNE(random_state=1, callbacks=stop_at_100, callbacks_every_iters=50).fit(X[:400])
    assert seen == [(50, True, (400, 2)), (100, True, (400, 2))]
    assert emb.summary["iterations"] == 100 and emb.summary["stop"] == "callback"
    with pytest.raises(openTSNE.OptimizationInterrupt) as info:
        emb.optimize(100, callbacks=lambda it, err, e: it >= 20, callbacks_every_iters=10, propagate_exception=True)
    assert info.value.final_embedding.summary["iterations"] == 120


def test_save_load_and_pickle(embedding, split, tmp_path):
    _, _, X_new, _ = split
    path = tmp_path / "model.tsne"
    embedding.save(path)
    loaded = openTSNE.TSNEEmbedding.load(path)
    assert np.array_equal(loaded, embedding)
    # Saved at the (translated) positions the array shows: equal up to rounding.
    assert np.allclose(loaded.transform(X_new[:20]), embedding.transform(X_new[:20]), atol=1e-6)
    restored = pickle.loads(pickle.dumps(embedding))
    assert np.array_equal(restored.optimize(10), embedding.optimize(10))
    # A loaded model moved by transform (which centres it) saves at its new positions.
    loaded.transform(X_new[:5])
    loaded.save(tmp_path / "moved.tsne")
    assert np.array_equal(openTSNE.TSNEEmbedding.load(tmp_path / "moved.tsne"), loaded)
    assert loaded.optimizer.gains.shape == embedding.shape  # the loaded optimizer state
    (tmp_path / "bad.tsne").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a t-SNE model"):
        openTSNE.TSNEEmbedding.load(tmp_path / "bad.tsne")
    data = path.read_bytes()
    (tmp_path / "cut.tsne").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="damaged"):
        openTSNE.TSNEEmbedding.load(tmp_path / "cut.tsne")


def test_precomputed_affinities_graph_and_distances(digits):
    from scipy.spatial.distance import cdist
    from sklearn.neighbors import NearestNeighbors

    X, y = digits
    X, y = X[:600], y[:600]
    nn = NearestNeighbors(n_neighbors=31).fit(X)
    G = nn.kneighbors_graph(X, mode="distance")  # includes each point itself at distance 0
    tsne = openTSNE.TSNE(perplexity=10, metric="precomputed", random_state=0)
    from_graph = tsne.fit(G)
    from_distances = tsne.fit(cdist(X, X))
    # A symmetric P from the graph: uniform weights on the kNN.
    A = (G > 0).astype(float)
    A.setdiag(0)
    A.eliminate_zeros()
    P = (A + A.T) / (A + A.T).sum()
    # openTSNE takes precomputed affinities as an Affinities object (a bare matrix is a ValueError).
    with pytest.raises(ValueError, match="must be an instance of `openTSNE.affinity.Affinities`"):
        openTSNE.TSNE(random_state=0).fit(affinities=sp.csr_matrix(P))
    from_p = openTSNE.TSNE(random_state=0).fit(affinities=openTSNE.affinity.PrecomputedAffinities(sp.csr_matrix(P)))
    for Y in (from_graph, from_distances, from_p):
        assert knn_accuracy(np.asarray(Y), y) >= 0.9


def test_adding_points_keeps_the_old_ones(embedding, split):
    X, y, X_new, y_new = split
    grown = embedding.add(X_new, n_iter=100)
    assert grown.shape == (len(X) + len(X_new), 2)
    assert np.array_equal(grown[: len(X)], embedding)
    assert knn_accuracy(np.asarray(grown), np.concatenate([y, y_new])) >= 0.95


def test_the_engine_model_follows_the_array_and_the_affinities(split):
    X, _, _, _ = split
    X = X[:300]
    E = openTSNE.TSNE(random_state=0, n_iter=50, early_exaggeration_iter=50).fit(X)
    # An edit of the array is where the next optimize starts (as openTSNE, which optimises
    # the array itself).
    F = E.optimize(0)
    F[0] = [500.0, 500.0]
    G = F.optimize(1)
    # One step moves a point by at most max_step_norm (5) plus the re-centring (~500/300).
    assert np.linalg.norm(G[0] - F[0]) < 10
    assert np.linalg.norm(np.asarray(G[1:]) - np.asarray(E[1:]), axis=1).max() < 10
    # New affinities (set_perplexities) are what the next optimize uses, and, as openTSNE,
    # the optimizer state (gains, update) carries over: not a restart.
    H = E.optimize(0)
    before = H.optimize(20)
    H.affinities.set_perplexities([5])
    after = H.optimize(20)
    assert not np.allclose(before, after)
    at_new_P = openTSNE.TSNEEmbedding(np.array(after), H.affinities).optimize(0).kl_divergence
    assert abs(after.kl_divergence - at_new_P) < 1e-6
    fresh = openTSNE.TSNEEmbedding(np.array(H), H.affinities, random_state=0).optimize(20)
    assert np.abs(np.asarray(fresh) - np.asarray(after)).max() > 0.1
    assert after.optimizer.gains.shape == (300, 2) and not np.array_equal(after.optimizer.gains, np.ones((300, 2)))
    # Without changes the optimizer state continues: in pieces equals at once.
    a = E.optimize(30)
    b = E.optimize(10).optimize(20)
    assert np.array_equal(a, b)


def test_knn_from_sparse_stays_importable():
    from tsne_rs import scanpy  # noqa: F401 - imports it from here
    from tsne_rs.opentsne import knn_from_sparse

    G = sp.csr_matrix(np.array([[0, 1, 2.0], [1, 0, 3], [2, 3, 0]]))
    indices, distances = knn_from_sparse(G)
    assert indices.tolist() == [[1, 2], [0, 2], [0, 1]] and distances.tolist() == [[1, 2], [1, 3], [2, 3]]
    assert knn_from_sparse(G, k=1)[0].tolist() == [[1], [0], [0]]


def test_new_points_from_their_P_follow_what_openTSNE_code_does(embedding, split):
    """A partial embedding the engine did not prepare (here a weighted start) is optimised
    from its P and positions; its state carries over between calls; an edit of the array
    and a new P are what the next optimize uses."""
    X, y, X_new, y_new = split
    X_new, y_new = X_new[:60], y_new[:60]
    W = embedding.prepare_partial(X_new, initialization="weighted")
    a = W.optimize(40, learning_rate=0.1)
    b = W.optimize(15, learning_rate=0.1).optimize(25, learning_rate=0.1)
    assert np.array_equal(a, b) and not np.array_equal(a, W)
    from sklearn.neighbors import KNeighborsClassifier

    placed = W.optimize(250, learning_rate=0.1, exaggeration=1.5, max_grad_norm=0.25)
    assert KNeighborsClassifier(10).fit(np.asarray(embedding), y).score(np.asarray(placed), y_new) >= 0.9
    # An edit of the array is where the next optimize starts.
    c = W.optimize(5, learning_rate=0.1)
    c[0] += 100.0
    d = c.optimize(1, learning_rate=0.1, max_step_norm=0.5)
    assert np.linalg.norm(d[0] - c[0]) <= 0.5 + 1e-9 and np.linalg.norm(d[1:] - c[1:], axis=1).max() <= 0.5 + 1e-9
    # A new P is what the next optimize uses (each point pulled to one far reference point).
    e = W.optimize(0)
    far = np.argmax(np.linalg.norm(np.asarray(embedding), axis=1))
    e.P = sp.csr_matrix((np.ones(60), np.full(60, far), np.arange(61)), shape=(60, len(X)))
    f = e.optimize(100, learning_rate=500.0)
    target = np.asarray(embedding)[far]
    before = np.median(np.linalg.norm(np.asarray(W) - target, axis=1))
    assert np.median(np.linalg.norm(f - target, axis=1)) < 0.5 * before
