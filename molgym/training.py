"""``molgym train`` for agents that learn in updates: the one update loop (:mod:`molgym.loop`) with
logs, a progress bar, periodic checkpoints, Ctrl-C and an exact resume as its callbacks.

A run directory holds ``task.json`` (what is trained), ``log.csv`` (one row per update; also
TensorBoard event files under ``tb/`` when ``tensorboard`` is installed), ``checkpoint/`` (the
agent after the last checkpointed update, with the oracle's paid calls and the loop's counters)
and, once finished, the agent itself (``agent.json`` and its state) with ``oracle_log.csv``.
:func:`load_checkpoint` reads
``checkpoint/`` back and :func:`run_training` continues from it: the same step counter, weights, optimizer, generators and env state,
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from molgym.agent import UpdatingAgent, read_checkpoint
from molgym.loop import Callback, train_loop
from molgym.oracle import Oracle
from molgym.storage import read_json, write_csv, write_json

__all__ = [
    "run_training",
    "UpdateLog",
    "new_share_summary",
    "Checkpoints",
    "load_checkpoint",
    "latest_checkpoint",
    "save_checkpoint",
]

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


def load_checkpoint(out: str | Path, agent_cls: type[UpdatingAgent], task, device: str = "cpu"):
    """The agent, the oracle state and the loop counters saved in the newest checkpoint of ``out``
    (:func:`latest_checkpoint`).
    A missing or damaged file is a ``ValueError`` naming it."""
    directory = latest_checkpoint(out)
    if directory is None:
        raise ValueError(
            f"nothing to resume: {Path(out) / CHECKPOINT} holds no checkpoint (one is written every "
            "--checkpoint-every updates, at the end of a run and on Ctrl-C)"
        )
    agent = agent_cls.load(directory, task, device=device)
    loop = read_json(directory / "loop.json", "training loop file")
    if not isinstance(loop, dict) or "updates" not in loop:
        raise ValueError(f"training loop file {directory / 'loop.json'} is damaged: it holds no update count")
    oracle_state = read_checkpoint(directory / "oracle.pt", "oracle")
    return agent, oracle_state, loop


def run_training(
    agent: UpdatingAgent,
    oracle: Oracle,
    out: str | Path,
    steps: int | None = None,
    checkpoint_every: int = 10,
    loop: dict[str, Any] | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """:func:`~molgym.loop.train_loop` with ``molgym train``'s callbacks: ``log.csv`` (and TensorBoard),
    a progress bar, a checkpoint every ``checkpoint_every`` updates and at the end, and Ctrl-C.

    ``steps``, ``loop`` and the return value are the loop's: ``loop`` holds the counters of a
    checkpoint being resumed (:func:`load_checkpoint`; the oracle must then hold that checkpoint's
    state), and the final counters have ``stopped`` (why the run ended) and ``interrupted`` (Ctrl-C
    stopped it first, after a checkpoint). ``callbacks`` are the caller's own (called after the log,
    before the checkpoint).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if loop is not None and loop.get("stopped") and not loop.get("steps_limit"):
        return train_loop(agent, oracle, loop=loop)  # an ended run: nothing to do, nothing to open
    watching = [
        UpdateLog(out / "log.csv", resumed=loop is not None and bool(loop.get("updates")), tb_dir=out / "tb"),
        _Progress(steps, progress),
        *callbacks,
        Checkpoints(out, checkpoint_every),
        _CtrlC(),
    ]
    return train_loop(agent, oracle, watching, steps=steps, loop=loop)


class _Progress(Callback):
    """A bar of env steps (with a step limit) or oracle calls, with the last reward and the best score."""

    def __init__(self, steps: int | None, show: bool):
        self.steps, self.show, self.bar = steps, show, None

    def _done(self) -> int:
        return self.agent.steps if self.steps is not None else self.oracle.calls

    def on_start(self, agent, oracle, loop) -> None:
        self.agent, self.oracle = agent, oracle
        total = self.steps if self.steps is not None else oracle.budget
        self.bar = tqdm(
            total=total,
            initial=min(total, self._done()),
            unit="step" if self.steps is not None else "call",
            desc=f"{agent.name} on {agent.task.name}",
            disable=not self.show,
        )

    def on_update(self, agent, oracle, loop, stats) -> bool:
        self.bar.update(self._done() - self.bar.n)
        self.bar.set_postfix(
            {k: f"{v:.3f}" for k, v in (("reward", stats.get("reward")), ("best", loop["best"])) if v is not None},
            refresh=False,
        )
        return False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self._done() - self.bar.n)  # also when an update ran out of budget
            self.bar.close()


class Checkpoints(Callback):
    """A checkpoint every ``every`` updates and when the loop ends (not when it raised)."""

    def __init__(self, out: Path, every: int):
        self.out, self.every = out, every

    def on_update(self, agent, oracle, loop, stats) -> bool:
        if agent.updates % self.every == 0:
            save_checkpoint(agent, oracle, self.out, loop)
        return False

    def on_end(self, agent, oracle, loop) -> None:
        save_checkpoint(agent, oracle, self.out, loop)


class _CtrlC(Callback):
    """The first Ctrl-C asks the loop to stop after the update in progress; a second one raises
    ``KeyboardInterrupt`` at once. Only the main thread can own SIGINT; elsewhere nothing changes."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def on_start(self, agent, oracle, loop) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nCtrl-C: stopping after this update and writing a checkpoint (Ctrl-C again to stop at once)",
            file=sys.stderr,
        )

    def on_update(self, agent, oracle, loop, stats) -> bool:
        return self.requested

    def close(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def save_checkpoint(agent: UpdatingAgent, oracle: Oracle, out: Path, loop: dict[str, Any]) -> None:
    """Write ``out/checkpoint`` whole or not at all (a new one replaces the old only once complete)."""
    import torch

    tmp = out / f"{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    agent.save(tmp)
    torch.save(oracle.state_dict(), tmp / "oracle.pt")
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


def new_share_summary(path: Path) -> dict[str, float]:
    """``new_share_mean`` and ``new_share_min``: the mean and the lowest share of new molecules
    per update in the ``log.csv`` at ``path`` (:class:`UpdateLog`); empty without such rows. A
    collapsing agent shows it as a minimum near 0."""
    shares = [float(r["new_share"]) for r in _read_rows(path) if r.get("new_share")]
    return {"new_share_mean": sum(shares) / len(shares), "new_share_min": min(shares)} if shares else {}


class UpdateLog(Callback):
    """``path`` (``log.csv``): one row per update, the loop's counters (update, env steps, oracle
    calls, wall time, best score, the update's new paid calls and ``new_share``, their share of the
    molecules it asked for) and the agent's statistics of that update, flushed as it goes; also TensorBoard under ``tb_dir`` when given and
    installed. A ``resumed`` run keeps the rows up to the update its checkpoint holds (read in
    :meth:`on_start`: the ones after it are redone) and appends; otherwise the file starts anew."""

    def __init__(self, path: Path, resumed: bool = False, tb_dir: Path | None = None):
        self.path, self.resumed, self.tb_dir = path, resumed, tb_dir
        self.columns, self.file, self._writer, self.tb = None, None, None, None

    def on_start(self, agent, oracle, loop) -> None:
        rows = [r for r in _read_rows(self.path) if int(r["update"]) <= agent.updates] if self.resumed else []
        self.columns = list(rows[0]) if rows else None
        if self.columns:
            write_csv(self.path, self.columns, ([row.get(c, "") for c in self.columns] for row in rows))
        self.file = open(self.path, "a" if self.columns else "w", newline="")
        self._writer = self._rows_of(self.columns) if self.columns else None
        if self.tb_dir is not None and importlib.util.find_spec("tensorboard") is not None:  # optional
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.tb_dir))

    def _rows_of(self, columns: list[str]) -> csv.DictWriter:
        return csv.DictWriter(self.file, columns, extrasaction="ignore", lineterminator="\n")

    def on_update(self, agent, oracle, loop, stats) -> bool:
        row = {
            "update": agent.updates,
            "steps": agent.steps,
            "oracle_calls": oracle.calls,
            "wall_time": round(loop["wall_time"], 3),
            "best": loop["best"],
            "new_calls": loop.get("new_calls"),
            "new_share": loop.get("new_share"),
            **stats,
        }
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
        return False

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()
