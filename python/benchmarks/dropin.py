"""The drop-in claims, measured: the same script with scikit-learn's TSNE and with
tsne_rs.TSNE, and openTSNE's quick-start with openTSNE and with tsne_rs.opentsne, on the
digits bundled with the repository; scanpy's sc.tl.tsne and tsne_rs.scanpy.tsne on scanpy's
bundled pbmc68k_reduced (700 cells, its X_pca); time and 10-NN accuracy of each, best of
REPEATS runs.

Usage: python dropin.py [REPEATS]   (needs scikit-learn, openTSNE and scanpy)
"""
import pathlib
import sys
import time

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

ROOT = pathlib.Path(__file__).resolve().parents[2]
X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")
y = np.loadtxt(ROOT / "data" / "digits_labels.csv", dtype=int)
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def knn_accuracy(Y, labels, k=10):
    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in labels[idx]])
    return float(np.mean(predicted == labels))


def best_of(run):
    times, out = [], None
    for _ in range(REPEATS):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return min(times), out


def sklearn_script(TSNE):
    # scikit-learn's documented parameters, as a user script passes them.
    return TSNE(n_components=2, perplexity=30.0, learning_rate="auto", init="pca", random_state=0).fit_transform(X)


def opentsne_quickstart(module):
    train, test = np.arange(len(X)) % 6 != 0, np.arange(len(X)) % 6 == 0
    embedding = module.TSNE(perplexity=30, metric="euclidean", n_jobs=2, random_state=42).fit(X[train])
    placed = embedding.transform(X[test])
    tighter = embedding.optimize(n_iter=100, exaggeration=1.5)
    return embedding, placed, tighter, train, test


def main():
    from sklearn.manifold import TSNE as SkTSNE

    import openTSNE
    import tsne_rs
    import tsne_rs.opentsne

    rows = []
    for name, TSNE in [("scikit-learn TSNE", SkTSNE), ("tsne_rs.TSNE", tsne_rs.TSNE)]:
        t, Y = best_of(lambda: sklearn_script(TSNE))
        rows.append((name, t, knn_accuracy(Y, y), None))
    for name, module in [("openTSNE", openTSNE), ("tsne_rs.opentsne", tsne_rs.opentsne)]:
        t, (emb, placed, _, train, test) = best_of(lambda: opentsne_quickstart(module))
        held_out = KNeighborsClassifier(10).fit(np.asarray(emb), y[train]).score(np.asarray(placed), y[test])
        rows.append((name, t, knn_accuracy(np.asarray(emb), y[train]), held_out))
    import scanpy as sc
    import tsne_rs.scanpy

    cells = sc.datasets.pbmc68k_reduced()
    classes = cells.obs["bulk_labels"].cat.codes.to_numpy()
    for name, tsne in [("scanpy sc.tl.tsne", sc.tl.tsne), ("tsne_rs.scanpy.tsne", tsne_rs.scanpy.tsne)]:
        t, out = best_of(lambda: tsne(cells, copy=True))
        Y = np.asarray(out.obsm["X_tsne"], dtype=np.float64)
        rows.append((name + " (pbmc68k_reduced)", t, knn_accuracy(Y, classes), None))
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("scikit-learn", "openTSNE", "scanpy"))
    print(f"digits 1797 x 64, best of {REPEATS}, {versions}")
    print("| script | time s | 10-NN accuracy | held-out accuracy (transform) |")
    print("|---|---|---|---|")
    for name, t, acc, held in rows:
        print(f"| {name} | {t:.2f} | {acc:.4f} | {'' if held is None else f'{held:.4f}'} |")


if __name__ == "__main__":
    main()
