"""KL and 10-NN accuracy, tsne_rs.TSNE vs sklearn.manifold.TSNE (one OpenMP thread).
usage: measure.py N MAX_ITER [SEED]"""
import sys, time
import pathlib
ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python" / "tests"))  # conftest.knn_accuracy
import numpy as np, scipy.sparse as sp
from threadpoolctl import threadpool_limits
from sklearn.manifold import TSNE as SkTSNE, _t_sne
from sklearn.neighbors import NearestNeighbors
from scipy.spatial.distance import pdist, squareform
import tsne_rs
from conftest import knn_accuracy

n, max_iter = int(sys.argv[1]), int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
X = np.loadtxt(ROOT / "data" / "digits.csv", delimiter=",")[:n]
y = np.loadtxt(ROOT / "data" / "digits_labels.csv", dtype=int)[:n]
k = min(n - 1, 91)
G = NearestNeighbors(n_neighbors=k).fit(X).kneighbors_graph(mode="distance"); G.data **= 2
P = sp.csr_matrix(_t_sne._joint_probabilities_nn(G, 30.0, 0)).toarray()

def exact_kl(Y):
    Y = Y.astype(np.float64)
    q = 1.0 / (1.0 + squareform(pdist(Y, "sqeuclidean"))); np.fill_diagonal(q, 0); q /= q.sum()
    m = P > 0
    return float(np.sum(P[m] * np.log(P[m] / np.maximum(q[m], 1e-300))))

for name, cls in (("tsne_rs", tsne_rs.TSNE), ("sklearn", SkTSNE)):
    est = cls(random_state=seed, max_iter=max_iter)
    t = time.perf_counter()
    with threadpool_limits(1):
        Y = est.fit_transform(X)
    t = time.perf_counter() - t
    print(f"{name:8s} n={n} max_iter={max_iter} seed={seed}: kl_divergence_={est.kl_divergence_:.4f} "
          f"exact KL vs sklearn's P={exact_kl(Y):.4f} 10-NN acc={knn_accuracy(Y, y):.4f} n_iter_={est.n_iter_} time={t:.2f}s")
