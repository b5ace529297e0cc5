"""The adversarial term: a scorer (e.g. a discriminator) says how real a molecule looks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from molgym.rewards.base import Context, Term

__all__ = ["Adversarial", "graph_batch"]

#: A batch of graphs, the same arrays as the env's observation with a leading batch axis:
#: ``atom_types (B, N)``, ``bonds (B, N, N)``, ``num_atoms (B,)``.
GraphBatch = dict[str, np.ndarray]


def graph_batch(ctxs: list[Context]) -> GraphBatch:
    """Stack the graphs of several contexts into a :data:`GraphBatch`."""
    return {
        "atom_types": np.stack([c.graph.atom_types for c in ctxs]),
        "bonds": np.stack([c.graph.bonds for c in ctxs]),
        "num_atoms": np.array([c.graph.num_atoms for c in ctxs], dtype=np.int64),
    }


class Adversarial(Term):
    """Probability, according to ``scorer``, that the molecule is a real one.

    Args:
        scorer: ``scorer(batch: GraphBatch) -> array (B,)`` of probabilities in [0, 1], e.g. a
            discriminator trained online against generated molecules (the GCPN agent provides one).
        final: ``True`` for the final-reward variant, ``False`` to score every step (GCPN uses both).

    Not cached: the scorer changes as it is trained.
    """

    cached = False

    def __init__(self, scorer: Callable[[GraphBatch], np.ndarray], final: bool = True):
        if not callable(scorer):
            raise TypeError(f"the adversarial scorer must be callable, got {scorer!r}")
        self.scorer = scorer
        self.final = bool(final)
        self.name = "adversarial" if final else "adversarial_step"

    def value(self, ctx: Context) -> float:
        out = np.asarray(self.scorer(graph_batch([ctx])), dtype=np.float64).reshape(-1)
        if out.shape != (1,):
            raise ValueError(f"scorer returned {out.size} values for a batch of 1 graph")
        return float(out[0])

    def batch(self, valid: np.ndarray, contexts, max_atoms: int) -> np.ndarray:
        """One scorer call for the whole batch."""
        ctxs = contexts()
        out = np.asarray(self.scorer(graph_batch(ctxs)), dtype=np.float64).reshape(-1)
        if out.shape != (len(ctxs),):
            raise ValueError(f"scorer returned {out.size} values for a batch of {len(ctxs)} graphs")
        bad = ~np.isfinite(out)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self._validated(out[i], ctxs[i])
        return out

    def __repr__(self) -> str:
        return f"Adversarial({self.scorer!r}, final={self.final})"
