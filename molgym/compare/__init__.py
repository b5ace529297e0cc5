"""``molgym compare``: agents under equal oracle budgets, with tables, curves and molecule pictures.

A comparison goes through three modules, in the order a run takes:

- :mod:`molgym.compare.runs`: what a comparison is (:class:`Comparison`), its runs
  (:class:`RunSpec`, one per agent and seed, each in its own resumable directory) and how one run is
  made (:func:`run_one`);
- :mod:`molgym.compare.execute`: where the runs are made (this process, worker processes, Ray);
- :mod:`molgym.compare.report`: the report written from the run directories.

:mod:`molgym.compare.suite` runs a suite of tasks (PMO's 23) the same way, beside the published figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from molgym.compare.execute import EXECUTORS, RAY_ATTEMPTS, finished_line, run_all
from molgym.compare.report import machine, write_report
from molgym.compare.runs import Comparison, RunSpec, SettingsMismatch, check_runs, read_result, run_one

__all__ = [
    "Comparison",
    "RunSpec",
    "SettingsMismatch",
    "EXECUTORS",
    "RAY_ATTEMPTS",
    "compare",
    "check_runs",
    "run_one",
    "run_all",
    "read_result",
    "finished_line",
    "write_report",
    "machine",
]


def compare(
    comparison: Comparison,
    out: str | Path,
    workers: int | None = None,
    executor: str = "process",
    ray_address: str | None = None,
    command: str | None = None,
) -> list[dict[str, Any]]:
    """Make every run of ``comparison`` in ``out`` (:func:`~molgym.compare.execute.run_all`: ``workers``
    processes, default one per core, ``1`` in this process, or Ray tasks) and write the report;
    ``command``, the command line that asked for it, goes into the report. Raises
    :class:`SettingsMismatch`, before any run, when ``out`` holds runs of other settings."""
    out = Path(out)
    specs = comparison.runs(out)
    check_runs(specs)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    results = run_all(specs, workers, executor, ray_address)
    write_report(
        results,
        out,
        task=comparison.task,
        budget=comparison.budget,
        wall_time=time.perf_counter() - began,
        device=comparison.device,
        commands=[command] if command else [],
    )
    return results
