"""Runs FIt-SNE (the `fitsne` package) with the parameters of our suite and prints one JSON line.

Usage: fitsne_run.py DATA.csv OUT.csv THREADS ITERATIONS EXAGGERATION_ITERATIONS SEED METHOD [--pca N] [--dims N]

With --pca the points are read in single precision and projected on their leading
principal axes (scikit-learn's PCA) first, timed with the rest, as a user of this tool
would with 784-D image data. --dims 3 embeds in 3-D (FIt-SNE's Barnes-Hut). METHOD is "bh"
or "fft" (FIt-SNE's fft_not_bh). FIt-SNE runs its neighbour search (Annoy),
affinities and optimisation in one call, so only the total time is reported. Its defaults
match the suite's: perplexity 30, PCA initialisation, learning rate N/12, exaggeration 12.
"""
import argparse
import json
import sys
import time

import numpy as np
from peak_memory import peak_rss_mib
import fitsne
from fitsne._version import __version__ as fitsne_version

data, out, threads, iters, ee_iters, seed, method = sys.argv[1:8]
options = argparse.ArgumentParser()
options.add_argument("--pca", type=int, default=None)
options.add_argument("--dims", type=int, default=2)
options = options.parse_args(sys.argv[8:])
pca_dims, dims = options.pca, options.dims
threads, iters, ee_iters, seed = int(threads), int(iters), int(ee_iters), int(seed)
x = np.loadtxt(data, delimiter=",", dtype=np.float32 if pca_dims else np.float64)
t0 = time.perf_counter()
if pca_dims:
    from sklearn.decomposition import PCA
    x = PCA(n_components=pca_dims, random_state=seed).fit_transform(x)
x = np.ascontiguousarray(x, dtype=np.float64)
y = fitsne.FItSNE(
    x,
    perplexity=30.0,
    max_iter=iters,
    stop_early_exag_iter=ee_iters,
    mom_switch_iter=ee_iters,
    early_exag_coeff=12.0,
    rand_seed=seed,
    nthreads=threads,
    no_dims=dims,
    fft_not_bh=(method == "fft"),
)
t1 = time.perf_counter()
np.savetxt(out, np.asarray(y), delimiter=",")
print(json.dumps({
    "version": fitsne_version,
    "repulsion": method,
    "peak_rss_mib": peak_rss_mib(),
    "kl_divergence": None,
    "timings_s": {"neighbors_and_affinities": None, "optimize": None, "total": t1 - t0},
}))
