import sys
import pathlib
ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "tests"))  # conftest.knn_accuracy
import numpy as np, warnings
warnings.filterwarnings("ignore")
import scanpy as sc
from threadpoolctl import threadpool_limits
from sklearn.manifold import TSNE as SkTSNE
import tsne_rs
from tsne_rs._sklearn import _sklearn_pca_init
from conftest import knn_accuracy
ad = sc.datasets.pbmc68k_reduced()
X = ad.obsm["X_pca"]; labels = ad.obs["bulk_labels"].cat.codes.values
args = dict(perplexity=30, early_exaggeration=12, learning_rate=1000, n_jobs=1, metric="euclidean", random_state=0)
start = _sklearn_pca_init(X, 2, np.random.RandomState(0)).astype(np.float32)
for k in range(int(sys.argv[1])):
    init = start if k == 0 else (start * (1 + 1e-4 * np.random.RandomState(k).normal(size=start.shape))).astype(np.float32)
    row = []
    for name, cls in (("tsne_rs", tsne_rs.TSNE), ("sklearn", SkTSNE)):
        e = cls(init=init, **args)
        with threadpool_limits(1):
            Y = e.fit_transform(X)
        row.append(f"{name} acc={knn_accuracy(Y, labels):.4f} kl={e.kl_divergence_:.4f}")
    print("perturbation", k, " | ".join(row), flush=True)
