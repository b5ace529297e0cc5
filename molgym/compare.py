"""``molgym compare``: agents under equal oracle budgets, with tables, curves and molecule pictures.

Each (agent, seed) pair is one run in ``OUT/<agent>/seed<k>/``: ``run.json`` (everything that
decides its result: :meth:`RunSpec.identity`), ``oracle_log.csv`` (every paid call),
``result.json`` (metrics, wall time, device, or the error) and ``proposed.csv`` (the molecules
the trained agent proposed, unscored, from which validity, uniqueness and novelty are computed).
A pair whose ``result.json`` says it finished is not run again, so a repeated command resumes;
a directory holding a run of other settings (another task, budget, agent config, start set,
...) stops the command before any work (:func:`check_runs`), so a report never mixes settings.
The report (``results.md``, ``results.csv``, ``results.json``, ``curves.png``,
``top_<agent>.png``) is written from the run directories.

Runs go to worker processes, ``workers`` at a time. Ctrl-C (or any exception in this process)
terminates the workers within seconds; finished runs stay, an unfinished one is redone by the
next command, and a worker whose parent dies ends itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from molgym.storage import atomic_path, read_json, write_atomic, write_csv, write_json

__all__ = ["RunSpec", "SettingsMismatch", "plan", "check_runs", "run_one", "read_result", "finished_line", "compare", "ended_early", "made_by", "write_report"]

#: Metrics where smaller is better (the rest: larger is better).
LOWER_IS_BETTER = {"sa_top100"}
#: Columns of the results table, in order.
COLUMNS = ["auc_top10", "auc_top1", "auc_top100", "top1", "top10", "top100", "diversity_top100", "sa_top100",
           "validity", "uniqueness", "novelty", "pains_pass_top100", "zinc_pass_top100", "calls", "wall_time"]


class SettingsMismatch(ValueError):
    """An output directory holds runs made with other settings."""


@dataclass
class RunSpec:
    """One (agent, seed) run of a comparison; ``config`` is the agent's settings."""

    agent: str
    seed: int
    task: str
    budget: int
    out: str
    device: str = "cpu"
    propose: int = 100
    task_params: dict[str, Any] = field(default_factory=dict)
    training_set: str | None = "nci"
    position: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    time_limit: float | None = None  # seconds of wall time per run (None: no limit)

    @property
    def directory(self) -> Path:
        return Path(self.out) / self.agent.replace(":", "_").replace("/", "_") / f"seed{self.seed}"

    def identity(self) -> dict[str, Any]:
        """Everything that decides this run's result (as JSON values); a finished run is reused only
        when its identity is this one. Start molecules and file training sets enter by content."""
        from molgym import __version__

        params = {k: _fingerprint(v) if k == "start_smiles" else v for k, v in self.task_params.items()}
        return json.loads(json.dumps({
            "agent": self.agent, "config": self.config, "task": self.task, "task_params": params,
            "budget": self.budget, "seed": self.seed, "propose": self.propose,
            "training_set": _set_identity(self.training_set), "time_limit": self.time_limit, "molgym": __version__}))


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


def made_by(commands: Sequence[str]) -> list[str]:
    """A report's lines naming the commands that made it (and a blank line), none without commands."""
    return [*(f"Made by: `{c}`" for c in commands), ""] if commands else []


def ended_early(result: dict[str, Any], budget: int) -> str:
    """One report line for a run that ended before its budget: the agent, the seed, the calls, why."""
    return (f"{result['agent']} seed {result['seed']} ({result['metrics']['calls']} of {budget} calls): "
            f"{result.get('stop_reason') or 'the agent returned'}")


def run_one(spec: RunSpec, progress: bool = True) -> dict[str, Any]:
    """Run one (agent, seed) pair (or read its finished result); never raises for an agent's failure.
    The caller has checked (:func:`check_runs`) that the directory holds no run of other settings.
    Every file is written whole, ``result.json`` last: a run without it is redone from the start."""
    from tqdm.auto import tqdm

    from molgym.agent import agent_class
    from molgym.metrics import run_metrics
    from molgym.oracle import budget_spent
    from molgym.tasks import make_task

    directory = spec.directory
    done = directory / "result.json"
    if done.is_file():
        previous = read_result(done)
        if previous is not None and previous.get("status") == "ok":
            return previous
        done.unlink()  # a failed (or damaged) run is redone
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "run.json", spec.identity())
    result: dict[str, Any] = {"agent": spec.agent, "seed": spec.seed, "task": spec.task, "budget": spec.budget,
                              "device": spec.device, "status": "ok", "error": None}
    began = time.perf_counter()
    bar = tqdm(total=spec.budget, desc=f"{spec.agent} seed {spec.seed}", unit="call", position=spec.position,
               leave=True, disable=not progress)
    oracle = None
    try:
        task = make_task(spec.task, **spec.task_params)

        best = float("-inf")

        def on_call(call, smiles, score):
            nonlocal best
            best = max(best, score)
            bar.update(1)
            bar.set_postfix(best=f"{best:.3f}", refresh=False)

        oracle = task.oracle(spec.budget, on_call=on_call, time_limit=spec.time_limit)
        agent = agent_class(spec.agent)(task, seed=spec.seed, device=spec.device, **spec.config)
        agent.train(oracle)
        stopped = oracle.exhausted or oracle.timed_out
        result["stop_reason"] = agent.stop_reason or (budget_spent(oracle) if stopped else None)
        proposed = agent.propose(spec.propose) if spec.propose else None
        if proposed is not None:
            write_csv(directory / "proposed.csv", ["smiles"], ([s] for s in proposed))
        result["metrics"] = run_metrics(oracle.log, spec.budget, proposed, _training_smiles(spec.training_set))
    except Exception as err:  # noqa: BLE001 - a failing agent is reported, the others go on
        result.update(status="error", error=f"{type(err).__name__}: {err}")
        write_atomic(directory / "traceback.txt", traceback.format_exc())
    finally:
        bar.close()
        if oracle is not None:
            oracle.write_log(directory / "oracle_log.csv")
    result["wall_time"] = time.perf_counter() - began
    write_json(done, result)  # a result is there entirely or not at all
    return result


def read_result(path: Path) -> dict[str, Any] | None:
    """A run's ``result.json``; ``None`` when it cannot be read (the run is then redone)."""
    try:
        return read_json(path, "run result")
    except ValueError:
        return None


def _worker(spec: RunSpec, threads: int, parent: int, progress: bool) -> None:
    """A worker process: one run. Ctrl-C is the parent's to handle (it terminates the workers);
    a worker whose parent died ends itself within a second."""
    import signal

    from tqdm.auto import tqdm

    from molgym import set_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_threads(threads)
    tqdm.set_lock(threading.RLock())  # not tqdm's default multiprocessing lock, which a terminated worker would leak

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    run_one(spec, progress)


def finished_line(result: dict[str, Any]) -> str:
    """One line for a run that has ended (what a log shows where progress bars would garble it)."""
    head = f"{result['agent']} seed {result['seed']}" + (f" on {result['task']}" if "task" in result else "")
    if result["status"] != "ok":
        return f"{head}: failed: {result['error']}"
    metrics = result["metrics"]
    return (f"{head}: finished, {metrics['calls']} oracle calls, top-1 {metrics['top1']:.3f}, "
            f"AUC top-10 {metrics['auc_top10']:.3f}, {result['wall_time']:.0f} s")


def _lost(spec: RunSpec, why: str) -> dict[str, Any]:
    """The result of a run whose worker ended without writing one (killed, out of memory, crashed)."""
    result = {"agent": spec.agent, "seed": spec.seed, "task": spec.task, "budget": spec.budget,
              "device": spec.device, "status": "error", "error": why, "wall_time": 0.0}
    write_json(spec.directory / "result.json", result)
    return result


def _run_in_processes(specs: list[RunSpec], workers: int, threads: int) -> list[dict[str, Any]]:
    """Every run in its own process, ``workers`` at a time; on any exception (Ctrl-C) the running
    workers are terminated (killed if they do not end within 5 s) before it propagates."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    bars = sys.stderr.isatty()  # one bar per worker on a terminal; redirected, bars at positions garble the file
    results: list[dict[str, Any] | None] = [None] * len(specs)
    waiting = list(range(len(specs)))
    running: dict[int, tuple[int, Any]] = {}  # sentinel -> (spec index, process)
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                i = waiting.pop(0)
                process = context.Process(target=_worker, args=(specs[i], threads, os.getpid(), bars), daemon=True)
                process.start()
                running[process.sentinel] = (i, process)
            for sentinel in wait(list(running), timeout=1.0):
                i, process = running.pop(sentinel)
                process.join()
                results[i] = (read_result(specs[i].directory / "result.json")
                              or _lost(specs[i], f"the worker process died (exit code {process.exitcode})"))
                if not bars:
                    print(finished_line(results[i]), file=sys.stderr, flush=True)
    finally:
        for _, process in running.values():
            process.terminate()
        for _, process in running.values():
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
    return results  # type: ignore[return-value]


def plan(task: str, agents: list[str], budget: int, seeds: int, out: str | Path, device: str = "cpu",
         propose: int = 100, task_params: dict | None = None, training_set: str | None = "nci",
         configs: dict[str, dict] | None = None, time_limit: float | None = None) -> list[RunSpec]:
    """The runs of a comparison: every agent with seeds ``0 .. seeds - 1``."""
    return [RunSpec(a, s, task, budget, str(out), device, propose, task_params or {}, training_set, position=i,
                    config=(configs or {}).get(a, {}), time_limit=time_limit)
            for i, (a, s) in enumerate((a, s) for a in agents for s in range(seeds))]


#: How a comparison runs its (agent, seed) runs: this machine's processes, or a Ray cluster.
EXECUTORS = ("process", "ray")
RAY_ATTEMPTS = 3  #: tries of a run on Ray whose worker dies (a failing agent is reported, not retried)


def _run_all(specs: list[RunSpec], workers: int | None, executor: str = "process",
             ray_address: str | None = None) -> list[dict[str, Any]]:
    """Every run: ``workers`` at a time in separate processes (default: one per core; 1: in this
    process), or as Ray tasks (``executor="ray"``)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "ray":
        return _run_on_ray(specs, ray_address)
    cores = os.cpu_count() or 1
    workers = min(workers or cores, len(specs))
    if workers <= 1:
        return [run_one(spec) for spec in specs]
    return _run_in_processes(specs, workers, threads=max(1, cores // workers))


def _ray_run(spec: RunSpec) -> dict[str, Any]:
    """A Ray task: one run, with the threads of the CPU it asked for (Ray reuses a worker process
    for later tasks, so torch may be imported already: :func:`molgym.set_threads` changes it then)."""
    from molgym import set_threads

    set_threads(1)
    return run_one(spec, progress=False)


def _run_on_ray(specs: list[RunSpec], address: str | None) -> list[dict[str, Any]]:
    """Every run as a Ray task asking for one CPU (and one GPU when its device is ``cuda``), on the
    cluster at ``address`` or on a Ray instance started here (stopped at the end). Ray retries a
    run whose worker died (up to :data:`RAY_ATTEMPTS` tries); one that still has no result is
    reported as lost. Runs write into their directories, so on a cluster ``out`` must be a path every
    node sees. On any exception (Ctrl-C) the remaining tasks are cancelled before it propagates."""
    from molgym.distributed import import_ray, start_ray

    ray = import_ray()
    started_here = start_ray(address)
    task = ray.remote(_ray_run)
    refs = {}
    for i, spec in enumerate(specs):
        gpus = 1 if spec.device.startswith("cuda") else 0
        refs[task.options(num_cpus=1, num_gpus=gpus, max_retries=RAY_ATTEMPTS - 1).remote(spec)] = i
    results: list[dict[str, Any] | None] = [None] * len(specs)
    waiting = list(refs)
    try:
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            for ref in done:
                i = refs[ref]
                try:
                    results[i] = ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker died RAY_ATTEMPTS times, or the node was lost
                    why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                    results[i] = _lost(specs[i], f"the Ray worker died {RAY_ATTEMPTS} times ({type(err).__name__}: {why})")
                print(finished_line(results[i]), file=sys.stderr, flush=True)
    finally:
        for ref in waiting:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    return results  # type: ignore[return-value]


def compare(task: str, agents: list[str], budget: int, seeds: int, out: str | Path, workers: int | None = None,
            device: str = "cpu", propose: int = 100, task_params: dict | None = None,
            training_set: str | None = "nci", configs: dict[str, dict] | None = None,
            time_limit: float | None = None, executor: str = "process",
            ray_address: str | None = None, command: str | None = None) -> list[dict[str, Any]]:
    """Run every (agent, seed) pair, ``workers`` at a time in separate processes (default: one per
    core), and write the report. ``workers=1`` runs them one after another in this process;
    ``executor="ray"`` runs each as a Ray task (on ``ray_address``, or a local Ray instance).
    ``configs`` maps an agent to its settings; ``time_limit`` caps each run's wall time (seconds);
    ``command``, the command line that asked for it, is written into the report.
    Raises :class:`SettingsMismatch`, before any run, when ``out`` holds runs of other settings."""
    out = Path(out)
    specs = plan(task, agents, budget, seeds, out, device, propose, task_params, training_set, configs, time_limit)
    check_runs(specs)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    results = _run_all(specs, workers, executor, ray_address)
    write_report(results, out, task=task, budget=budget, wall_time=time.perf_counter() - began, device=device,
                 commands=[command] if command else [])
    return results


def _summary(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for agent in dict.fromkeys(r["agent"] for r in results):
        runs = [r for r in results if r["agent"] == agent]
        ok = [r for r in runs if r["status"] == "ok"]
        row: dict[str, Any] = {"runs": len(runs), "failed": len(runs) - len(ok),
                               "errors": sorted({r["error"] for r in runs if r["error"]})}
        for column in COLUMNS:
            values = [r["wall_time"] if column == "wall_time" else r["metrics"].get(column) for r in ok]
            values = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
            if values:
                row[column] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}
        table[agent] = row
    return table


def machine() -> str:
    """The CPU model, its cores and the instruction set torch computes with. A learning run repeats
    exactly only where this is the same: float rounding differs between instruction sets (a 300-call
    GCPN run on penalized logP, seed 0, reached top-1 4.449 with AVX-512 and 4.218 with AVX2)."""
    import torch

    model = platform.processor() or platform.machine()
    try:  # Linux: the first processor's name, family and model (a VM may show only the brand)
        fields: dict[str, str] = {}
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
        model = f"{fields['model name']} (family {fields['cpu family']} model {fields['model']})"
    except (OSError, KeyError):
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}"


def write_report(results: list[dict[str, Any]], out: Path, task: str, budget: int, wall_time: float, device: str,
                 commands: Sequence[str] = ()) -> None:
    """``results.md`` / ``.csv`` / ``.json``, ``curves.png`` and ``top_<agent>.png`` from finished runs;
    ``commands`` (those that made the runs) are written into the ``.md`` and ``.json``."""
    out = Path(out)
    summary = _summary(results)
    write_json(out / "results.json", {"task": task, "budget": budget, "device": device, "machine": machine(),
                                      "wall_time": wall_time, "cpus": os.cpu_count(), "commands": list(commands),
                                      "summary": summary, "runs": results})
    write_csv(out / "results.csv", ["agent", "seed", "status", "error", *COLUMNS],
              ([r["agent"], r["seed"], r["status"], r["error"] or "",
                *[r["wall_time"] if c == "wall_time" else r.get("metrics", {}).get(c, "") for c in COLUMNS]]
               for r in results))
    best = {}
    for column in COLUMNS:
        means = {a: row[column]["mean"] for a, row in summary.items() if column in row}
        if means and column not in ("calls", "wall_time"):
            best[column] = (min if column in LOWER_IS_BETTER else max)(means.values())
    seeds = len({r["seed"] for r in results})
    lines = [f"# {task}: {seeds} seed{'s' if seeds != 1 else ''}, budget {budget} oracle calls",
             "",
             "Mean +- std over the seeds that finished (the mean alone from one); best of each column in bold "
             f"(SA: lower is better). Device {device}, "
             f"wall time {wall_time:.0f} s.",
             "",
             *made_by(commands),
             "| agent | " + " | ".join(COLUMNS) + " |",
             "| --- | " + " | ".join("---" for _ in COLUMNS) + " |"]
    for agent, row in summary.items():
        cells = []
        for column in COLUMNS:
            if column not in row:
                cells.append("-")
                continue
            mean, std, n = row[column]["mean"], row[column]["std"], row[column]["n"]
            if column in ("calls", "wall_time"):
                text = f"{mean:.0f}"
            else:  # one finished run has no spread to show
                text = f"{mean:.3f}" + (f" +- {std:.3f}" if n > 1 else "")
            cells.append(f"**{text}**" if best.get(column) == mean and row["failed"] < row["runs"] else text)
        lines.append(f"| {agent} | " + " | ".join(cells) + " |")
    failures = [(a, e) for a, row in summary.items() for e in row["errors"]]
    if failures:
        lines += ["", "Failed runs:", ""] + [f"- {a}: {e}" for a, e in failures]
    early = [r for r in results if r["status"] == "ok" and r["metrics"]["calls"] < budget]
    if early:
        lines += ["", "Runs that ended before their budget (AUC padded with their last value):", ""]
        lines += [f"- {ended_early(r, budget)}" for r in early]
    write_atomic(out / "results.md", "\n".join(lines) + "\n")
    _plot_curves(results, out, budget, task)
    for agent in summary:
        _plot_top(results, out, agent, task)


def _read_log(result: dict[str, Any], out: Path) -> list[tuple[int, str, float]]:
    spec = RunSpec(result["agent"], result["seed"], result["task"], result["budget"], str(out))
    path = spec.directory / "oracle_log.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return [(int(r["call"]), r["smiles"], float(r["score"])) for r in csv.DictReader(f)]


def _plot_curves(results, out: Path, budget: int, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if not _draw_curves(ax, results, out, budget):  # no finished run: no empty picture
        plt.close(fig)
        return
    ax.set_xlabel("oracle calls")
    ax.set_ylabel("mean of the top-10 scores so far")
    ax.set_title(f"{task}: top-10 vs oracle calls")
    ax.legend()
    fig.tight_layout()
    with atomic_path(out / "curves.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _draw_curves(ax, results, out: Path, budget: int, agents: list[str] | None = None) -> bool:
    """Mean top-10 against oracle calls per agent (band: std over seeds) on ``ax``; False if nothing
    to draw. ``agents``: the order that gives each agent its colour (default: as in ``results``), so
    that an agent keeps its colour in every panel of a grid."""
    from molgym.metrics import top_k_curve

    plotted = False
    every = max(1, budget // 100)  # about 100 points per curve, whatever the budget
    grid = np.arange(every, budget + 1, every)
    agents = agents or list(dict.fromkeys(r["agent"] for r in results))
    for colour, agent in enumerate(agents):
        curves = []
        for r in results:
            if r["agent"] != agent or r["status"] != "ok":
                continue
            scores = [s for _, _, s in _read_log(r, out)]
            if not scores:
                continue
            calls, values = top_k_curve(scores, 10, every)
            # value at each grid point: the last checkpoint at or before it; an early stop carries on
            idx = np.searchsorted(calls, grid, side="right") - 1
            curves.append(np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan))
        if not curves:
            continue
        plotted = True
        curves = np.array(curves)
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        ax.plot(grid, mean, label=f"{agent} ({len(curves)} seeds)", color=f"C{colour % 10}")
        ax.fill_between(grid, mean - std, mean + std, alpha=0.2, color=f"C{colour % 10}")
    ax.grid(alpha=0.3)
    return plotted


def _plot_top(results, out: Path, agent: str, task: str, count: int = 12) -> None:
    from molgym.pictures import molecule_grid

    best: dict[str, float] = {}
    runs = [r for r in results if r["agent"] == agent]
    for r in runs:
        for _, smiles, score in _read_log(r, out):
            best[smiles] = max(score, best.get(smiles, float("-inf")))
    ranked = sorted(best.items(), key=lambda item: -item[1])[:count]
    if not ranked:
        return
    title = f"{agent} on {task}: best {len(ranked)} molecules scored, over {len(runs)} seed{'s' if len(runs) != 1 else ''}"
    molecule_grid([s for s, _ in ranked], [f"{task} {score:.3f}" for _, score in ranked], title,
                  out / f"top_{agent.replace(':', '_').replace('/', '_')}.png")
