"""The step-wise validity term of GCPN."""

from __future__ import annotations

import numpy as np

from molgym.rewards.base import Context, Term

__all__ = ["StepValidity"]


class StepValidity(Term):
    """Paid every step: ``valid`` for an accepted edit, ``invalid`` for a rejected one.

    Both default to GCPN's ``+1/N`` and ``-1/N`` with ``N = max_atoms``.
    """

    name = "step_validity"
    final = False
    cached = False

    def __init__(self, valid: float | None = None, invalid: float | None = None):
        self.valid, self.invalid = valid, invalid

    def value(self, ctx: Context) -> float:
        good, bad = self._amounts(ctx.max_atoms)
        return good if ctx.valid else bad

    def batch(self, valid: np.ndarray, contexts, max_atoms: int) -> np.ndarray:
        return np.where(valid, *self._amounts(max_atoms)).astype(np.float64)

    def _amounts(self, max_atoms: int) -> tuple[float, float]:
        """What an accepted and a rejected edit pay with ``max_atoms`` atoms."""
        good = self.valid if self.valid is not None else 1.0 / max_atoms
        bad = self.invalid if self.invalid is not None else -1.0 / max_atoms
        return good, bad

    def __repr__(self) -> str:
        return f"StepValidity(valid={self.valid}, invalid={self.invalid})"
