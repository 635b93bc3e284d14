import sys
import pathlib
ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "tests"))  # conftest.knn_accuracy
import numpy as np, warnings
warnings.filterwarnings("ignore")
import scanpy as sc
from threadpoolctl import threadpool_limits
import tsne_rs, tsne_rs.scanpy
from conftest import knn_accuracy
base = sc.datasets.pbmc68k_reduced()
labels = base.obs["bulk_labels"].cat.codes.to_numpy()
rel = float(sys.argv[2])
for k in range(int(sys.argv[1])):
    row = []
    for name, fn in (("tsne_rs", tsne_rs.scanpy.tsne), ("scanpy", sc.tl.tsne)):
        a = base.copy()
        if k:
            a.obsm["X_pca"] = (a.obsm["X_pca"] * (1 + rel * np.random.RandomState(k).normal(size=a.obsm["X_pca"].shape))).astype(np.float32)
        with threadpool_limits(1):
            fn(a)
        row.append(f"{name} {knn_accuracy(a.obsm['X_tsne'], labels):.4f}")
    print(k, " | ".join(row), flush=True)
