"""openTSNE's documentation, "Basic usage" (examples/01_simple_usage), with only the import
swapped: ``from tsne_rs.opentsne import TSNE`` instead of ``from openTSNE import TSNE``.

The documentation embeds the Macosko 2015 retina data (44,808 cells), which cannot be
downloaded here; this runs the same code on the digits bundled with the repository
(data/digits.csv, 1797 x 64) and prints, instead of plotting, the quality (10-NN accuracy of
the labels: leave-one-out in the training embedding, and of the transformed test points
against the training embedding) and the times.

    PYTHONPATH=python python python/examples/opentsne_basic.py [--peer]

``--peer`` runs the same code on the real openTSNE for comparison.
"""

import pathlib
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

if "--peer" in sys.argv:
    from openTSNE import TSNE
else:
    from tsne_rs.opentsne import TSNE

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


def knn_accuracy(Y, labels, k=10):
    """Leave-one-out k-NN label accuracy in the embedding."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in labels[idx]])
    return float(np.mean(predicted == labels))


x = np.loadtxt(DATA / "digits.csv", delimiter=",")
y = np.loadtxt(DATA / "digits_labels.csv", dtype=int)

print("Data set contains %d samples with %d features" % x.shape)

x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=.33, random_state=42)

print("%d training samples" % x_train.shape[0])
print("%d test samples" % x_test.shape[0])

tsne = TSNE(
    perplexity=30,
    metric="euclidean",
    n_jobs=8,
    random_state=42,
    verbose=True,
)

t = time.perf_counter()
embedding_train = tsne.fit(x_train)
fit_time = time.perf_counter() - t

t = time.perf_counter()
embedding_test = embedding_train.transform(x_test)
transform_time = time.perf_counter() - t

train_accuracy = knn_accuracy(np.asarray(embedding_train), y_train)
test_accuracy = KNeighborsClassifier(10).fit(np.asarray(embedding_train), y_train).score(np.asarray(embedding_test), y_test)
print(f"fit: {fit_time:.2f} s, transform: {transform_time:.2f} s")
print(f"10-NN accuracy: train (leave-one-out) {train_accuracy:.4f}, test (placed) {test_accuracy:.4f}")
print(f"KL divergence {embedding_train.kl_divergence:.4f}")
