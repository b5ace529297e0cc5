"""``molgym train``: one agent trained under an oracle budget; the same command (or ``--resume``)
continues its run exactly."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from molgym.cli.common import (
    INTERRUPTED,
    CommandError,
    add_task_arguments,
    add_threads,
    agent_named,
    checked_config,
    checking,
    given,
    make_checked_task,
    output_dir,
    parse_config,
    positive,
    saved_run,
    stop_listening_to_ctrl_c,
    task_params,
)
from molgym.storage import write_json


def _train(args: argparse.Namespace) -> int:
    """``molgym train``: a new run, or the run already in ``--out`` continued. The same command
    run again continues its run (from its last checkpoint, or from the start when it has none:
    nothing is lost either way); ``--resume`` continues it without restating its settings."""
    from molgym.agent import UpdatingAgent
    from molgym.chem import shorten
    from molgym.storage import read_json
    from molgym.training import latest_checkpoint, load_checkpoint

    out = Path(args.out)
    cls = agent_named(args.agent)
    updating = issubclass(cls, UpdatingAgent)
    if args.steps is not None and not updating:
        raise CommandError(f"agent {args.agent!r} does not train in updates: --steps needs one that does")
    saved = saved_run(out) if args.resume or (out / "task.json").exists() else None
    if args.resume:
        _check_resume(args, saved)
        run = saved
    else:
        run = _new_run(args, cls)
        if saved is not None:
            differ = [
                f"{key} {shorten(saved.get(key), 100)} (asked {shorten(value, 100)})"
                for key, value in run.items()
                if saved.get(key) != value
            ]
            if differ:
                raise CommandError(
                    f"{out} holds a run with {'; '.join(differ)}: the command that made it continues it "
                    "(so does --resume); choose another --out for other settings"
                )
    task = make_checked_task(run["task"], run["params"])
    output_dir(args.out)
    if saved is not None and not updating and (out / "metrics.json").is_file():
        with checking():
            metrics = read_json(out / "metrics.json", "run metrics")
        print(f"{out} holds this run, finished: {_summary_line(run['agent'], task.name, out, metrics)}")
        return 0
    resume = f"molgym train {shlex.quote(args.agent)} --out {shlex.quote(str(out))} --resume" + (
        f" --steps {args.steps}" if args.steps is not None else ""
    )
    try:
        if saved is not None and updating and latest_checkpoint(out) is not None:
            with checking():
                agent, oracle_state, loop = load_checkpoint(out, cls, task, device=args.device)
            oracle = task.oracle(oracle_state["budget"])
            oracle.load_state_dict(oracle_state)
            print(
                f"continuing {args.agent} on {task.name} in {out} from update {agent.updates}, step {agent.steps}, "
                f"{oracle.calls} oracle calls"
            )
        else:
            if saved is not None:
                print(f"{out} holds no checkpoint of its run yet: starting it over")
            with checking():
                agent = cls(task, seed=run["seed"], device=args.device, **run["config"])
            oracle, loop = task.oracle(run["budget"]), None
            write_json(out / "task.json", run)
        return _train_agent(agent, oracle, out, args, loop, resume)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the training loop started
        stop_listening_to_ctrl_c()
        checkpoint = latest_checkpoint(out) if updating else None
        if checkpoint is None:
            print(
                "molgym train: stopped at once, before any checkpoint: nothing to continue from; the same command "
                "starts the run over",
                file=sys.stderr,
            )
        else:
            print(
                f"molgym train: stopped at once; the last checkpoint is in {checkpoint}; continue with: {resume} "
                "(or the same command)",
                file=sys.stderr,
            )
        return INTERRUPTED


def _train_agent(agent, oracle, out: Path, args: argparse.Namespace, loop: dict | None, resume: str) -> int:
    """Train until the run ends; write the agent, ``oracle_log.csv`` and, last, ``metrics.json``
    (a run directory holding it is finished)."""
    from molgym.agent import UpdatingAgent
    from molgym.metrics import run_metrics
    from molgym.training import new_share_summary, run_training

    if isinstance(agent, UpdatingAgent):
        loop = run_training(agent, oracle, out, steps=args.steps, checkpoint_every=args.checkpoint_every, loop=loop)
        if loop["interrupted"]:
            stop_listening_to_ctrl_c()
            print(
                f"molgym train: interrupted after update {agent.updates} ({oracle.calls} oracle calls); checkpoint "
                f"saved; continue with: {resume} (or the same command)",
                file=sys.stderr,
            )
            return INTERRUPTED
    else:
        try:
            agent.train(oracle)
        except KeyboardInterrupt:
            stop_listening_to_ctrl_c()
            oracle.write_log(out / "oracle_log.csv")
            print(
                f"molgym train: interrupted after {oracle.calls} oracle calls (log in {out / 'oracle_log.csv'}); "
                f"{agent.name} does not train in updates, so the same command starts the run over",
                file=sys.stderr,
            )
            return INTERRUPTED
    agent.save(out)
    oracle.write_log(out / "oracle_log.csv")
    metrics = run_metrics(oracle.log, oracle.budget) | new_share_summary(out / "log.csv")
    metrics["stop_reason"] = agent.stop_reason
    write_json(out / "metrics.json", metrics)
    print(_summary_line(args.agent, agent.task.name, out, metrics))
    return 0


def _summary_line(agent: str, task: str, out: Path, metrics: dict) -> str:
    """The line that ends ``molgym train``: the run's metrics (``metrics.json``) and why it stopped."""
    return (
        f"{agent} on {task}: {metrics['calls']} oracle calls, top-1 {metrics['top1']:.3f}, "
        f"top-10 {metrics['top10']:.3f}, AUC top-10 {metrics['auc_top10']:.3f}; stopped: "
        f"{metrics.get('stop_reason') or 'the agent returned'}; saved to {out}"
    )


def _new_run(args: argparse.Namespace, cls) -> dict:
    """What ``task.json`` records of a run the arguments ask for (as JSON values)."""
    from molgym import __version__

    args.task = args.task or "qed"
    params = task_params(args)
    config = checked_config(cls, parse_config(args.config))
    if args.init is not None:
        config["init"] = args.init
    return json.loads(
        json.dumps(
            {
                "task": args.task,
                "params": params,
                "agent": args.agent,
                "config": config,
                "seed": args.seed,
                "budget": args.budget,
                "molgym": __version__,
            }
        )
    )


def _check_resume(args: argparse.Namespace, run: dict) -> None:
    """``--resume`` continues the saved run: arguments given anew must agree with it."""
    from molgym.chem import shorten

    if args.init is not None:
        raise CommandError("--init has no effect with --resume: the run continues from its checkpoint")
    if run.get("agent", args.agent) != args.agent:
        raise CommandError(f"{args.out} holds a run of agent {run['agent']!r}, not {args.agent!r}")
    asked = {}
    if given(args, "--task"):
        asked["task"] = args.task
    if given(args, "--budget"):
        asked["budget"] = args.budget
    if given(args, "--seed"):
        asked["seed"] = args.seed
    if given(args, "--start", "--threshold", "--reward"):
        args.task = args.task or run["task"]
        asked["params"] = json.loads(json.dumps(task_params(args)))
    if given(args, "--config"):
        config = parse_config(args.config)
        asked["config"] = {**run.get("config", {}), **config}
    differ = [
        f"{key} {shorten(run.get(key), 100)} (asked {shorten(value, 100)})"
        for key, value in asked.items()
        if run.get(key) != value
    ]
    if differ:
        raise CommandError(
            f"{args.out} holds a run with {'; '.join(differ)}: --resume continues that run as it "
            "was; choose another --out for other settings"
        )


def add_commands(command, agents: str) -> None:
    """The parsers of these commands (``command(name, help, handler)`` makes one)."""
    train = command("train", "train one agent under an oracle budget and save it", _train)
    train.add_argument("agent", help=f"{agents}, or module:Class")
    train.add_argument("--budget", type=positive, default=10000, help="oracle calls")
    train.add_argument("--seed", type=int, default=0, help="seed of the agent (its weights, sampling, envs)")
    train.add_argument("--out", default="runs/train", help="run directory")
    train.add_argument(
        "--steps",
        type=positive,
        default=None,
        help="stop after this many env steps (agents that train in updates; default: the budget decides)",
    )
    train.add_argument(
        "--init", default=None, help="checkpoint to start from (gcpn: a pretrained .pt; default: shipped)"
    )
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--checkpoint-every",
        type=positive,
        default=10,
        help="updates between checkpoints (one is also written at the end and on Ctrl-C)",
    )
    train.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="agent settings, e.g. num_envs=64 adversarial=both (values read as JSON when they parse)",
    )
    add_task_arguments(train, default=None)
    add_threads(train)
