"""``molgym compare --suite pmo``: agents on the PMO benchmark's tasks, beside the published leaderboard.

Every (task, agent, seed) is one resumable run of :mod:`molgym.compare.runs`, in ``OUT/<task>/<agent>/seed<k>/``
with each task's own report in ``OUT/<task>/``. The suite's report (``OUT/results.md``, ``results.json``,
``curves.png``: one panel per task) has the tasks as rows and, per agent, the mean AUC top-10 over
seeds with its rank among the agents and the published methods that have a figure for the task;
the last row sums over the tasks run (PMO's headline is that sum over its 23 tasks). The published
figures come from ``molgym/data/pmo_leaderboard.json``, with their source and, where a published
figure was made with another definition of the task, a note that the report prints. A task whose objective
cannot be had (a classifier model offline) is skipped, and the report says why.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from molgym.compare.execute import run_all
from molgym.compare.report import draw_curves, ended_early, made_by, write_report
from molgym.compare.runs import Comparison, check_runs
from molgym.storage import atomic_path, write_atomic, write_json

__all__ = ["SUITES", "compare_suite", "leaderboard", "write_suite_report"]


def _pmo_tasks() -> tuple[str, ...]:
    from molgym.tasks import PMO_TASKS

    return PMO_TASKS


#: Suite name -> its tasks.
SUITES = {"pmo": _pmo_tasks}

LEADERBOARD = Path(__file__).parent.parent / "data" / "pmo_leaderboard.json"


@lru_cache(maxsize=1)
def leaderboard() -> dict[str, Any]:
    """The published PMO figures (AUC top-10 per task, with its std where given, and summed over the 23
    tasks) and their sources."""
    return json.loads(LEADERBOARD.read_text())


def compare_suite(
    tasks: list[str],
    comparison: Comparison,
    out: str | Path,
    workers: int | None = None,
    executor: str = "process",
    ray_address: str | None = None,
    command: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Make ``comparison`` on every task of ``tasks`` (its own ``task`` and ``task_params`` are not
    used) in ``OUT/<task>/``, ``workers`` runs at a time (or as Ray tasks, ``executor="ray"``), and
    write each task's report and the suite's; returns the results per task. Tasks whose objective
    cannot be had are skipped (reported). Raises ``SettingsMismatch`` before any run when ``out``
    holds other settings."""
    from molgym.rewards.classifiers import ModelUnavailable
    from molgym.tasks import make_task

    out = Path(out)
    skipped: dict[str, str] = {}
    specs = []
    for task in tasks:
        try:
            make_task(task)
        except ModelUnavailable as err:
            skipped[task] = str(err)
            continue
        specs += dataclasses.replace(comparison, task=task, task_params={}).runs(out / task)
    check_runs(specs)
    out.mkdir(parents=True, exist_ok=True)
    width = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    for i, spec in enumerate(specs):
        spec.position = i % width  # progress bars: one line per worker
    began = time.perf_counter()
    results = run_all(specs, workers, executor, ray_address)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for spec, result in zip(specs, results):
        by_task.setdefault(spec.task, []).append(result)
    wall = time.perf_counter() - began
    commands = [command] if command else []
    for task, task_results in by_task.items():
        write_report(
            task_results,
            out / task,
            task=task,
            budget=comparison.budget,
            wall_time=wall,
            device=comparison.device,
            commands=commands,
        )
    write_suite_report(by_task, skipped, out, comparison.budget, comparison.seeds, comparison.device, wall, commands)
    return by_task


def _auc(results: list[dict[str, Any]], agent: str) -> tuple[float, float | None, int] | None:
    """An agent's mean AUC top-10 over its finished seeds, the std (None from one seed) and the count."""
    values = [r["metrics"]["auc_top10"] for r in results if r["agent"] == agent and r["status"] == "ok"]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values)) if len(values) > 1 else None, len(values)


def _ranks(values: dict[str, float | None]) -> dict[str, int]:
    """1 for the largest; methods without a value get no rank."""
    known = sorted((v for v in values.values() if v is not None), reverse=True)
    return {k: 1 + known.index(v) for k, v in values.items() if v is not None}


def suite_table(by_task: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per task and summed: each agent's mean AUC top-10 (and std), the published figures, and ranks."""
    agents = list(dict.fromkeys(r["agent"] for results in by_task.values() for r in results))
    published = leaderboard()["methods"]
    rows = {}
    for task, results in by_task.items():
        ours = {a: _auc(results, a) for a in agents}
        theirs = {m: published[m]["tasks"].get(task) for m in published}
        spread = {m: published[m].get("std", {}).get(task) for m in published}
        ranks = _ranks({**{a: v[0] if v else None for a, v in ours.items()}, **theirs})
        rows[task] = {"agents": ours, "published": theirs, "published_std": spread, "ranks": ranks}
    sums = {
        a: sum(row["agents"][a][0] for row in rows.values()) if all(row["agents"][a] for row in rows.values()) else None
        for a in agents
    }
    theirs = {
        m: sum(row["published"][m] for row in rows.values())
        if all(row["published"][m] is not None for row in rows.values())
        else None
        for m in published
    }
    total = {
        "agents": sums,
        "published": theirs,
        "ranks": _ranks({**sums, **theirs}),
        "published_all_23": {m: published[m]["sum"] for m in published},
    }
    return {"agents": agents, "methods": list(published), "rows": rows, "sum": total}


def write_suite_report(
    by_task: dict[str, list[dict[str, Any]]],
    skipped: dict[str, str],
    out: Path,
    budget: int,
    seeds: int,
    device: str,
    wall_time: float,
    commands: list[str] = (),
) -> None:
    """``results.md`` / ``results.json`` / ``curves.png`` in ``out``; ``commands`` (the commands that
    made the runs and the report) are written into both files."""
    out = Path(out)
    table = suite_table(by_task)
    board = leaderboard()
    notes = {task: note for task, note in board.get("task_notes", {}).items() if task in by_task}
    report = {
        "budget": budget,
        "seeds": seeds,
        "device": device,
        "wall_time": wall_time,
        "commands": list(commands),
        "skipped": skipped,
        "table": table,
        "leaderboard_source": board["source"],
        "per_task_source": board["per_task_source"],
        "task_notes": notes,
    }
    write_json(out / "results.json", report)
    lines = suite_markdown(report)
    ended = [
        (task, r)
        for task, results in by_task.items()
        for r in results
        if r["status"] == "ok" and r["metrics"]["calls"] < budget
    ]
    if ended:
        lines += ["", "Runs that ended before their budget (AUC padded with their last value):", ""]
        lines += [f"- {task}, {ended_early(r, budget)}" for task, r in ended]
    failed = [(task, r) for task, results in by_task.items() for r in results if r["status"] != "ok"]
    if failed:
        lines += ["", "Failed runs:", ""] + [
            f"- {task}, {r['agent']} seed {r['seed']}: {r['error']}" for task, r in failed
        ]
    write_atomic(out / "results.md", "\n".join(lines) + "\n")
    _plot_grid(by_task, out, budget)


def suite_markdown(report: dict[str, Any]) -> list[str]:
    """The lines of a suite's ``results.md`` table from its ``results.json`` (what
    :func:`write_suite_report` writes; the docs render committed results with it)."""
    table, budget, seeds, skipped = report["table"], report["budget"], report["seeds"], report["skipped"]
    board, notes, commands = leaderboard(), report.get("task_notes", {}), report["commands"]
    tasks = len(table["rows"])
    agents, methods = table["agents"], table["methods"]

    def cell(value, rank=None, std=None, count=None) -> str:
        if value is None:
            return "n/a"
        text = f"{value:.3f}" + (f" +- {std:.3f}" if std is not None else "")
        if count is not None and count != seeds:  # fewer seeds finished than planned: say how many
            text += f", {count} seed{'s' * (count != 1)}"
        return text + (f" ({rank})" if rank is not None else "")

    lines = [
        f"# PMO suite: {tasks} task{'s' * (tasks != 1)}, budget {budget} oracle calls, {seeds} seed{'s' * (seeds != 1)}",
        "",
        "AUC top-10 (mean +- std over seeds) and, in brackets, the rank among the agents and the published "
        f"methods with a figure for the task. Published: {board['protocol']}; source: {report['leaderboard_source']}; "
        f"per task: {report['per_task_source']}. "
        f"Device {report['device']}, wall time {report['wall_time']:.0f} s.",
        "",
        *made_by(commands),
        "| task | " + " | ".join(agents) + " | " + " | ".join(f"{m} (published)" for m in methods) + " |",
        "| --- | " + " | ".join("---" for _ in agents + methods) + " |",
    ]
    for task, row in table["rows"].items():
        ours = [cell(v[0] if v else None, row["ranks"].get(a), *(v[1:] if v else ())) for a, v in row["agents"].items()]
        theirs = [cell(row["published"][m], row["ranks"].get(m), row["published_std"][m]) for m in methods]
        lines.append(f"| {task} | " + " | ".join(ours + theirs) + " |")
    total = table["sum"]
    lines.append(
        f"| **sum over {tasks} task{'s' if tasks > 1 else ''}** | "
        + " | ".join(
            [cell(total["agents"][a], total["ranks"].get(a)) for a in agents]
            + [cell(total["published"][m], total["ranks"].get(m)) for m in methods]
        )
        + " |"
    )
    lines += [
        "",
        "Published sums over all 23 tasks: "
        + ", ".join(f"{m} {v:.3f}" for m, v in total["published_all_23"].items())
        + ".",
    ]
    if notes:
        lines += ["", "About the published figures:", ""] + [f"- {task}: {note}" for task, note in notes.items()]
    if skipped:
        lines += ["", "Skipped tasks:", ""] + [f"- {task}: {why}" for task, why in skipped.items()]
    return lines


def _plot_grid(by_task: dict[str, list[dict[str, Any]]], out: Path, budget: int) -> None:
    """``curves.png``: one panel per task, the agents' top-10 curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not by_task:
        return
    columns = min(4, len(by_task))
    rows = math.ceil(len(by_task) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    agents = list(dict.fromkeys(r["agent"] for results in by_task.values() for r in results))  # one colour each
    for ax, (task, results) in zip(axes.flat, by_task.items()):
        draw_curves(ax, results, out / task, budget, agents)
        ax.set_title(task, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(by_task) :]:
        ax.axis("off")
    legend = {}  # every agent once, also those missing from the first panel
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label.split(" (")[0], (handle, label))
    handles, labels = [h for h, _ in legend.values()], [label for _, label in legend.values()]
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8)
    fig.supxlabel("oracle calls", fontsize=9)
    fig.supylabel("mean top-10 so far", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3 * rows)))
    with atomic_path(out / "curves.png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
