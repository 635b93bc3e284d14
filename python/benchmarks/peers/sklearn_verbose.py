import sys
import pathlib
ROOT = pathlib.Path(__file__).resolve().parents[3]

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.manifold import TSNE as SkTSNE
import tsne_rs
n, max_iter = int(sys.argv[1]), int(sys.argv[2])
X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")[:n]
extra = eval(sys.argv[3]) if len(sys.argv) > 3 else {}
for cls in (tsne_rs.TSNE, SkTSNE):
    print("==", cls.__module__)
    with threadpool_limits(1):
        e = cls(**{"random_state": 0, "max_iter": max_iter, "verbose": 2, **extra}); e.fit(X)
    print("n_iter_", e.n_iter_, "kl", e.kl_divergence_, type(e.kl_divergence_))
