"""What a comparison is and how one of its runs is made.

A :class:`Comparison` holds everything that decides a comparison's results (task, agents, budget,
seeds, agent settings, ...); :meth:`Comparison.runs` plans it as one :class:`RunSpec` per (agent,
seed), each in ``OUT/<agent>/seed<k>/``:

- ``run.json``: everything that decides this run's result (:meth:`RunSpec.identity`);
- ``oracle_log.csv``: every paid call;
- ``log.csv``: for an agent that learns in updates, one row per update, written as it goes: the
  loop's counters and the agent's statistics (:class:`molgym.training.UpdateLog`);
- ``proposed.csv``: the molecules the trained agent proposed, unscored (validity, uniqueness and
  novelty come from them);
- ``agent/``: the trained agent, when the comparison keeps its agents;
- ``training/``: while the run is unfinished, the last checkpoint of an agent that learns in
  updates, from which the next command goes on;
- ``result.json``: metrics, wall time, device, or the error; written last.

A run whose ``result.json`` says it finished is not made again, so a repeated command resumes; a
directory holding a run of other settings stops the command before any work (:func:`check_runs`),
so a report never mixes settings.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from molgym.storage import read_json, write_atomic, write_csv, write_json

#: Updates between the checkpoints of a run (of an agent that learns in updates), in its ``training/``.
CHECKPOINT_EVERY = 10
TRAINING = "training"

__all__ = ["Comparison", "RunSpec", "SettingsMismatch", "check_runs", "run_one", "read_result", "lost"]


class SettingsMismatch(ValueError):
    """An output directory holds runs made with other settings."""


@dataclass(frozen=True)
class Comparison:
    """What defines a comparison: every agent in ``agents`` with seeds ``0 .. seeds - 1`` on
    ``task`` (with ``task_params``, e.g. start molecules), ``budget`` oracle calls a run.

    Attributes:
        device: where the agents compute (``cpu``, ``cuda``, ...).
        propose: molecules each trained agent proposes afterwards, unscored (validity, uniqueness,
            novelty); 0 for none.
        training_set: the novelty reference (a dataset name or a file), ``None`` for none.
        configs: agent name -> its settings (``molgym compare --config``).
        time_limit: seconds of wall time per run (``None``: no limit).
        keep_agents: save each trained agent in its run directory (``agent/``, :meth:`Agent.save`), for
            evaluations after the run (e.g. the GCPN benchmark's constrained optimisation).
    """

    task: str
    agents: tuple[str, ...]
    budget: int
    seeds: int
    device: str = "cpu"
    propose: int = 100
    task_params: dict[str, Any] = field(default_factory=dict)
    training_set: str | None = "nci"
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_limit: float | None = None
    keep_agents: bool = False

    def runs(self, out: str | Path) -> list[RunSpec]:
        """The runs of the comparison in ``out``: every agent with every seed."""
        pairs = [(agent, seed) for agent in self.agents for seed in range(self.seeds)]
        return [RunSpec(self, agent, seed, str(out), position=i) for i, (agent, seed) in enumerate(pairs)]


@dataclass
class RunSpec:
    """One (agent, seed) run of a :class:`Comparison` in ``out`` (``position``: its progress bar's line)."""

    comparison: Comparison
    agent: str
    seed: int
    out: str
    position: int = 0

    @property
    def task(self) -> str:
        return self.comparison.task

    @property
    def budget(self) -> int:
        return self.comparison.budget

    @property
    def device(self) -> str:
        return self.comparison.device

    @property
    def config(self) -> dict[str, Any]:
        return self.comparison.configs.get(self.agent, {})

    @property
    def directory(self) -> Path:
        return run_directory(self.out, self.agent, self.seed)

    def identity(self) -> dict[str, Any]:
        """Everything that decides this run's result (as JSON values); a finished run is reused only
        when its identity is this one. Start molecules and file training sets enter by content."""
        from molgym import __version__

        c = self.comparison
        params = {k: _fingerprint(v) if k == "start_smiles" else v for k, v in c.task_params.items()}
        kept = {"keep_agents": True} if c.keep_agents else {}  # (runs made before it existed kept none)
        return json.loads(
            json.dumps(
                {
                    "agent": self.agent,
                    "config": self.config,
                    "task": c.task,
                    "task_params": params,
                    "budget": c.budget,
                    "seed": self.seed,
                    "propose": c.propose,
                    "training_set": _set_identity(c.training_set),
                    "time_limit": c.time_limit,
                    "molgym": __version__,
                    **kept,
                }
            )
        )


def run_directory(out: str | Path, agent: str, seed: int) -> Path:
    """``OUT/<agent>/seed<k>`` (an agent named ``module:Class`` with ``:`` and ``/`` as ``_``)."""
    return Path(out) / agent.replace(":", "_").replace("/", "_") / f"seed{seed}"


def _fingerprint(smiles: list[str]) -> dict[str, Any]:
    return {"count": len(smiles), "sha256": hashlib.sha256("\n".join(smiles).encode()).hexdigest()}


@lru_cache(maxsize=8)
def _file_digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _set_identity(source: str | None) -> Any:
    """A named training set by its name, a file by its content."""
    if source is None or not Path(source).is_file():
        return source
    path = Path(source).resolve()
    return {"file": str(path), "sha256": _file_digest(str(path), path.stat().st_mtime)}


def check_runs(specs: list[RunSpec]) -> None:
    """Raise :class:`SettingsMismatch` when a run's directory holds a run of other settings."""
    problems = []
    for spec in specs:
        path = spec.directory / "run.json"
        if path.is_file():
            saved = read_json(path, "run settings")
        elif (spec.directory / "result.json").is_file():
            saved = {}  # written by a molgym that did not record its settings
        else:
            continue
        wanted = spec.identity()
        differ = [f"{key} {saved.get(key)!r} (now {wanted[key]!r})" for key in wanted if saved.get(key) != wanted[key]]
        if differ:
            problems.append(f"{spec.directory} holds a run with {'; '.join(differ)}")
    if problems:
        more = f" (and {len(problems) - 1} more runs)" if len(problems) > 1 else ""
        raise SettingsMismatch(f"{problems[0]}{more}: choose another --out, or delete those runs to redo them")


@lru_cache(maxsize=4)
def _training_smiles(source: str | None) -> frozenset[str] | None:
    """Canonical SMILES of the novelty reference set (once per process)."""
    if source is None:
        return None
    from molgym.chem import canonical_smiles
    from molgym.chem.graph import parse_smiles
    from molgym.data import load_smiles

    out = set()
    for s in load_smiles(source):
        try:
            out.add(canonical_smiles(parse_smiles(s)))
        except ValueError:
            continue
    return frozenset(out)


def run_one(spec: RunSpec, progress: bool = True) -> dict[str, Any]:
    """Make one (agent, seed) run (or read its finished result); never raises for an agent's failure.
    The caller has checked (:func:`check_runs`) that the directory holds no run of other settings.
    Every file but ``log.csv`` (appended update by update) is written whole, ``result.json`` last. An agent that learns in updates is
    checkpointed every :data:`CHECKPOINT_EVERY` updates in ``training/`` (removed once the run is
    finished), and an unfinished run goes on from there exactly; other runs without a result, and
    runs with a time limit, are redone from the start."""
    import shutil

    from tqdm.auto import tqdm

    from molgym.agent import UpdatingAgent, agent_class
    from molgym.loop import train_loop
    from molgym.metrics import run_metrics
    from molgym.oracle import budget_spent
    from molgym.tasks import make_task
    from molgym.training import Checkpoints, UpdateLog, latest_checkpoint, load_checkpoint, new_share_summary

    c, directory = spec.comparison, spec.directory
    done = directory / "result.json"
    if done.is_file():
        previous = read_result(done)
        if previous is not None and previous.get("status") == "ok":
            return previous
        done.unlink()  # a failed (or damaged) run is redone from the start
        shutil.rmtree(directory / TRAINING, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "run.json", spec.identity())
    result = _result(spec, status="ok", error=None)
    began = time.perf_counter()
    bar = tqdm(
        total=c.budget,
        desc=f"{spec.agent} seed {spec.seed}",
        unit="call",
        position=spec.position,
        leave=True,
        disable=not progress,
    )
    oracle = None
    try:
        task = make_task(c.task, **c.task_params)
        best = float("-inf")

        def on_call(call, smiles, score):
            nonlocal best
            best = max(best, score)
            bar.update(1)
            bar.set_postfix(best=f"{best:.3f}", refresh=False)

        oracle = task.oracle(c.budget, on_call=on_call, time_limit=c.time_limit)
        cls = agent_class(spec.agent)
        checkpoints = directory / TRAINING
        if issubclass(cls, UpdatingAgent) and c.time_limit is None and latest_checkpoint(checkpoints) is not None:
            agent, oracle_state, loop = load_checkpoint(checkpoints, cls, task, device=c.device)
            oracle.load_state_dict(oracle_state)
            bar.update(oracle.calls)
            began -= loop["wall_time"]  # the run's wall time counts its earlier part too
        else:
            agent, loop = cls(task, seed=spec.seed, device=c.device, **spec.config), None
        if isinstance(agent, UpdatingAgent):  # one row of statistics per update (e.g. the share of new molecules)
            log = UpdateLog(directory / "log.csv", resumed=loop is not None)
            if c.time_limit is None:
                train_loop(agent, oracle, [log, Checkpoints(checkpoints, CHECKPOINT_EVERY)], loop=loop)
            else:
                agent.train(oracle, [log])
        else:
            agent.train(oracle)
        if c.keep_agents:  # as training left it, before proposing draws from its generators
            agent.save(directory / "agent")
        stopped = oracle.exhausted or oracle.timed_out
        result["stop_reason"] = agent.stop_reason or (budget_spent(oracle) if stopped else None)
        proposed = agent.propose(c.propose) if c.propose else None
        if proposed is not None:
            write_csv(directory / "proposed.csv", ["smiles"], ([s] for s in proposed))
        result["metrics"] = run_metrics(oracle.log, c.budget, proposed, _training_smiles(c.training_set))
        result["metrics"].update(new_share_summary(directory / "log.csv"))
    except Exception as err:  # noqa: BLE001 - a failing agent is reported, the others go on
        result.update(status="error", error=f"{type(err).__name__}: {err}")
        write_atomic(directory / "traceback.txt", traceback.format_exc())
    finally:
        bar.close()
        if oracle is not None:
            oracle.write_log(directory / "oracle_log.csv")
    result["wall_time"] = time.perf_counter() - began
    write_json(done, result)  # a result is there entirely or not at all
    shutil.rmtree(directory / TRAINING, ignore_errors=True)
    return result


def _result(spec: RunSpec, **fields: Any) -> dict[str, Any]:
    return {
        "agent": spec.agent,
        "seed": spec.seed,
        "task": spec.task,
        "budget": spec.budget,
        "device": spec.device,
        **fields,
    }


def read_result(path: Path) -> dict[str, Any] | None:
    """A run's ``result.json``; ``None`` when it cannot be read (the run is then redone)."""
    try:
        return read_json(path, "run result")
    except ValueError:
        return None


def lost(spec: RunSpec, why: str) -> dict[str, Any]:
    """The result of a run whose worker ended without writing one (killed, out of memory, crashed)."""
    result = _result(spec, status="error", error=why, wall_time=0.0)
    write_json(spec.directory / "result.json", result)
    return result
