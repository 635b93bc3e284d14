"""Fast, deterministic t-SNE in Rust.

* ``tsne_rs.TSNE`` is a drop-in for ``sklearn.manifold.TSNE``.
* ``tsne_rs.opentsne`` is a drop-in for openTSNE (``import tsne_rs.opentsne as openTSNE``).
* ``tsne_rs.scanpy.tsne(adata)`` writes ``adata.obsm["X_tsne"]`` like ``sc.tl.tsne``.
* ``tsne_rs.view(Y, labels=..., meta=...)`` is an interactive map of an embedding: one
  self-contained HTML page (``path=`` writes it; a notebook displays it).

Every computation runs in the Rust ``tsne`` crate with the GIL released; Ctrl-C stops a run
between iterations with ``KeyboardInterrupt``. The same ``random_state`` gives bit-identical
results for any ``n_jobs``.
"""

from ._tsne_rs import FORMAT_VERSION, Model
from ._sklearn import TSNE
from ._view import view

__all__ = ["TSNE", "Model", "FORMAT_VERSION", "view", "opentsne", "scanpy"]
__version__ = "0.1.0"


def __getattr__(name):
    # The openTSNE and scanpy layers are imported on first use.
    if name in ("opentsne", "scanpy"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)
