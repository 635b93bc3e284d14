import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def digits():
    """The digits bundled with the repository (1797 x 64) and their labels."""
    X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")
    y = np.loadtxt(ROOT / "data" / "digits_labels.csv", dtype=int)
    return X, y


@pytest.fixture(scope="session")
def cli():
    """The `tsne` binary: $TSNE_CLI, or the build `cargo test` made."""
    path = pathlib.Path(os.environ.get("TSNE_CLI", ROOT / "target" / "debug" / "tsne"))
    if not path.exists():
        pytest.skip(f"no tsne binary at {path} (run cargo test --workspace first)")
    return path


def knn_accuracy(Y, labels, k=10):
    """Leave-one-out k-NN label accuracy in the embedding (ties: smallest label)."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    votes = labels[idx]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(predicted == labels))
