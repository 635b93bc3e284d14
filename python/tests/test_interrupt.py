"""Ctrl-C stops a fit promptly with KeyboardInterrupt and leaves no worker threads."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np
    import tsne_rs

    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored:
    # install the interactive default so the test does not depend on how it was launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def threads():
        return len(os.listdir("/proc/self/task"))

    X = np.random.RandomState(0).normal(size=(6000, 10))
    before = threads()
    print("started", flush=True)
    start = time.time()
    try:
        tsne_rs.TSNE(max_iter=100000, n_iter_without_progress=10**9, min_grad_norm=0.0, n_jobs=2, random_state=0).fit_transform(X)
        print("finished", flush=True)
    except KeyboardInterrupt:
        elapsed = time.time() - start
        time.sleep(0.5)
        print(f"interrupted {threads() - before}", flush=True)
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc to count threads")
def test_sigint_stops_a_fit_within_a_second():
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "started"
    time.sleep(3.0)  # well into the optimisation
    sent = time.time()
    child.send_signal(signal.SIGINT)
    line = child.stdout.readline().strip()
    stopped = time.time() - sent - 0.5  # the child sleeps 0.5 s before reporting
    child.wait(timeout=30)
    assert line.startswith("interrupted"), line
    assert stopped < 1.5, f"took {stopped:.2f} s to stop"
    assert int(line.split()[1]) == 0, "worker threads outlived the fit"
