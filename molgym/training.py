"""``molgym train``'s loop for agents that learn in updates: step limit, logs, progress bar,
periodic checkpoints and an exact resume.

A run directory holds ``task.json`` (what is trained), ``log.csv`` (one row per update; also
TensorBoard event files under ``tb/`` when ``tensorboard`` is installed), ``checkpoint/`` (the
agent after the last checkpointed update, with the oracle's paid calls and the loop's counters)
and, once finished, the agent itself (``agent.json`` and its state) with ``oracle_log.csv``.
A caller's own state that must resume with the run (``extra``: anything with ``state_dict()`` and
``load_state_dict()``) is written into each checkpoint as ``extra.pt``. ``resume=True`` reloads
``checkpoint/`` and continues: the same step counter, weights, optimizer, generators and env state,
so the resumed run equals an uninterrupted one, update for update.

Ctrl-C (SIGINT) during :func:`run_training` lets the update in progress finish, writes a
checkpoint and returns with ``loop["interrupted"]`` set; a second Ctrl-C stops at once (the last
checkpoint stays).
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from molgym.agent import Patience, UpdatingAgent, read_checkpoint
from molgym.oracle import BudgetExhausted, Oracle, budget_spent
from molgym.storage import read_json, write_csv, write_json

__all__ = ["run_training", "load_checkpoint", "latest_checkpoint", "save_checkpoint"]

CHECKPOINT = "checkpoint"


def latest_checkpoint(out: str | Path) -> Path | None:
    """The newest complete checkpoint of the run in ``out``, ``None`` if it has none yet. A checkpoint
    is complete once its ``loop.json`` is written (the last of its files); a kill between the
    renames of :func:`save_checkpoint` leaves it under a temporary name, where it is found too."""
    out = Path(out)
    for name in (CHECKPOINT, f"{CHECKPOINT}.tmp", f"{CHECKPOINT}.old"):
        if (out / name / "loop.json").is_file():
            return out / name
    return None


def load_checkpoint(out: str | Path, agent_cls: type[UpdatingAgent], task, device: str = "cpu", extra=None):
    """The agent, the oracle state and the loop counters saved in the newest checkpoint of ``out``
    (:func:`latest_checkpoint`); ``extra`` (see :func:`run_training`) gets its saved state back.
    A missing or damaged file is a ``ValueError`` naming it."""
    directory = latest_checkpoint(out)
    if directory is None:
        raise ValueError(f"nothing to resume: {Path(out) / CHECKPOINT} holds no checkpoint (one is written every "
                         "--checkpoint-every updates, at the end of a run and on Ctrl-C)")
    agent = agent_cls.load(directory, task, device=device)
    loop = read_json(directory / "loop.json", "training loop file")
    if not isinstance(loop, dict) or "updates" not in loop:
        raise ValueError(f"training loop file {directory / 'loop.json'} is damaged: it holds no update count")
    oracle_state = read_checkpoint(directory / "oracle.pt", "oracle")
    if extra is not None:
        extra.load_state_dict(read_checkpoint(directory / "extra.pt", "extra state"))
    return agent, oracle_state, loop


def run_training(agent: UpdatingAgent, oracle: Oracle, out: str | Path, steps: int | None = None,
                 checkpoint_every: int = 10, loop: dict[str, Any] | None = None, progress: bool = True,
                 on_update=None, extra=None) -> dict[str, Any]:
    """Update ``agent`` until ``steps`` env steps are done or the oracle's budget is spent,
    logging every update and checkpointing every ``checkpoint_every`` updates (and at the end).

    ``loop`` is the counters of a checkpoint being resumed (:func:`load_checkpoint`); the
    oracle must then hold that checkpoint's state. ``on_update`` gets each update's statistics;
    ``extra`` (``state_dict()`` / ``load_state_dict()``) is checkpointed with the agent. Returns
    the final counters, with ``stopped`` the reason the run ended (``steps`` done, the budget
    spent, the agent's own rule (``agent.finished``), or ``agent.patience`` updates in a row with
    (almost) no new paid call: the stall rule, :class:`~molgym.agent.Patience`) and
    ``interrupted`` true when Ctrl-C stopped it first (after a checkpoint).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    loop = dict(loop or {"wall_time": 0.0, "best": None})
    if loop.get("stopped") and not loop.get("steps_limit"):  # an ended run resumed (not one a step limit ended)
        agent.stop_reason = loop["stopped"]
        return loop
    log_path = out / "log.csv"
    rows = _read_rows(log_path) if loop.get("updates") else []
    rows = [r for r in rows if int(r["update"]) <= agent.updates]  # updates after the checkpoint are redone
    writer = _Writer(log_path, rows, out / "tb")
    total = steps if steps is not None else oracle.budget
    unit = "step" if steps is not None else "call"
    bar = tqdm(total=total, initial=min(total, agent.steps if steps is not None else oracle.calls), unit=unit,
               desc=f"{agent.name} on {agent.task.name}", disable=not progress)
    began = time.perf_counter() - loop["wall_time"]
    patience = Patience(agent.patience, idle=loop.get("idle", 0))
    loop.update(interrupted=False, stopped=None, steps_limit=None)
    stop = _StopRequest()
    try:
        while loop["stopped"] is None and not stop.requested:
            if steps is not None and agent.steps >= steps:
                loop.update(stopped=f"{steps} env steps done", steps_limit=steps)  # a larger --steps goes on
                break
            before = agent.steps if steps is not None else oracle.calls
            calls_before, requests_before = oracle.calls, oracle.requests
            try:
                stats = agent.update(oracle)
            except BudgetExhausted:
                loop["stopped"] = budget_spent(oracle)
                break
            agent.updates += 1
            if on_update is not None:
                on_update(stats)
            if agent.finished:
                loop["stopped"] = agent.finished
            elif patience.stalled(oracle.calls - calls_before, oracle.requests - requests_before):
                loop["stopped"] = patience.reason
            new = [score for _, _, score in oracle.log[calls_before:]]  # only this update's paid calls
            best = max([*new, *([] if loop["best"] is None else [loop["best"]])], default=None)
            loop.update(updates=agent.updates, steps=agent.steps, wall_time=time.perf_counter() - began, best=best,
                        idle=patience.idle)
            row = {"update": agent.updates, "steps": agent.steps, "oracle_calls": oracle.calls,
                   "wall_time": round(loop["wall_time"], 3), "best": loop["best"], **stats}
            writer.write(row)
            bar.update((agent.steps if steps is not None else oracle.calls) - before)
            bar.set_postfix({k: f"{v:.3f}" for k, v in (("reward", stats.get("reward")), ("best", loop["best"]))
                             if v is not None}, refresh=False)
            if agent.updates % checkpoint_every == 0:
                save_checkpoint(agent, oracle, out, loop, extra)
    finally:
        stop.release()
        bar.update((agent.steps if steps is not None else oracle.calls) - bar.n)  # also when an update ran out
        bar.close()
        writer.close()
    loop["interrupted"] = stop.requested and loop["stopped"] is None
    agent.stop_reason = loop["stopped"]
    save_checkpoint(agent, oracle, out, loop, extra)
    return loop


class _StopRequest:
    """The first Ctrl-C asks the loop to stop after the update in progress; a second one raises
    ``KeyboardInterrupt`` at once. Only the main thread can own SIGINT; elsewhere nothing changes."""

    def __init__(self):
        self.requested = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: stopping after this update and writing a checkpoint (Ctrl-C again to stop at once)",
              file=sys.stderr)

    def release(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def save_checkpoint(agent: UpdatingAgent, oracle: Oracle, out: Path, loop: dict[str, Any], extra=None) -> None:
    """Write ``out/checkpoint`` whole or not at all (a new one replaces the old only once complete)."""
    import torch

    tmp = out / f"{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    agent.save(tmp)
    torch.save(oracle.state_dict(), tmp / "oracle.pt")
    if extra is not None:
        torch.save(extra.state_dict(), tmp / "extra.pt")
    write_json(tmp / "loop.json", loop)  # last: a checkpoint with loop.json is complete
    final = out / CHECKPOINT
    old = out / f"{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of ``log.csv`` (a row cut short by a kill has no line end and is dropped)."""
    if not path.is_file():
        return []
    lines = path.read_text().splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    return list(csv.DictReader(lines))


class _Writer:
    """``log.csv`` (rewritten whole with the kept rows, then appended) and TensorBoard when installed."""

    def __init__(self, path: Path, rows: list[dict[str, str]], tb_dir: Path):
        self.path, self.columns = path, list(rows[0]) if rows else None
        if self.columns:
            write_csv(path, self.columns, ([row.get(c, "") for c in self.columns] for row in rows))
        self.file = open(path, "a" if self.columns else "w", newline="")
        self._writer = self._rows_of(self.columns) if self.columns else None
        self.tb = None
        if importlib.util.find_spec("tensorboard") is not None:  # optional; probing it would import torch
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(tb_dir))

    def _rows_of(self, columns: list[str]) -> csv.DictWriter:
        return csv.DictWriter(self.file, columns, extrasaction="ignore", lineterminator="\n")

    def write(self, row: dict[str, Any]) -> None:
        if self.columns is None:
            self.columns = list(row)
            self._writer = self._rows_of(self.columns)
            self._writer.writeheader()
        self._writer.writerow(row)
        self.file.flush()
        if self.tb is not None:
            for key, value in row.items():
                if key not in ("update", "steps") and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, row["steps"])

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()
