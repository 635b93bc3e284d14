"""Runs openTSNE with the parameters of our suite and prints one JSON line of timings.

Usage: opentsne_run.py DATA.csv OUT.csv THREADS ITERATIONS EXAGGERATION_ITERATIONS SEED METHOD [--pca N] [--dims N]

With --pca the points are read in single precision and projected on their leading
principal axes (scikit-learn's PCA) first, timed with the rest, as a user of this tool
would with 784-D image data. With --dims 3 the embedding is 3-D (openTSNE runs Barnes-Hut
there). METHOD is "bh" or "fft" (openTSNE's negative_gradient_method).
"""
import argparse
import json
import sys
import time

import numpy as np
from peak_memory import peak_rss_mib
import openTSNE
from openTSNE import TSNEEmbedding, affinity, initialization

data, out, threads, iters, ee_iters, seed, method = sys.argv[1:8]
options = argparse.ArgumentParser()
options.add_argument("--pca", type=int, default=None)
options.add_argument("--dims", type=int, default=2)
options = options.parse_args(sys.argv[8:])
pca_dims, dims = options.pca, options.dims
threads, iters, ee_iters, seed = int(threads), int(iters), int(ee_iters), int(seed)
x = np.loadtxt(data, delimiter=",", dtype=np.float32 if pca_dims else np.float64)
n = x.shape[0]
t0 = time.perf_counter()
if pca_dims:
    from sklearn.decomposition import PCA
    x = PCA(n_components=pca_dims, random_state=seed).fit_transform(x).astype(np.float64)
aff = affinity.PerplexityBasedNN(x, perplexity=30, n_jobs=threads, random_state=seed)
t1 = time.perf_counter()
init = initialization.pca(x, n_components=dims, random_state=seed)
t2 = time.perf_counter()
emb = TSNEEmbedding(init, aff, n_jobs=threads, negative_gradient_method=method, random_state=seed)
emb = emb.optimize(n_iter=ee_iters, exaggeration=12, momentum=0.5)
emb = emb.optimize(n_iter=iters - ee_iters, exaggeration=1, momentum=0.8)
t3 = time.perf_counter()
np.savetxt(out, np.asarray(emb), delimiter=",")
print(json.dumps({
    "version": openTSNE.__version__,
    "repulsion": method,
    "peak_rss_mib": peak_rss_mib(),
    "kl_divergence": float(emb.kl_divergence),
    "timings_s": {"neighbors_and_affinities": t1 - t0, "initialization": t2 - t1,
                  "optimize": t3 - t2, "total": t3 - t0},
}))
