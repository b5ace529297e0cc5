"""Oracle accounting (PMO protocol): every agent gets the same budget of scoring calls."""

from __future__ import annotations

import csv
from pathlib import Path

from rdkit import Chem, rdBase

from molgym.rewards.base import Context, Interrupt, Term

__all__ = ["BudgetExhausted", "Oracle", "OracleTerm", "budget_spent"]


class BudgetExhausted(Interrupt):
    """The oracle's budget of calls is spent: the agent must stop."""


class Oracle:
    """The task's objective, counted and logged.

    * A call on a molecule not scored before (by canonical SMILES, and start molecule for tasks
      that depend on it) costs one unit of the budget; a repeat is free and returns the same score.
    * An invalid molecule (an unparsable SMILES) is free and scores 0.
    * Once ``budget`` calls are spent, a call on a new molecule raises :class:`BudgetExhausted`.
    * ``log`` holds every paid call in order: ``(call index, SMILES, score)``.

    Args:
        objective: a :class:`~molgym.rewards.Term` (its own cache is bypassed: the oracle caches).
        budget: the number of paid calls allowed.
        on_call: optional ``f(call index, SMILES, score)`` after each paid call (progress bars).
    """

    def __init__(self, objective: Term, budget: int, on_call=None):
        if budget < 1:
            raise ValueError(f"the oracle budget must be at least 1, got {budget}")
        self.objective, self.budget = objective, int(budget)
        self.on_call = on_call  # called with (call index, SMILES, score) after each paid call
        self.log: list[tuple[int, str, float]] = []
        self._scores: dict = {}

    @property
    def calls(self) -> int:
        return len(self.log)

    @property
    def exhausted(self) -> bool:
        return self.calls >= self.budget

    def score(self, ctx: Context) -> float:
        """The objective of a molecule given as a :class:`Context` (as env reward terms see it)."""
        key = self.objective.cache_key(ctx)
        if key in self._scores:
            return self._scores[key]
        if self.exhausted:
            raise BudgetExhausted(f"oracle budget of {self.budget} calls spent")
        value = self.objective._checked(ctx)
        self._scores[key] = value
        self.log.append((self.calls + 1, ctx.smiles, value))
        if self.on_call is not None:
            self.on_call(*self.log[-1])
        return value

    def __call__(self, smiles: str) -> float:
        """The objective of a SMILES; 0 and free if it is not a valid molecule."""
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) else None
        if mol is None:
            return 0.0
        return self.score(Context.of_mol(mol))

    def state_dict(self) -> dict:
        """The calls paid so far and their scores (a checkpoint; :meth:`load_state_dict` restores it)."""
        return {"budget": self.budget, "log": list(self.log), "scores": dict(self._scores)}

    def load_state_dict(self, state: dict) -> None:
        self.log, self._scores = list(state["log"]), dict(state["scores"])

    def write_log(self, path: str | Path) -> None:
        """``oracle_log.csv``: one row per paid call, in order."""
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["call", "smiles", "score"])
            writer.writerows(self.log)


def budget_spent(oracle: Oracle) -> str:
    """The stop reason of a run that spent its budget."""
    return f"budget spent ({oracle.budget} oracle calls)"


class OracleTerm(Term):
    """The oracle as an env's final reward term (the env pays for exactly what it scores)."""

    cached = False  # the oracle caches, and counts

    def __init__(self, oracle: Oracle, name: str = "oracle"):
        self.oracle, self.name = oracle, name

    def value(self, ctx: Context) -> float:
        return self.oracle.score(ctx)

    def __repr__(self) -> str:
        return f"OracleTerm({self.oracle.objective!r}, budget={self.oracle.budget})"
