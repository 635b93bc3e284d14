"""openTSNE's ``openTSNE.callbacks``: the ``Callback`` base class.

A callback is any callable ``callback(iteration, error, embedding) -> bool`` (a truthy
return stops the optimisation); ``optimization_about_to_start()`` is called, if present,
before each ``optimize`` run. ``iteration`` counts from 1 within that run and is a multiple
of ``callbacks_every_iters``; ``error`` is the KL divergence of the unexaggerated P (None for
new points placed by ``prepare_partial``: the engine reports their KL only at the end);
``embedding`` is the embedding being optimised, updated in place.
"""

import logging

log = logging.getLogger("openTSNE.callbacks")

__all__ = ["Callback"]


class Callback:
    def optimization_about_to_start(self):
        """This is called at the beginning of the optimization procedure."""

    def __call__(self, iteration, error, embedding):
        """This is the main method called from the optimization; returning True stops it."""
