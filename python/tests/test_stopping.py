"""The engine's KL stopping rule (`min_kl_change`) from Python and from the CLI."""
import json
import subprocess

import numpy as np

from tsne_rs import _tsne_rs


def test_min_kl_change_stops_as_the_cli_does(digits, cli, tmp_path):
    X, _ = digits
    # Any change meets a tolerance of 10: the run stops at the second KL report after early
    # exaggeration (iteration 350); a tolerance the digits never meet runs every iteration.
    for tolerance, iterations, stop in [(10.0, 350, "kl-tolerance"), (1e-6, 1000, "completed")]:
        model = _tsne_rs.fit(X, seed=42, min_kl_change=tolerance)
        summary = model.summary()
        assert (summary["iterations"], summary["stop"]) == (iterations, stop)
        data = tmp_path / "digits.csv"
        np.savetxt(data, X, delimiter=",")
        out = tmp_path / "y.npy"
        run = subprocess.run(
            [cli, "embed", str(data), "--out", str(out), "--json", "--progress", "none",
             "--min-kl-change", str(tolerance)],
            capture_output=True, text=True, check=True,
        )
        summary = json.loads(run.stdout.splitlines()[-1])
        assert (summary["iterations"], summary["stop"]) == (iterations, stop)
