"""t-SNE of the reduced 68k PBMC data set, as in scanpy's documentation of ``sc.tl.tsne`` /
``sc.pl.tsne``, with ``tsne_rs.scanpy.tsne`` in place of ``sc.tl.tsne``: only the call changes
(``sc.tl.tsne(adata)`` becomes ``tsne_rs.scanpy.tsne(adata)``), everything around it is scanpy.

    python scanpy_pbmc.py            # tsne_rs
    python scanpy_pbmc.py --peer     # the same script with sc.tl.tsne
    python scanpy_pbmc.py --plot pbmc.png

Prints the leave-one-out 10-NN accuracy of the ``bulk_labels`` in ``obsm["X_tsne"]`` and the
time of the t-SNE call.
"""

import argparse
import time

import numpy as np
import scanpy as sc

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--peer", action="store_true", help="run sc.tl.tsne instead")
parser.add_argument("--plot", metavar="PNG", help="write sc.pl.tsne's plot here")
args = parser.parse_args()

if args.peer:
    tsne = sc.tl.tsne
else:
    import tsne_rs.scanpy

    tsne = tsne_rs.scanpy.tsne  # the only change: was sc.tl.tsne

adata = sc.datasets.pbmc68k_reduced()
start = time.perf_counter()
tsne(adata)  # uses adata.obsm["X_pca"] (50 PCs), writes obsm["X_tsne"] and uns["tsne"]
elapsed = time.perf_counter() - start


def knn_accuracy(Y, labels, k=10):
    """Leave-one-out k-NN label accuracy in the embedding (ties: smallest label)."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    votes = labels[idx]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float(np.mean(predicted == labels))


labels = adata.obs["bulk_labels"].cat.codes.to_numpy()
Y = adata.obsm["X_tsne"]
print(f"{tsne.__module__}.tsne on pbmc68k_reduced ({adata.n_obs} cells x {adata.n_vars} genes)")
print(f"  t-SNE: {elapsed:.2f} s")
print(f"  obsm['X_tsne']: {Y.shape} {Y.dtype}; uns['tsne'] = {adata.uns['tsne']}")
print(f"  bulk_labels 10-NN accuracy (leave-one-out): {knn_accuracy(Y, labels):.4f}")

if args.plot:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc.pl.tsne(adata, color="bulk_labels", show=False)
    plt.savefig(args.plot, dpi=120, bbox_inches="tight")
    print(f"  plot: {args.plot}")
