import sys, time
import pathlib
ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "tests"))  # conftest.knn_accuracy
import numpy as np, warnings
warnings.filterwarnings("ignore")
import scanpy as sc
from threadpoolctl import threadpool_limits
from sklearn.manifold import TSNE as SkTSNE
import tsne_rs
from conftest import knn_accuracy
ad = sc.datasets.pbmc68k_reduced()
X = ad.obsm["X_pca"]; labels = ad.obs["bulk_labels"].cat.codes.values
which = sys.argv[1] if len(sys.argv) > 1 else "both"
seeds = range(int(sys.argv[2])) if len(sys.argv) > 2 else range(4)
args = dict(perplexity=30, early_exaggeration=12, learning_rate=1000, n_jobs=1, metric="euclidean")
for init in ("pca", "random"):
    for seed in (seeds if init == "random" else [0]):
        row = []
        for name, cls in (("tsne_rs", tsne_rs.TSNE), ("sklearn", SkTSNE)):
            if which != "both" and name != which: continue
            e = cls(random_state=seed, init=init, **args)
            with threadpool_limits(1):
                Y = e.fit_transform(X)
            row.append(f"{name} acc={knn_accuracy(Y, labels):.4f} kl={e.kl_divergence_:.4f} n_iter_={e.n_iter_}")
        print(init, seed, " | ".join(row), flush=True)
