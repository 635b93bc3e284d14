"""The iteration at which scikit-learn's TSNE and the drop-in stop for a range of
``min_grad_norm`` thresholds (300 digits, random_state 0): both compare the gains-weighted
gradient norm every 50 iterations.

    PYTHONPATH=python python python/benchmarks/peers/sklearn_min_grad_norm.py
"""

import pathlib
import warnings

import numpy as np
from sklearn.manifold import TSNE as SkTSNE

from tsne_rs import TSNE

warnings.filterwarnings("ignore")
ROOT = pathlib.Path(__file__).resolve().parents[3]
X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")[:300]
for threshold in (1.0, 0.45, 0.05, 0.015, 0.008, 0.005, 0.003):
    theirs = SkTSNE(min_grad_norm=threshold, random_state=0).fit(X)
    ours = TSNE(min_grad_norm=threshold, random_state=0).fit(X)
    print(f"min_grad_norm={threshold}: n_iter_ scikit-learn {theirs.n_iter_}, ours {ours.n_iter_}")
