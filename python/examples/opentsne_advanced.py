"""openTSNE's documentation, "Advanced usage" (examples/02_advanced_usage), with only the
imports swapped: ``from tsne_rs.opentsne import TSNEEmbedding, affinity, initialization``.

The documentation embeds the Macosko 2015 retina data (44,808 cells), which cannot be
downloaded here; this runs the same code on the digits bundled with the repository
(data/digits.csv, 1797 x 64) and prints, instead of plotting, the quality (10-NN accuracy of
the labels: leave-one-out in the training embedding, and of the placed test points against
the training embedding) and the times.

    PYTHONPATH=python python python/examples/opentsne_advanced.py [--peer]

``--peer`` runs the same code on the real openTSNE for comparison.
"""

import pathlib
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

if "--peer" in sys.argv:
    from openTSNE import TSNEEmbedding
    from openTSNE import affinity
    from openTSNE import initialization
else:
    from tsne_rs.opentsne import TSNEEmbedding
    from tsne_rs.opentsne import affinity
    from tsne_rs.opentsne import initialization

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def knn_accuracy(Y, labels, k=10):
    """Leave-one-out k-NN label accuracy in the embedding."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in labels[idx]])
    return float(np.mean(predicted == labels))


times = {}


class timed:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *args):
        times[self.name] = time.perf_counter() - self.start


x = np.loadtxt(DATA / "digits.csv", delimiter=",")
y = np.loadtxt(DATA / "digits_labels.csv", dtype=int)

print("Data set contains %d samples with %d features" % x.shape)

x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=.33, random_state=42)

print("%d training samples" % x_train.shape[0])
print("%d test samples" % x_test.shape[0])

with timed("affinities"):
    affinities_train = affinity.PerplexityBasedNN(
        x_train,
        perplexity=30,
        metric="euclidean",
        n_jobs=8,
        random_state=42,
        verbose=True,
    )

with timed("initialization"):
    init_train = initialization.pca(x_train, random_state=42)

embedding_train = TSNEEmbedding(
    init_train,
    affinities_train,
    negative_gradient_method="fft",
    n_jobs=8,
    verbose=True,
)

with timed("optimize (early exaggeration)"):
    embedding_train_1 = embedding_train.optimize(n_iter=250, exaggeration=12)

with timed("optimize"):
    embedding_train_2 = embedding_train_1.optimize(n_iter=500)

with timed("prepare_partial"):
    embedding_test = embedding_train_2.prepare_partial(x_test)

with timed("optimize (new points)"):
    embedding_test_1 = embedding_test.optimize(n_iter=250, learning_rate=0.1, exaggeration=1.5)

train_accuracy = knn_accuracy(np.asarray(embedding_train_2), y_train)
test_accuracy = (
    KNeighborsClassifier(10).fit(np.asarray(embedding_train_2), y_train)
    .score(np.asarray(embedding_test_1), y_test)
)
print("times: " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()) + f"; total {sum(times.values()):.2f} s")
print(f"10-NN accuracy: train (leave-one-out) {train_accuracy:.4f}, test (placed) {test_accuracy:.4f}")
print(f"KL divergence {embedding_train_2.kl_divergence:.4f}")
