"""Rewrite a PMO suite report (``results.md``, ``results.json``, ``curves.png``) from every finished
run in a ``molgym compare --suite pmo --out OUT`` folder, e.g. after commands that ran different
agents on different tasks into the same folder. Runs are read, never redone.

    python scripts/pmo_report.py benchmarks-runs/pmo --budget 10000 --seeds 1
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from molgym.compare.suite import write_suite_report
from molgym.tasks import PMO_TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the --out folder of molgym compare --suite pmo")
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--seeds", type=int, required=True)
    parser.add_argument(
        "--made-by",
        action="append",
        default=[],
        metavar="COMMAND",
        help="a command that made runs in OUT (repeat for each), recorded in the report",
    )
    args = parser.parse_args()
    by_task: dict[str, list[dict]] = {}
    for path in sorted(args.out.glob("*/*/seed*/result.json")):
        result = json.loads(path.read_text())
        if result["budget"] == args.budget and result["seed"] < args.seeds:
            by_task.setdefault(result["task"], []).append(result)
    if not by_task:
        raise SystemExit(f"no finished run with budget {args.budget} in {args.out}")
    by_task = {task: by_task[task] for task in PMO_TASKS if task in by_task}
    run_time = sum(r["wall_time"] for results in by_task.values() for r in results)
    devices = {r["device"] for results in by_task.values() for r in results}
    commands = [*args.made_by, "python " + shlex.join(sys.argv)]
    write_suite_report(by_task, {}, args.out, args.budget, args.seeds, ",".join(sorted(devices)), run_time, commands)
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    main()
