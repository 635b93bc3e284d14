"""openTSNE's symmetrize=False against the drop-in: 10-NN accuracy and KL of the same script
(PerplexityBasedNN at perplexity 10, PCA start, bh, 250 iterations with exaggeration 12 and
500 without), symmetrised and not, on the first 300 and on all 1797 digits.

    PYTHONPATH=python python python/benchmarks/peers/opentsne_asymmetric.py
"""

import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "tests"))

import openTSNE as theirs  # noqa: E402
import tsne_rs.opentsne as ours  # noqa: E402
from conftest import knn_accuracy  # noqa: E402

X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")
y = np.loadtxt(ROOT / "data" / "digits_labels.csv", dtype=int)
for n in (300, 1797):
    for symmetrize in (True, False):
        row = []
        for m in (theirs, ours):
            aff = m.affinity.PerplexityBasedNN(X[:n], perplexity=10, symmetrize=symmetrize, random_state=0)
            E = m.TSNEEmbedding(m.initialization.pca(X[:n], random_state=0), aff, negative_gradient_method="bh")
            E = E.optimize(250, exaggeration=12).optimize(500)
            row.append(f"{knn_accuracy(np.asarray(E), y[:n]):.4f} / {E.kl_divergence:.4f}")
        print(f"n={n} symmetrize={symmetrize}: openTSNE {row[0]}, ours {row[1]} (10-NN accuracy / KL)")
