"""t-SNE of the handwritten digits, as in scikit-learn's example "Manifold learning on
handwritten digits", with ``tsne_rs.TSNE`` in place of ``sklearn.manifold.TSNE``: only the
import changes.

    python sklearn_digits.py            # tsne_rs
    python sklearn_digits.py --peer     # the same script with sklearn.manifold.TSNE
    python sklearn_digits.py --plot digits.png

Prints the leave-one-out 10-NN label accuracy in the embedding and the time of fit_transform.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier
from sklearn.model_selection import cross_val_score

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--peer", action="store_true", help="run sklearn.manifold.TSNE instead")
parser.add_argument("--plot", metavar="PNG", help="write a scatter plot here")
args = parser.parse_args()

if args.peer:
    from sklearn.manifold import TSNE
else:
    from tsne_rs import TSNE  # the only change: was `from sklearn.manifold import TSNE`

digits = load_digits(n_class=10)
X, y = digits.data, digits.target
n_samples, n_features = X.shape

tsne = TSNE(n_components=2, max_iter=500, n_iter_without_progress=500, init="pca", random_state=0)
start = time.perf_counter()
X_embedded = tsne.fit_transform(X)
elapsed = time.perf_counter() - start


def knn_accuracy(Y, labels, k=10):
    """Leave-one-out k-NN label accuracy in the embedding (ties: smallest label)."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    votes = labels[idx]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(predicted == labels))


print(f"{TSNE.__module__}.TSNE on digits ({n_samples} x {n_features})")
print(f"  fit_transform: {elapsed:.2f} s, {tsne.n_iter_ + 1} iterations, KL {tsne.kl_divergence_:.4f}")
print(f"  embedding_: {X_embedded.shape} {X_embedded.dtype}")
print(f"  10-NN accuracy (leave-one-out): {knn_accuracy(X_embedded, y):.4f}")
score = cross_val_score(KNeighborsClassifier(n_neighbors=10), X_embedded, y, cv=5).mean()
print(f"  10-NN classifier, 5-fold CV accuracy: {score:.4f}")

if args.plot:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    for digit in digits.target_names:
        ax.scatter(*X_embedded[y == digit].T, marker=f"${digit}$", s=60, color=plt.cm.Dark2(digit), alpha=0.425)
    ax.set_title(f"t-SNE embedding ({TSNE.__module__}.TSNE)")
    ax.axis("off")
    fig.savefig(args.plot, dpi=120, bbox_inches="tight")
    print(f"  plot: {args.plot}")
