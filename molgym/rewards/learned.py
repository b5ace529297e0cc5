"""Terms scored by a model over graph batches: a learned surrogate of an expensive oracle (e.g.
MolGAN's reward network) and, in ``adversarial``, a discriminator."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from molgym.rewards.base import Context, Term

__all__ = ["GraphBatch", "ModelTerm", "Surrogate", "graph_batch"]

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


class ModelTerm(Term):
    """A term whose values come from ``scorer(batch: GraphBatch) -> array (B,)``, one call per batch.

    Not cached: a model may change as it is trained.
    """

    cached = False

    def __init__(self, scorer: Callable[[GraphBatch], np.ndarray], name: str, final: bool = True):
        if not callable(scorer):
            raise TypeError(f"the scorer of {name} must be callable, got {scorer!r}")
        self.scorer, self.name, self.final = scorer, name, bool(final)

    def value(self, ctx: Context) -> float:
        return float(self._scores([ctx])[0])

    def batch(self, valid: np.ndarray, contexts, max_atoms: int) -> np.ndarray:
        """One scorer call for the whole batch."""
        ctxs = contexts()
        out = self._scores(ctxs)
        bad = ~np.isfinite(out)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self._validated(out[i], ctxs[i])
        return out

    def _scores(self, ctxs: list[Context]) -> np.ndarray:
        out = np.asarray(self.scorer(graph_batch(ctxs)), dtype=np.float64).reshape(-1)
        if out.shape != (len(ctxs),):
            raise ValueError(f"{self.name}: scorer returned {out.size} values for a batch of {len(ctxs)} graphs")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.scorer!r}, final={self.final})"


class Surrogate(ModelTerm):
    """A learned, cheap stand-in for an expensive score (e.g. ``MolGANAgent.reward_term()``):
    usable as a final (or, with ``final=False``, step) reward in any env or agent."""

    def __init__(self, scorer: Callable[[GraphBatch], np.ndarray], name: str = "surrogate", final: bool = True):
        super().__init__(scorer, name, final)
