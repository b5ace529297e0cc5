"""A comparison's report, written from its run directories.

``results.md`` (mean +- std over seeds, best of each column in bold), ``results.csv`` (one row per
run), ``results.json`` (the summary, every run, the machine and the commands that made them),
``curves.png`` (mean top-10 against oracle calls, seeds as bands) and ``top_<agent>.png`` (the best
molecules each agent found).
"""

from __future__ import annotations

import csv
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molgym.compare.runs import run_directory
from molgym.storage import atomic_path, write_atomic, write_csv, write_json

__all__ = ["COLUMNS", "LOWER_IS_BETTER", "write_report", "draw_curves", "machine", "made_by", "ended_early"]

#: Metrics where smaller is better (the rest: larger is better).
LOWER_IS_BETTER = {"sa_top100"}
#: Columns of the results table, in order.
COLUMNS = [
    "auc_top10",
    "auc_top1",
    "auc_top100",
    "top1",
    "top10",
    "top100",
    "diversity_top100",
    "sa_top100",
    "validity",
    "uniqueness",
    "novelty",
    "pains_pass_top100",
    "zinc_pass_top100",
    "new_share_mean",
    "new_share_min",
    "calls",
    "wall_time",
]
#: Columns that describe a run rather than rank it (never in bold).
NOT_RANKED = {"new_share_mean", "new_share_min", "calls", "wall_time"}


def made_by(commands: Sequence[str]) -> list[str]:
    """A report's lines naming the commands that made it (and a blank line), none without commands."""
    return [*(f"Made by: `{c}`" for c in commands), ""] if commands else []


def ended_early(result: dict[str, Any], budget: int) -> str:
    """One report line for a run that ended before its budget: the agent, the seed, the calls, why."""
    return (
        f"{result['agent']} seed {result['seed']} ({result['metrics']['calls']} of {budget} calls): "
        f"{result.get('stop_reason') or 'the agent returned'}"
    )


def _summary(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for agent in dict.fromkeys(r["agent"] for r in results):
        runs = [r for r in results if r["agent"] == agent]
        ok = [r for r in runs if r["status"] == "ok"]
        row: dict[str, Any] = {
            "runs": len(runs),
            "failed": len(runs) - len(ok),
            "errors": sorted({r["error"] for r in runs if r["error"]}),
        }
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


def write_report(
    results: list[dict[str, Any]],
    out: Path,
    task: str,
    budget: int,
    wall_time: float,
    device: str,
    commands: Sequence[str] = (),
) -> None:
    """``results.md`` / ``.csv`` / ``.json``, ``curves.png`` and ``top_<agent>.png`` from finished runs;
    ``commands`` (those that made the runs) are written into the ``.md`` and ``.json``."""
    out = Path(out)
    summary = _summary(results)
    write_json(
        out / "results.json",
        {
            "task": task,
            "budget": budget,
            "device": device,
            "machine": machine(),
            "wall_time": wall_time,
            "cpus": os.cpu_count(),
            "commands": list(commands),
            "summary": summary,
            "runs": results,
        },
    )
    write_csv(
        out / "results.csv",
        ["agent", "seed", "status", "error", *COLUMNS],
        (
            [
                r["agent"],
                r["seed"],
                r["status"],
                r["error"] or "",
                *[r["wall_time"] if c == "wall_time" else r.get("metrics", {}).get(c, "") for c in COLUMNS],
            ]
            for r in results
        ),
    )
    best = {}
    for column in COLUMNS:
        means = {a: row[column]["mean"] for a, row in summary.items() if column in row}
        if means and column not in NOT_RANKED:
            best[column] = (min if column in LOWER_IS_BETTER else max)(means.values())
    seeds = len({r["seed"] for r in results})
    lines = [
        f"# {task}: {seeds} seed{'s' if seeds != 1 else ''}, budget {budget} oracle calls",
        "",
        "Mean +- std over the seeds that finished (the mean alone from one); best of each column in bold "
        f"(SA: lower is better). Device {device}, "
        f"wall time {wall_time:.0f} s.",
        "",
        *made_by(commands),
        "| agent | " + " | ".join(COLUMNS) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
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
    path = run_directory(out, result["agent"], result["seed"]) / "oracle_log.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return [(int(r["call"]), r["smiles"], float(r["score"])) for r in csv.DictReader(f)]


def _plot_curves(results, out: Path, budget: int, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    if not draw_curves(ax, results, out, budget):  # no finished run: no empty picture
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


def draw_curves(ax, results, out: Path, budget: int, agents: list[str] | None = None) -> bool:
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
    title = (
        f"{agent} on {task}: best {len(ranked)} molecules scored, over {len(runs)} seed{'s' if len(runs) != 1 else ''}"
    )
    molecule_grid(
        [s for s, _ in ranked],
        [f"{task} {score:.3f}" for _, score in ranked],
        title,
        out / f"top_{agent.replace(':', '_').replace('/', '_')}.png",
    )
