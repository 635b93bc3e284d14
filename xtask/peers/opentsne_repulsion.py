"""Times openTSNE's FFT repulsion (negative gradient) on an embedding; prints one JSON line.

Usage: opentsne_repulsion.py EMBEDDING.csv REPEATS

openTSNE's defaults: 3 interpolation points, at least 50 intervals, 1 interval per unit,
dof 1. One warm-up call, then the median of REPEATS calls.
"""
import json
import sys
import time

import numpy as np
import openTSNE
from openTSNE import _tsne

y = np.ascontiguousarray(np.loadtxt(sys.argv[1], delimiter=","), dtype=np.float64)
repeats = int(sys.argv[2])
grad = np.zeros_like(y)


def once():
    grad[:] = 0
    return _tsne.estimate_negative_gradient_fft_2d(
        y, grad, n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1, dof=1
    )


once()
times = []
z = 0.0
for _ in range(repeats):
    t = time.perf_counter()
    z = once()
    times.append((time.perf_counter() - t) * 1e3)
times.sort()
print(json.dumps({"version": openTSNE.__version__, "median_ms": times[len(times) // 2], "z": float(z)}))
