"""Runs our engine through the Python package (tsne_rs) with the CLI's parameters and prints
one JSON line of timings, so the suite shows what the binding costs.

Usage: tsne_rs_run.py DATA.csv OUT.csv THREADS ITERATIONS EXAGGERATION_ITERATIONS SEED METHOD [--dims N]

METHOD is "auto", "bh" or "fft". The settings are the CLI's defaults, so the embedding is the
CLI's, bit for bit.
"""
import argparse
import json
import sys
import time

import numpy as np
from peak_memory import peak_rss_mib
import tsne_rs
from tsne_rs import _tsne_rs

data, out, threads, iters, ee_iters, seed, method = sys.argv[1:8]
options = argparse.ArgumentParser()
options.add_argument("--dims", type=int, default=2)
dims = options.parse_args(sys.argv[8:]).dims
x = np.loadtxt(data, delimiter=",")
t0 = time.perf_counter()
model = _tsne_rs.fit(
    x,
    n_components=dims,
    iterations=int(iters),
    exaggeration_iterations=int(ee_iters),
    seed=int(seed),
    n_jobs=int(threads),
    repulsion={"auto": "auto", "bh": "barnes_hut", "fft": "fft"}[method],
)
t1 = time.perf_counter()
np.savetxt(out, model.positions(), delimiter=",", fmt="%.17g")
s = model.summary()
t = s["timings_s"]
print(json.dumps({
    "version": tsne_rs.__version__,
    "repulsion": s["repulsion"],
    "peak_rss_mib": peak_rss_mib(),
    "kl_divergence": s["kl_divergence"],
    "timings_s": {"neighbors_and_affinities": t["neighbors"] + t["affinities"], "initialization": t["initialization"],
                  "optimize": t["optimize"], "total": t1 - t0},
}))
