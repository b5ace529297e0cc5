"""``molgym compare``: agents under equal oracle budgets, on one task or a suite (:mod:`molgym.compare`)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from molgym.cli.common import (
    FAILED,
    INTERRUPTED,
    CommandError,
    add_task_arguments,
    agent_named,
    checked_config,
    checking,
    make_checked_task,
    non_negative,
    output_dir,
    parse_config,
    positive,
    positive_float,
    stop_listening_to_ctrl_c,
    task_params,
)


def _compare_configs(pairs: list[str], agents: list[str]) -> dict[str, dict]:
    """``--config``: ``key=value`` for every agent, ``agent.key=value`` for one; checked per agent."""
    configs: dict[str, dict] = {a: {} for a in agents}
    for key, value in parse_config(pairs).items():
        owner, dot, setting = key.rpartition(".")
        targets = [owner] if dot else agents
        if dot and owner not in configs:
            raise CommandError(f"--config {key}: {owner!r} is not one of the agents compared ({', '.join(agents)})")
        for agent in targets:
            configs[agent][setting] = value
    for agent, config in configs.items():
        checked_config(agent_named(agent), config)
    return configs


def _compare(args: argparse.Namespace) -> int:
    from molgym.compare import Comparison, check_runs, compare

    agents = tuple(dict.fromkeys(a.strip() for a in args.agents.split(",") if a.strip()))
    if not agents:
        raise CommandError("--agents names no agent")
    for name in agents:
        agent_named(name)
    configs = _compare_configs(args.config, list(agents))
    if args.ray_address is not None and args.executor != "ray":
        raise CommandError("--ray-address needs --executor ray")
    if args.executor == "ray":
        from molgym.distributed import import_ray

        try:
            import_ray()
        except RuntimeError as err:
            raise CommandError(str(err)) from None
    comparison = Comparison(
        args.task,
        agents,
        args.budget,
        args.seeds,
        device=args.device,
        propose=args.propose,
        training_set=args.training_set,
        configs=configs,
        time_limit=args.time_limit,
    )
    how = dict(
        workers=args.workers,
        executor=args.executor,
        ray_address=args.ray_address,
        command="molgym " + shlex.join(args.argv),
    )
    if args.suite or args.tasks:
        return _compare_suite(args, comparison, how)
    comparison = dataclasses.replace(comparison, task_params=task_params(args))
    make_checked_task(comparison.task, comparison.task_params)
    _check_training_set(args.training_set)
    specs = comparison.runs(args.out)
    with checking():
        check_runs(specs)
    output_dir(args.out)
    try:
        results = compare(comparison, args.out, **how)
    except KeyboardInterrupt:
        stop_listening_to_ctrl_c()
        return _interrupted(Path(args.out), [spec.directory for spec in specs])
    return _reported(Path(args.out), results)


def _compare_suite(args: argparse.Namespace, comparison, how: dict) -> int:
    """``compare --suite pmo [--tasks a,b]``: every (task, agent, seed), and the suite's report."""
    from molgym.compare import SettingsMismatch
    from molgym.compare.suite import SUITES, compare_suite

    suite = SUITES[args.suite or "pmo"]()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else list(suite)
    unknown = [t for t in tasks if t not in suite]
    if unknown or not tasks:
        raise CommandError(
            f"--tasks: {', '.join(unknown) or 'none given'} not in the {args.suite or 'pmo'} suite ({', '.join(suite)})"
        )
    _check_training_set(args.training_set)
    out = output_dir(args.out)
    try:
        by_task = compare_suite(tasks, comparison, out, **how)
    except KeyboardInterrupt:
        stop_listening_to_ctrl_c()
        runs = [
            spec.directory for task in tasks for spec in dataclasses.replace(comparison, task=task).runs(out / task)
        ]
        return _interrupted(out, runs)
    except SettingsMismatch as err:
        raise CommandError(str(err)) from None
    return _reported(out, [r for results in by_task.values() for r in results])


def _check_training_set(path: str) -> None:
    from molgym.data import load_smiles

    with checking():
        if not load_smiles(path, limit=10):
            raise ValueError(f"--training-set {path}: no molecule in it")


def _interrupted(out: Path, runs: list[Path]) -> int:
    """Ctrl-C during a comparison whose runs are the directories ``runs``: what is kept, and how to go on."""
    from molgym.compare import read_result

    finished = sum((read_result(run / "result.json") or {}).get("status") == "ok" for run in runs)
    print(
        f"molgym compare: interrupted; {finished} of {len(runs)} runs finished and are kept in {out}; "
        "the same command resumes",
        file=sys.stderr,
    )
    return INTERRUPTED


def _reported(out: Path, results: list[dict]) -> int:
    """Print a finished comparison's report; the exit status says whether any run failed."""
    print((out / "results.md").read_text())
    failed = [r for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} runs finished; report in {out}")
    if failed:
        print(
            f"molgym compare: {len(failed)} of {len(results)} runs failed (errors in {out}/results.md)", file=sys.stderr
        )
        return FAILED
    return 0


def add_commands(command, agents: str) -> None:
    """The parsers of these commands (``command(name, help, handler)`` makes one)."""
    comp = command("compare", "agents under equal oracle budgets: tables, curves, molecule pictures", _compare)
    comp.add_argument("--agents", default="random,gcpn", help=f"comma-separated: {agents}, or module:Class")
    comp.add_argument("--budget", type=positive, default=10000, help="oracle calls per run")
    comp.add_argument("--seeds", type=positive, default=3, help="runs per agent, seeds 0 .. SEEDS-1")
    comp.add_argument(
        "--workers",
        type=positive,
        default=None,
        help="runs at a time, each in its own process (default: one per core; 1: in this process)",
    )
    comp.add_argument(
        "--executor",
        choices=["process", "ray"],
        default="process",
        help="process: this machine's processes (--workers); ray: each run a Ray task with one CPU "
        "(and a GPU with --device cuda), retried if its worker dies (pip install 'molgym[ray]')",
    )
    comp.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="with --executor ray: an existing cluster (e.g. ray://head:10001 or auto); default: "
        "start a local Ray instance",
    )
    comp.add_argument(
        "--propose",
        type=non_negative,
        default=100,
        help="molecules proposed after training, unscored, for validity, uniqueness and novelty "
        "(proposed.csv of each run)",
    )
    comp.add_argument("--training-set", default="nci", help="reference set for novelty: nci, moses or a SMILES file")
    comp.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="agent settings: key=value for every agent, agent.key=value for one (values read as JSON)",
    )
    comp.add_argument("--out", default="runs/compare", help="output directory; a repeated command resumes in it")
    comp.add_argument(
        "--time-limit",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="wall-time limit per run; a run that passes it ends with that reason (AUC padded)",
    )
    comp.add_argument(
        "--suite",
        choices=["pmo"],
        default=None,
        help="run a task suite (pmo: the 23 tasks of PMO) instead of --task, beside the published figures",
    )
    comp.add_argument("--tasks", default=None, help="with --suite: comma-separated subset of its tasks")
    add_task_arguments(comp)
