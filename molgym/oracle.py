"""Oracle accounting (PMO protocol): every agent gets the same budget of scoring calls."""

from __future__ import annotations

import time
from pathlib import Path

from rdkit import Chem, rdBase

from molgym.rewards.base import Context, Interrupt, Term
from molgym.storage import write_csv

__all__ = ["BudgetExhausted", "Oracle", "OracleTerm", "budget_spent"]


class BudgetExhausted(Interrupt):
    """The oracle's budget of calls is spent: the agent must stop."""


class Oracle:
    """The task's objective, counted and logged.

    * A call on a molecule not scored before (by canonical SMILES, and start molecule for tasks
      that depend on it) costs one unit of the budget; a repeat is free and returns the same score.
    * An invalid molecule (an unparsable SMILES) is free and scores 0.
    * Once ``budget`` calls are spent, a call on a new molecule raises :class:`BudgetExhausted`.
    * With ``time_limit`` (seconds from the oracle's creation), any call after it raises
      :class:`BudgetExhausted` too (an optional wall-time limit, as in PMO), and the run's stop
      reason (:func:`budget_spent`) says so.
    * ``log`` holds every paid call in order: ``(call index, SMILES, score)``; ``requests`` counts
      every valid molecule asked for, paid or repeated (the stall rule's share of new molecules).

    Args:
        objective: a :class:`~molgym.rewards.Term` (its own cache is bypassed: the oracle caches).
        budget: the number of paid calls allowed.
        on_call: optional ``f(call index, SMILES, score)`` after each paid call (progress bars).
        time_limit: optional wall-time limit in seconds.
    """

    def __init__(self, objective: Term, budget: int, on_call=None, time_limit: float | None = None):
        if budget < 1:
            raise ValueError(f"the oracle budget must be at least 1, got {budget}")
        if time_limit is not None and time_limit <= 0:
            raise ValueError(f"the time limit must be positive, got {time_limit}")
        self.time_limit = time_limit
        self._deadline = time.monotonic() + time_limit if time_limit is not None else None
        self.timed_out = False
        self.objective, self.budget = objective, int(budget)
        self.on_call = on_call  # called with (call index, SMILES, score) after each paid call
        self.log: list[tuple[int, str, float]] = []
        self.requests = 0
        self._scores: dict = {}

    @property
    def calls(self) -> int:
        return len(self.log)

    @property
    def exhausted(self) -> bool:
        return self.calls >= self.budget

    def score(self, ctx: Context) -> float:
        """The objective of a molecule given as a :class:`Context` (as env reward terms see it)."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.timed_out = True
            raise BudgetExhausted(budget_spent(self))
        self.requests += 1
        key = self.objective.cache_key(ctx)
        if key in self._scores:
            return self._scores[key]
        if self.exhausted:
            raise BudgetExhausted(f"oracle budget of {self.budget} calls spent")
        value = self.objective.checked_value(ctx)
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
        """``oracle_log.csv``: one row per paid call, in order (written whole)."""
        write_csv(path, ["call", "smiles", "score"], self.log)


def budget_spent(oracle: Oracle) -> str:
    """The stop reason of a run that spent its budget (or passed its wall-time limit)."""
    if oracle.timed_out:
        return f"wall-time limit of {oracle.time_limit:g} s passed after {oracle.calls} oracle calls"
    return f"budget spent ({oracle.budget} oracle calls)"


class OracleTerm(Term):
    """The oracle as an env's final reward term (the env pays for exactly what it scores).

    ``repeat_penalty`` is subtracted from the score of a molecule the oracle had already scored:
    under a budget only new molecules count, so an agent rewarded for repeats collapses onto them.
    """

    cached = False  # the oracle caches, and counts

    def __init__(self, oracle: Oracle, name: str = "oracle", repeat_penalty: float = 0.0):
        self.oracle, self.name, self.repeat_penalty = oracle, name, float(repeat_penalty)

    def value(self, ctx: Context) -> float:
        calls = self.oracle.calls
        score = self.oracle.score(ctx)
        return score if self.oracle.calls > calls else score - self.repeat_penalty

    def __repr__(self) -> str:
        penalty = f", repeat_penalty={self.repeat_penalty}" if self.repeat_penalty else ""
        return f"OracleTerm({self.oracle.objective!r}, budget={self.oracle.budget}{penalty})"
