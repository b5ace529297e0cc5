"""The adversarial term: a scorer (e.g. a discriminator) says how real a molecule looks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from molgym.rewards.learned import GraphBatch, ModelTerm, graph_batch

__all__ = ["Adversarial", "graph_batch"]


class Adversarial(ModelTerm):
    """Probability, according to ``scorer``, that the molecule is a real one.

    Args:
        scorer: ``scorer(batch: GraphBatch) -> array (B,)`` of probabilities in [0, 1], e.g. a
            discriminator trained online against generated molecules (the GCPN agent provides one).
        final: ``True`` for the final-reward variant, ``False`` to score every step (GCPN uses both).
    """

    def __init__(self, scorer: Callable[[GraphBatch], np.ndarray], final: bool = True):
        super().__init__(scorer, "adversarial" if final else "adversarial_step", final)
