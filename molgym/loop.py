"""The one update loop of every agent that learns in updates, and the callbacks that watch it.

:func:`train_loop` repeats ``agent.update(oracle)`` until the run ends, for one of four reasons
(``loop["stopped"]``): the step limit is reached, the oracle's budget is spent (or its time limit
passed), the agent's own rule ends it (``agent.finished``), or it stalls (:class:`Patience`).
Everything else around the loop (logs, checkpoints, a progress bar, Ctrl-C, the best policy so
far) is a :class:`Callback`, the caller's or the agent's own (``agent.callbacks()``), as in Stable-Baselines3's ``learn()``:
:func:`molgym.training.run_training` (``molgym train``) is this loop with its callbacks, a run of
``molgym compare`` the loop with its log and checkpoints, and ``Agent.train`` the loop with the
caller's callbacks.

The loop's counters (``loop``: updates, steps, wall time, best score, idle updates, the last
update's new paid calls and their share of the molecules it asked for, why it stopped) are a
plain dict, so that a checkpoint writes them as JSON and a resumed run passes them back in.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from molgym.oracle import BudgetExhausted, Oracle, budget_spent

if TYPE_CHECKING:
    from molgym.agent import UpdatingAgent

__all__ = ["Patience", "Callback", "BestPolicy", "train_loop"]


@dataclass
class Patience:
    """The stall rule (as PMO's ``mol_opt`` ends stalled runs): ``limit`` rounds in a row in which
    under ``min_new`` of the molecules scored were new end training. A round that pays for nothing
    is idle, and so is a trickle (a policy collapsed onto molecules already scored that still finds
    one new molecule in 50 would otherwise run for hours). ``idle`` counts them; :meth:`stalled`
    takes each round's new (paid) calls and requests."""

    limit: int
    unit: str = "updates"
    idle: int = 0
    min_new: float = 0.05

    def stalled(self, new: int, requested: int) -> bool:
        self.idle = 0 if new > 0 and new >= self.min_new * requested else self.idle + 1
        return self.idle >= self.limit

    @property
    def reason(self) -> str:
        return f"stalled: under {self.min_new:.0%} of the molecules scored were new in {self.idle} {self.unit} in a row"


class Callback:
    """Hooks of :func:`train_loop`; each does nothing unless overridden. ``loop`` is the loop's
    counters (see the module's docstring), already updated when :meth:`on_update` is called."""

    def on_start(self, agent: UpdatingAgent, oracle: Oracle, loop: dict[str, Any]) -> None:
        """Before the first update (of this call: a resumed run starts again here)."""

    def on_update(self, agent: UpdatingAgent, oracle: Oracle, loop: dict[str, Any], stats: dict[str, float]) -> bool:
        """After each update, with its statistics; return ``True`` to stop the loop now (an
        interruption: ``loop["interrupted"]`` is then set, unless the run ended anyway)."""
        return False

    def on_end(self, agent: UpdatingAgent, oracle: Oracle, loop: dict[str, Any]) -> None:
        """After the loop ended normally (``loop["stopped"]`` or ``loop["interrupted"]`` says why)."""

    def close(self) -> None:
        """Always last, also when the loop raised (release files, bars, signal handlers)."""


class BestPolicy(Callback):
    """The agent's weights (``agent.policy``, a torch module) at the end of its best ``window``
    updates in a row, by the mean training reward (``stats["reward"]``) of those updates (as the run
    goes: no oracle call is spent on choosing), so that a run whose policy degrades late can be
    evaluated at its best as well. An agent that keeps one returns it from
    :meth:`~molgym.agent.UpdatingAgent.callbacks` and saves its :meth:`state_dict` with its own state,
    so that it resumes with the run."""

    WINDOW = 10

    def __init__(self, window: int = WINDOW):
        self.window = window
        self.rewards: list[float] = []
        self.reward, self.update, self.state = float("-inf"), 0, None

    def on_update(self, agent, oracle, loop, stats) -> bool:
        self.rewards.append(stats["reward"])
        recent = [r for r in self.rewards[-self.window :] if np.isfinite(r)]
        if len(self.rewards) >= self.window and recent and np.mean(recent) > self.reward:
            self.reward, self.update = float(np.mean(recent)), len(self.rewards)
            self.state = {k: v.detach().clone() for k, v in agent.policy.state_dict().items()}
        return False

    def state_dict(self) -> dict:
        return {"rewards": self.rewards, "reward": self.reward, "update": self.update, "state": self.state}

    def load_state_dict(self, state: dict) -> None:
        self.rewards, self.reward, self.update, self.state = (
            list(state["rewards"]),
            state["reward"],
            state["update"],
            state["state"],
        )


def train_loop(
    agent: UpdatingAgent,
    oracle: Oracle,
    callbacks: Sequence[Callback] = (),
    steps: int | None = None,
    loop: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Update ``agent`` until ``steps`` env steps are done (``None``: no step limit), the oracle's
    budget is spent, the agent's own rule ends it or it stalls (``agent.patience`` updates in a row
    with (almost) no new paid call: :class:`Patience`). ``loop``: the counters of a run being
    resumed (the oracle and the agent then hold its state). Returns the final counters;
    ``agent.stop_reason`` is set to ``loop["stopped"]``."""
    loop = dict(loop or {"wall_time": 0.0, "best": None})
    callbacks = [*agent.callbacks(), *callbacks]  # the agent's own first (e.g. its BestPolicy)
    if loop.get("stopped") and not loop.get("steps_limit"):  # an ended run resumed (not one a step limit ended)
        agent.stop_reason = loop["stopped"]
        return loop
    patience = Patience(agent.patience, unit=agent.update_unit, idle=loop.get("idle", 0))
    loop.update(interrupted=False, stopped=None, steps_limit=None)
    began = time.perf_counter() - loop["wall_time"]
    try:
        for callback in callbacks:
            callback.on_start(agent, oracle, loop)
        while loop["stopped"] is None:
            if steps is not None and agent.steps >= steps:
                loop.update(stopped=f"{steps} env steps done", steps_limit=steps)  # a larger step limit goes on
                break
            calls_before, requests_before = oracle.calls, oracle.requests
            try:
                stats = agent.update(oracle)
            except BudgetExhausted:
                loop["stopped"] = budget_spent(oracle)
                break
            agent.updates += 1
            new_calls, requested = oracle.calls - calls_before, oracle.requests - requests_before
            if agent.finished:
                loop["stopped"] = agent.finished
            elif patience.stalled(new_calls, requested):
                loop["stopped"] = patience.reason
            new = [score for _, _, score in oracle.log[calls_before:]]  # only this update's paid calls
            best = max([*new, *([] if loop["best"] is None else [loop["best"]])], default=None)
            loop.update(
                updates=agent.updates,
                steps=agent.steps,
                wall_time=time.perf_counter() - began,
                best=best,
                idle=patience.idle,
                new_calls=new_calls,  # this update's paid calls, and their share of the molecules it asked for
                new_share=new_calls / requested if requested else None,
            )
            # every callback sees every update, also when one of them asks to stop
            if any([callback.on_update(agent, oracle, loop, stats) for callback in callbacks]):
                loop["interrupted"] = loop["stopped"] is None
                break
        agent.stop_reason = loop["stopped"]
        for callback in callbacks:
            callback.on_end(agent, oracle, loop)
    finally:
        for callback in callbacks:
            callback.close()
    return loop
