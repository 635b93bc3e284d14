"""openTSNE's ``openTSNE.sklearn``: ``TSNE`` with scikit-learn's ``fit`` / ``fit_transform`` /
``transform`` (plain ndarrays out). Like openTSNE, it is not imported by the package itself:
``import tsne_rs.opentsne.sklearn``."""

import numpy as np

from . import TSNE as _TSNE


class TSNE(_TSNE):
    __doc__ = _TSNE.__doc__

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        embedding = super().fit(X)
        self.embedding_ = embedding
        return self.embedding_.view(np.ndarray)

    def transform(self, X, *args, **kwargs):
        embedding = self.embedding_.transform(X, *args, **kwargs)
        return embedding.view(np.ndarray)
