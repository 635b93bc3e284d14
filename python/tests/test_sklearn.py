"""tsne_rs.TSNE as a drop-in for sklearn.manifold.TSNE."""

import subprocess

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

import tsne_rs
from conftest import knn_accuracy


def test_digits_embedding_separates_the_classes(digits):
    X, y = digits
    tsne = tsne_rs.TSNE(random_state=0)
    Y = tsne.fit_transform(X)
    assert Y.shape == (1797, 2)
    assert knn_accuracy(Y, y) >= 0.95
    assert np.array_equal(tsne.embedding_, Y)
    assert 0 < tsne.kl_divergence_ < 1.5
    assert tsne.n_iter_ <= 1000
    assert tsne.n_features_in_ == 64
    assert tsne.learning_rate_ == max(1797 / 12 / 4, 50)


def test_same_embedding_as_the_cli(digits, cli, tmp_path, monkeypatch):
    X, _ = digits
    # The drop-in runs scikit-learn's schedule as two engine runs, the optimiser restarted in
    # between (Model.reset_optimizer); the CLI runs one fit without that restart. So the
    # engine is checked to be asked for scikit-learn's settings and the restart, and then run
    # without the restart (and with the CLI's neighbour count: scikit-learn calibrates on
    # int(3 * perplexity + 1) = 91 neighbours, the CLI on floor(3 * perplexity) = 90 and has
    # no flag for it), so that everything else (learning-rate units, the schedule split into
    # a fit and a continuation, seed) is compared bit for bit with the CLI, which starts from
    # the same PCA positions (scikit-learn's, computed by the drop-in) read from a file.
    seen, calls = {}, []
    engine_fit = tsne_rs._sklearn._tsne_rs.fit

    class WithoutRestart:
        def __init__(self, model):
            self.model = model

        def reset_optimizer(self):
            calls.append("reset")

        def optimize(self, iterations, **kwargs):
            calls.append(("optimize", iterations, kwargs["learning_rate"], kwargs["momentum"]))
            return self.model.optimize(iterations, **kwargs)

        def __getattr__(self, name):
            return getattr(self.model, name)

    def fit_with_cli_k(data, **settings):
        seen.update(settings)
        return WithoutRestart(engine_fit(data, **{**settings, "k": 90}))

    monkeypatch.setattr(tsne_rs._sklearn._tsne_rs, "fit", fit_with_cli_k)
    # The CLI's auto learning rate, max(n / 12, 50), is a quarter of that in sklearn's units.
    lr = max(1797 / 12, 50)
    Y = tsne_rs.TSNE(
        random_state=7, learning_rate=lr / 4, n_iter_without_progress=10_000, min_grad_norm=0.0
    ).fit_transform(X)
    assert seen["k"] == 91 and seen["learning_rate"] == lr
    assert seen["iterations"] == seen["exaggeration_iterations"] == 250 and seen["momentum_early"] == 0.5
    assert calls == ["reset", ("optimize", 750, lr, 0.8)]
    start = seen["init"]
    assert start.shape == (1797, 2) and abs(np.std(start[:, 0]) - 1e-4) < 1e-9
    np.save(tmp_path / "init.npy", start)
    out = tmp_path / "y.csv"
    subprocess.run(
        [str(cli), "demo", "--seed", "7", "--learning-rate", repr(lr), "--out", str(out), "--threads", "2",
         "--init", str(tmp_path / "init.npy")],
        check=True,
        capture_output=True,
    )
    # embedding_ is float32, as scikit-learn's: the CLI's float64 positions, rounded.
    assert Y.dtype == np.float32
    assert np.array_equal(np.loadtxt(out, delimiter=",").astype(np.float32), Y)


def test_n_jobs_dtype_and_order_do_not_change_the_bits(digits):
    X, _ = digits
    X = X[:400]
    base = tsne_rs.TSNE(random_state=3, max_iter=300, n_jobs=1).fit_transform(X)
    assert np.array_equal(base, tsne_rs.TSNE(random_state=3, max_iter=300, n_jobs=2).fit_transform(X))
    assert np.array_equal(base, tsne_rs.TSNE(random_state=3, max_iter=300).fit_transform(np.asfortranarray(X)))
    # From the same start, float32 and float64 input give the same bits (the PCA start is
    # scikit-learn's PCA, computed in X's dtype as scikit-learn does, so it is not shared).
    X32 = X.astype(np.float32)
    assert np.array_equal(
        tsne_rs.TSNE(random_state=3, max_iter=300, init="random").fit_transform(X32),
        tsne_rs.TSNE(random_state=3, max_iter=300, init="random").fit_transform(X32.astype(np.float64)),
    )


def test_parameters_follow_sklearn(digits):
    X, _ = digits
    tsne = tsne_rs.TSNE(perplexity=12.0, angle=0.3, method="exact")
    assert tsne.get_params()["perplexity"] == 12.0
    other = clone(tsne).set_params(perplexity=5.0)
    assert other.perplexity == 5.0 and tsne.perplexity == 12.0
    # Exact and Barnes-Hut agree on quality; FFT runs too.
    for method in ("exact", "barnes_hut", "fft"):
        Y = tsne_rs.TSNE(method=method, random_state=0, max_iter=500).fit_transform(X[:300])
        assert np.all(np.isfinite(Y))
    Y = tsne_rs.TSNE(init="random", random_state=0, max_iter=300).fit_transform(X[:300])
    start = np.random.RandomState(0).normal(size=(300, 2)) * 1e-4
    Z = tsne_rs.TSNE(init=start, random_state=0, max_iter=300).fit_transform(X[:300])
    assert Y.shape == Z.shape == (300, 2)


@pytest.mark.parametrize(
    "params, X, message",
    [
        ({"perplexity": 30}, np.random.RandomState(0).normal(size=(20, 3)), "perplexity"),
        ({"perplexity": 1}, np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]), "Input X contains NaN"),
        ({"perplexity": 1}, np.array([[0.0, 1.0], [np.inf, 2.0], [1.0, 1.0]]), "Input X contains infinity"),
        ({"method": "barnes_hut", "n_components": 4}, np.zeros((50, 5)), "inferior to 4"),
        ({"learning_rate": -1.0}, np.zeros((50, 5)), "learning_rate"),
        ({"metric": "precomputed", "init": "random", "perplexity": 2}, np.ones((5, 4)), "square"),
        ({"metric": "precomputed"}, np.ones((40, 40)), "init"),
        ({"perplexity": 5}, np.ones((40, 3)), "identical"),
    ],
)
def test_bad_arguments_raise_value_error(params, X, message):
    with pytest.raises(ValueError, match=message):
        tsne_rs.TSNE(**params).fit_transform(X)


def test_verbose_prints_sklearns_progress_lines(digits, capsys):
    X, _ = digits
    tsne_rs.TSNE(verbose=2, random_state=0, max_iter=300).fit_transform(X[:200])
    out = capsys.readouterr().out
    assert "[t-SNE] Computing 91 nearest neighbors..." in out
    assert "[t-SNE] Iteration 50: error = " in out and "gradient norm = " in out
    assert "[t-SNE] KL divergence after 250 iterations with early exaggeration: " in out
    assert "[t-SNE] KL divergence after 300 iterations: " in out
    tsne_rs.TSNE(random_state=0, max_iter=300).fit_transform(X[:200])
    assert capsys.readouterr().out == ""


def test_precomputed_distances(digits):
    from scipy.spatial.distance import cdist

    X, y = digits
    X, y = X[:500], y[:500]
    D = cdist(X, X)
    Y = tsne_rs.TSNE(metric="precomputed", init="random", random_state=0).fit_transform(D)
    assert knn_accuracy(Y, y) >= 0.9


def test_scikit_learn_estimator_checks():
    # scikit-learn runs these checks on its own TSNE with perplexity=2 (its datasets are small);
    # all of them apply to a fit_transform-only estimator, and all must pass.
    results = check_estimator(tsne_rs.TSNE(perplexity=2, max_iter=300), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert len(results) >= 30
    assert not failed, failed


def test_sparse_input_gives_the_bits_of_the_same_values_dense(digits):
    # The engine searches sparse rows exactly with the dense code's operations: every scipy
    # format gives the dense embedding bit for bit (with a start that reads no coordinates).
    import scipy.sparse as sp

    X, _ = digits
    X = X[:400]
    dense = tsne_rs.TSNE(init="random", random_state=0, max_iter=300).fit_transform(X)
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.coo_array, sp.lil_matrix):
        sparse = tsne_rs.TSNE(init="random", random_state=0, max_iter=300).fit_transform(fmt(X))
        assert np.array_equal(sparse, dense), fmt.__name__
    cosine = dict(init="random", random_state=0, max_iter=300, metric="cosine")
    assert np.array_equal(tsne_rs.TSNE(**cosine).fit_transform(sp.csr_matrix(X)), tsne_rs.TSNE(**cosine).fit_transform(X))


@pytest.mark.parametrize(
    "metric",
    ["euclidean", "sqeuclidean", "cosine", "correlation", "manhattan", "chebyshev", "minkowski",
     "canberra", "braycurtis", "hamming", "jaccard"],
)
def test_each_engine_metric_gives_the_p_of_its_precomputed_distances(digits, metric):
    # The engine's metric against scikit-learn's pairwise_distances of the same name, fed to
    # the engine as a distance matrix: the same joint P (to the rounding of the distances).
    from sklearn.metrics import pairwise_distances

    from tsne_rs import _tsne_rs

    X, _ = digits
    X = X[:300] + 0.01 * np.arange(64)  # no constant rows (correlation) or zero rows
    if metric in ("hamming", "jaccard"):
        X = (X > 8).astype(np.float64)
    kwargs = {"metric_p": 3.0} if metric == "minkowski" else {}
    D = pairwise_distances(X, metric=metric, **({"p": 3.0} if metric == "minkowski" else {}))
    n, ip, ix, v = _tsne_rs.affinities(X, metric=metric, perplexity=10.0, **kwargs)
    n2, ip2, ix2, v2 = _tsne_rs.affinities(D, kind="distances", perplexity=10.0)
    import scipy.sparse as sp

    P = sp.csr_matrix((v, ix, ip), shape=(n, n)).toarray()
    Q = sp.csr_matrix((v2, ix2, ip2), shape=(n, n)).toarray()
    # scikit-learn's Euclidean distances come from |x|^2 + |y|^2 - 2 x.y, a few ulps from the
    # engine's: a near tie at the k-th neighbour may then go the other way in a row or two.
    same_rows = sum(np.allclose(P[i], Q[i], rtol=1e-4, atol=1e-9) for i in range(n))
    assert same_rows >= n - 10, (metric, n - same_rows)
    assert np.abs(P - Q).sum() < 1e-3, metric
