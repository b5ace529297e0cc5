"""The ``molgym`` command.

Every command checks its arguments before any work; bad input is one line on stderr and exit
status 2, a failure during the work one line and status 1 (``--debug`` shows the traceback), and
Ctrl-C one line and status 130. Files are written whole, only once their content is known.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from molgym.storage import write_csv, write_json

__all__ = ["main", "CommandError"]

#: Exit statuses.
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


class CommandError(Exception):
    """Bad input to a command: reported as one line, exit status 2."""


def _stop_listening_to_ctrl_c() -> None:
    """The command is ending on a Ctrl-C: another one (users press it twice) must not cut short the
    line that says what was kept, nor the exit status."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _checking():
    """Errors raised while arguments are checked are bad input."""
    try:
        yield
    except CommandError:
        raise
    except (ValueError, TypeError, KeyError, OSError) as err:
        raise CommandError(str(err) if not isinstance(err, KeyError) else f"missing {err}") from None


def _given(args: argparse.Namespace, *flags: str) -> bool:
    """Whether one of ``flags`` was written on the command line (not left to its default)."""
    return any(a in flags or a.split("=", 1)[0] in flags for a in args.argv)


def _output_dir(path: str) -> Path:
    """``--out`` as a directory, checked (and made) before any work."""
    from molgym.storage import check_output_dir

    with _checking():
        return check_output_dir(path)


def _output_file(path: str, overwrite: bool) -> Path:
    """``--out`` as a file, checked before any work (an existing one only with ``--overwrite``)."""
    from molgym.storage import check_output_file

    with _checking():
        return check_output_file(path, overwrite=overwrite)


# Shared argument readers --------------------------------------------------------------------------
def _start_molecules(spec: str | None) -> list[str] | None:
    """``--start``: an existing file, a dataset name, or one SMILES; anything else is bad input."""
    if spec is None:
        return None
    from molgym.chem import parse_smiles, shorten
    from molgym.data import load_smiles

    try:
        is_file = Path(spec).exists()
    except OSError:  # a name too long for the file system: a long SMILES
        is_file = False
    if is_file or spec.lower() in ("nci", "zinc250k", "moses"):
        with _checking():
            smiles = load_smiles(spec)
        if not smiles:
            raise CommandError(f"--start {spec}: no molecule in it")
        return smiles
    try:
        parse_smiles(spec)
    except ValueError as err:
        why = str(err).replace(f"invalid SMILES {shorten(spec)}: ", "")  # the SMILES is quoted once
        raise CommandError(
            f"--start {shorten(spec)} is neither an existing file, a dataset name (nci, zinc250k, "
            f"moses) nor a valid SMILES ({why})"
        ) from None
    return [spec]


def _task_params(args: argparse.Namespace) -> dict:
    """The task's parameters from ``--task``, ``--start``, ``--threshold``, ``--reward``."""
    params: dict = {}
    if args.task == "constrained":
        params.update(start_smiles=_start_molecules(args.start), threshold=args.threshold)
    elif args.start is not None:
        raise CommandError(f"--start is for the constrained task, not {args.task!r}")
    if args.task == "custom":
        if args.reward is None:
            raise CommandError("the custom task needs --reward module:function (a function of an RDKit molecule)")
        params["reward"] = args.reward
    elif args.reward is not None:
        raise CommandError(f"--reward is for the custom task, not {args.task!r}")
    return params


def _make_task(name: str, params: dict):
    """The task, with its env built once so that bad start molecules are found now."""
    from molgym.tasks import make_task

    with _checking():
        task = make_task(name, **params)
        task.make_env(reward=[]).close()
    return task


def parse_config(pairs: list[str]) -> dict:
    """``--config`` pairs as a dict (:func:`molgym.agent.parse_settings`)."""
    from molgym.agent import parse_settings

    try:
        return parse_settings(pairs)
    except ValueError as err:
        raise CommandError(f"--config: {err}") from None


def _agent(name: str):
    from molgym.agent import agent_class

    with _checking():
        return agent_class(name)


def _checked_config(cls, config: dict) -> dict:
    from molgym.agent import check_settings

    with _checking():
        check_settings(cls, config)
    return config


# Commands -----------------------------------------------------------------------------------------
def _envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import molgym

    rows = []
    for env_id in molgym.ENV_IDS:
        kwargs = {"start_smiles": "C"} if env_id == "MolOpt-v0" else {}
        env = gym.make(env_id, **kwargs).unwrapped
        rows.append((env_id, str(env.layout.size), repr(env.reward)))
    width = max(len(r[0]) for r in rows)
    print(f"{'id':{width}s} {'actions':>8s}  final reward")
    for env_id, actions, reward in rows:
        print(f"{env_id:{width}s} {actions:>8s}  {reward}")
    return 0


def _rollout(args: argparse.Namespace) -> int:
    """``molgym rollout``: ``--episodes`` episodes of uniformly random legal actions, as one batch
    (:func:`molgym.rollout.rollout`; episode ``i``'s env seeded with ``--seed`` + ``i``)."""
    import numpy as np

    import molgym
    from molgym.envs.vector import MolEditVectorEnv
    from molgym.pictures import molecule_grid
    from molgym.rollout import rollout

    kwargs = {"max_atoms": args.max_atoms}
    start = _start_molecules(args.start)
    if start is not None:
        kwargs["start_smiles"] = start
    with _checking():
        env = MolEditVectorEnv(molgym.ENV_IDS[args.env], num_envs=args.episodes, **kwargs)
    out = _output_dir(args.out)
    rng = np.random.default_rng(args.seed)
    began = time.perf_counter()
    episodes = rollout(env, lambda obs, rows: env.layout.sample(env.mask[rows], rng), seed=args.seed)
    elapsed = time.perf_counter() - began
    names = sorted({k for terms in episodes.terms for k in terms})
    label = "+".join(env.reward.names) or "score"
    ranked = sorted(range(args.episodes), key=lambda i: episodes.scores[i], reverse=True)
    top = ranked[: args.top]
    molecule_grid(
        [episodes.smiles[i] for i in top],
        [f"{label} {episodes.scores[i]:.3f}" for i in top],
        f"random agent on {args.env}: best {len(top)} of {args.episodes} episodes by {label}",
        out / "top.png",
    )
    write_csv(
        out / "molecules.csv",
        ["episode", "smiles", "score", "return", "steps", "truncated", *names],
        [
            [
                i,
                episodes.smiles[i],
                episodes.scores[i],
                episodes.returns[i],
                episodes.steps[i],
                episodes.truncated[i],
                *[episodes.terms[i].get(n, "") for n in names],
            ]
            for i in range(args.episodes)
        ],
    )
    unique = len(set(episodes.smiles))
    steps = int(episodes.steps.sum())
    print(f"{args.episodes} episodes of {args.env} in {elapsed:.1f} s ({steps / elapsed:.0f} steps/s)")
    print(
        f"{label}: mean {episodes.scores.mean():.3f}, best {episodes.scores[ranked[0]]:.3f}; "
        f"unique molecules {unique}/{args.episodes}"
    )
    print("best molecules:")
    for i in top[:5]:
        print(f"  {episodes.scores[i]:7.3f}  {episodes.smiles[i]}")
    print(f"wrote {out / 'molecules.csv'} and {out / 'top.png'}")
    return 0


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
        _checked_config(_agent(agent), config)
    return configs


def _compare(args: argparse.Namespace) -> int:
    from molgym.compare import Comparison, check_runs, compare

    agents = tuple(dict.fromkeys(a.strip() for a in args.agents.split(",") if a.strip()))
    if not agents:
        raise CommandError("--agents names no agent")
    for name in agents:
        _agent(name)
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
    comparison = dataclasses.replace(comparison, task_params=_task_params(args))
    _make_task(comparison.task, comparison.task_params)
    _check_training_set(args.training_set)
    specs = comparison.runs(args.out)
    with _checking():
        check_runs(specs)
    _output_dir(args.out)
    try:
        results = compare(comparison, args.out, **how)
    except KeyboardInterrupt:
        _stop_listening_to_ctrl_c()
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
    out = _output_dir(args.out)
    try:
        by_task = compare_suite(tasks, comparison, out, **how)
    except KeyboardInterrupt:
        _stop_listening_to_ctrl_c()
        runs = [
            spec.directory for task in tasks for spec in dataclasses.replace(comparison, task=task).runs(out / task)
        ]
        return _interrupted(out, runs)
    except SettingsMismatch as err:
        raise CommandError(str(err)) from None
    return _reported(out, [r for results in by_task.values() for r in results])


def _check_training_set(path: str) -> None:
    from molgym.data import load_smiles

    with _checking():
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


def _train(args: argparse.Namespace) -> int:
    """``molgym train``: a new run, or the run already in ``--out`` continued. The same command
    run again continues its run (from its last checkpoint, or from the start when it has none:
    nothing is lost either way); ``--resume`` continues it without restating its settings."""
    from molgym.agent import UpdatingAgent
    from molgym.chem import shorten
    from molgym.storage import read_json
    from molgym.training import latest_checkpoint, load_checkpoint

    out = Path(args.out)
    cls = _agent(args.agent)
    updating = issubclass(cls, UpdatingAgent)
    if args.steps is not None and not updating:
        raise CommandError(f"agent {args.agent!r} does not train in updates: --steps needs one that does")
    saved = _saved_run(out) if args.resume or (out / "task.json").exists() else None
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
    task = _make_task(run["task"], run["params"])
    _output_dir(args.out)
    if saved is not None and not updating and (out / "metrics.json").is_file():
        with _checking():
            metrics = read_json(out / "metrics.json", "run metrics")
        print(f"{out} holds this run, finished: {_summary_line(run['agent'], task.name, out, metrics)}")
        return 0
    resume = f"molgym train {shlex.quote(args.agent)} --out {shlex.quote(str(out))} --resume" + (
        f" --steps {args.steps}" if args.steps is not None else ""
    )
    try:
        if saved is not None and updating and latest_checkpoint(out) is not None:
            with _checking():
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
            with _checking():
                agent = cls(task, seed=run["seed"], device=args.device, **run["config"])
            oracle, loop = task.oracle(run["budget"]), None
            write_json(out / "task.json", run)
        return _train_agent(agent, oracle, out, args, loop, resume)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the training loop started
        _stop_listening_to_ctrl_c()
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
    from molgym.training import run_training

    if isinstance(agent, UpdatingAgent):
        loop = run_training(agent, oracle, out, steps=args.steps, checkpoint_every=args.checkpoint_every, loop=loop)
        if loop["interrupted"]:
            _stop_listening_to_ctrl_c()
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
            _stop_listening_to_ctrl_c()
            oracle.write_log(out / "oracle_log.csv")
            print(
                f"molgym train: interrupted after {oracle.calls} oracle calls (log in {out / 'oracle_log.csv'}); "
                f"{agent.name} does not train in updates, so the same command starts the run over",
                file=sys.stderr,
            )
            return INTERRUPTED
    agent.save(out)
    oracle.write_log(out / "oracle_log.csv")
    metrics = run_metrics(oracle.log, oracle.budget)
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
    params = _task_params(args)
    config = _checked_config(cls, parse_config(args.config))
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


def _saved_run(out: Path) -> dict:
    from molgym.storage import read_json

    path = out / "task.json"
    if not path.is_file():
        raise CommandError(f"nothing to resume: {path} does not exist")
    with _checking():
        run = read_json(path, "run file")
        if not isinstance(run, dict) or not {"task", "params", "agent", "config", "seed", "budget"} <= set(run):
            raise ValueError(f"run file {path} is damaged: it lacks the task, agent or budget")
    return run


def _check_resume(args: argparse.Namespace, run: dict) -> None:
    """``--resume`` continues the saved run: arguments given anew must agree with it."""
    from molgym.chem import shorten

    if args.init is not None:
        raise CommandError("--init has no effect with --resume: the run continues from its checkpoint")
    if run.get("agent", args.agent) != args.agent:
        raise CommandError(f"{args.out} holds a run of agent {run['agent']!r}, not {args.agent!r}")
    asked = {}
    if _given(args, "--task"):
        asked["task"] = args.task
    if _given(args, "--budget"):
        asked["budget"] = args.budget
    if _given(args, "--seed"):
        asked["seed"] = args.seed
    if _given(args, "--start", "--threshold", "--reward"):
        args.task = args.task or run["task"]
        asked["params"] = json.loads(json.dumps(_task_params(args)))
    if _given(args, "--config"):
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


def _sample(args: argparse.Namespace) -> int:
    from rdkit import Chem, rdBase
    from tqdm.auto import tqdm

    from molgym.chem import parse_state
    from molgym.rewards import Context

    out = _output_file(args.out, args.overwrite)
    agent, task, what = _agent_to_sample(args)
    starts = _start_molecules(args.start) if args.start is not None else task.start_smiles
    if args.start is not None and not task.start_smiles:
        raise CommandError(f"--start is for tasks with start molecules (constrained); {what} is on {task.name!r}")
    graphs = {}  # start SMILES -> its state, which the objective compares with
    if starts:
        env = task.make_env(reward=[]).unwrapped
        with _checking():
            graphs = {s: parse_state(s, env.vocab, env.max_atoms)[0] for s in starts}
    n = args.n if args.n is not None else (1 if starts else 1000)
    rows: list[tuple[str | None, str]] = []
    print(f"sampling from {what}")
    if starts:
        with tqdm(total=len(starts), desc=f"{n} per start molecule", unit="start") as bar:
            for first in range(0, len(starts), 32):
                chunk = starts[first : first + 32]
                rows.extend((s, m) for s, made in zip(chunk, agent.propose_from_each(chunk, n)) for m in made)
                bar.update(len(chunk))
    else:
        with tqdm(total=n, desc="sampling", unit="mol") as bar:
            while len(rows) < n:
                chunk = agent.propose(min(100, n - len(rows)))
                rows.extend((None, m) for m in chunk)
                bar.update(len(chunk))
    table = []
    with rdBase.BlockLogs():
        for start, smiles in rows:
            mol = Chem.MolFromSmiles(smiles) if smiles.strip() else None  # invalid ones are kept, unscored
            score = task.objective(Context.of_mol(mol, start=graphs.get(start))) if mol is not None else ""
            table.append(([start] if starts else []) + [smiles, score])
    write_csv(out, (["start"] if starts else []) + ["smiles", task.name], table)
    invalid = sum(row[-1] == "" for row in table)
    print(f"wrote {len(rows)} molecules from {what} to {out}" + (f" ({invalid} invalid, unscored)" if invalid else ""))
    return 0


def _agent_to_sample(args: argparse.Namespace):
    """The agent in ``--checkpoint`` (a train directory, its checkpoint, or a pretrained ``.pt``),
    its task and a description."""
    from molgym.agent import read_checkpoint, registered_agents
    from molgym.storage import read_json
    from molgym.training import latest_checkpoint

    path = Path(args.checkpoint)
    if not path.exists():
        raise CommandError(f"--checkpoint {path} does not exist")
    if (path / "task.json").is_file():
        run = _saved_run(path)
        if _given(args, "--task") and args.task != run["task"]:
            raise CommandError(
                f"{path} was trained on {run['task']!r}: --task {args.task} applies to .pt checkpoints only"
            )
        directory = path if (path / "metrics.json").is_file() else latest_checkpoint(path)
        if directory is None:
            raise CommandError(f"{path} holds an unfinished run with no checkpoint yet: nothing to sample from")
        task = _make_task(run["task"], run["params"])
        with _checking():
            meta = read_json(directory / "agent.json", "agent file")
            name = meta["agent"] if meta["agent"] in registered_agents() else meta["class"]
            agent = _agent(name).load(directory, task, device=args.device)
        where = "" if directory == path else f" (unfinished run: its last checkpoint, update {agent.updates})"
        return agent, task, f"{meta['agent']} trained on {task.name} in {path}{where}"
    if path.is_file():
        with _checking():
            state = read_checkpoint(path, "pretrained", "cpu")
        if "agent" in state:  # molgym pretrain writes the agent's name
            args.task = args.task or "qed"
            task = _make_task(args.task, _task_params(args))
            with _checking():
                agent = _agent(state["agent"]).from_pretrained(state, path, task, seed=args.seed, device=args.device)
            return agent, task, f"{state['agent']} pretrained weights {path}, on {task.name}"
    raise CommandError(
        f"{path} is neither a molgym train directory (agent.json and task.json), nor a .pt written by "
        "molgym pretrain, nor a shipped checkpoint (agents/gcpn/checkpoints/gcpn_moses.pt, "
        "agents/reinvent/checkpoints/reinvent_moses.pt)"
    )


def _pretrain(args: argparse.Namespace) -> int:
    from molgym.agent import Agent
    from molgym.data import load_smiles

    cls = _agent(args.agent)
    if cls.pretrain.__func__ is Agent.pretrain.__func__:
        raise CommandError(f"agent {args.agent!r} has no pretraining step")
    out = _output_file(args.out or f"runs/{args.agent}_pretrained.pt", args.overwrite)
    with _checking():
        smiles = load_smiles(args.data, limit=args.molecules)
    command = "molgym " + shlex.join(args.argv)
    with _checking():
        print(
            cls.pretrain(
                smiles,
                out,
                command,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                hidden=args.hidden,
                layers=args.layers,
                rank=args.rank,
                max_atoms=args.max_atoms,
                seed=args.seed,
                device=args.device,
            )
        )
    return 0


# The parser -----------------------------------------------------------------------------------------
def _number(kind, least):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        if value < least or (kind is float and value == least == 0):
            raise argparse.ArgumentTypeError(f"must be {'above' if kind is float else 'at least'} {least}, got {text}")
        return value

    return parse


positive, non_negative, positive_float = _number(int, 1), _number(int, 0), _number(float, 0)


def _device(text: str) -> str:
    """``--device``: cpu, or an accelerator that torch finds on this machine."""
    if text == "cpu":
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise argparse.ArgumentTypeError(
                f"{text}: CUDA is not available on this machine ({why}; torch {torch.__version__})"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError(f"{text}: Apple's MPS is not available on this machine")
    else:
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    return text


def _add_threads(parser: argparse.ArgumentParser) -> None:
    import os

    parser.add_argument(
        "--threads",
        type=positive,
        default=None,
        help=f"CPU threads for torch (default: one per core, {os.cpu_count()} here; give each job its "
        "share when several run at once)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, with an error as one line (and where the usage is) instead of the whole usage first."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _add_task_arguments(parser: argparse.ArgumentParser, default: str | None = "qed") -> None:
    from molgym.tasks import TASKS

    parser.add_argument(
        "--task",
        choices=TASKS,
        default=default,
        help="what the oracle scores" + ("" if default else " (default: qed; with --resume, the run's)"),
    )
    parser.add_argument(
        "--start",
        help="constrained task: start molecules, a SMILES file (.smi/.txt/.csv[.gz]), "
        "nci, zinc250k, moses, or one SMILES",
    )
    parser.add_argument("--threshold", type=float, default=0.4, help="constrained task: similarity threshold")
    parser.add_argument("--reward", help="custom task: the objective, module:function of an RDKit molecule")
    parser.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N")


def build_parser() -> argparse.ArgumentParser:
    import molgym
    from molgym.agent import registered_agents

    agents = ", ".join(registered_agents())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = _Parser(
        prog="molgym",
        description="Molecular graph editing environments and agents.",
        formatter_class=_Formatter,
        parents=[common],
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"molgym {molgym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help, description=help, formatter_class=_Formatter, parents=[common], allow_abbrev=False
        )
        p.set_defaults(func=func)
        return p

    parser.commands = sub.choices  # name -> its parser
    command("envs", "list the registered environments", _envs)

    roll = command("rollout", "run the random agent on an environment; write molecules and a picture", _rollout)
    roll.add_argument("--env", default="MolEdit-v0", choices=list(molgym.ENV_IDS), help="registered id")
    roll.add_argument("--episodes", type=positive, default=100, help="episodes to play")
    roll.add_argument("--seed", type=int, default=0, help="seed of the first episode (then SEED+1, ...)")
    roll.add_argument("--max-atoms", type=positive, default=38, help="largest molecule (atoms)")
    roll.add_argument("--start", help="start SMILES, a SMILES file, or nci / zinc250k / moses")
    roll.add_argument("--top", type=positive, default=12, help="molecules in the picture")
    roll.add_argument("--out", default="runs/rollout", help="directory for molecules.csv and top.png")
    _add_threads(roll)

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
    _add_task_arguments(comp)

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
    _add_task_arguments(train, default=None)
    _add_threads(train)

    pre = command(
        "pretrain",
        "pretraining on real molecules: gcpn's expert (behaviour cloning), reinvent's prior "
        "(maximum likelihood on SMILES)",
        _pretrain,
    )
    pre.add_argument(
        "agent", help="the agent pretrained: one with a pretraining step (gcpn, reinvent), or module:Class"
    )
    pre.add_argument(
        "--data", default="nci", help="nci, moses (../shared/data or $MOLGYM_MOSES), zinc250k or a SMILES file"
    )
    pre.add_argument("--molecules", type=positive, default=5000, help="at most this many molecules")
    pre.add_argument("--max-atoms", type=positive, default=38, help="molecules with more atoms are skipped")
    pre.add_argument("--epochs", type=positive, default=3, help="passes over the molecules")
    pre.add_argument("--batch-size", type=positive, default=None, help="default: the agent's (gcpn 256, reinvent 128)")
    pre.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate")
    pre.add_argument("--hidden", type=positive, default=None, help="default: the agent's (gcpn 128, reinvent 256)")
    pre.add_argument(
        "--layers", type=positive, default=3, help="network layers (gcpn: graph convolutions; reinvent: GRU layers)"
    )
    pre.add_argument("--rank", type=positive, default=32, help="gcpn: width of its bilinear second-atom scores")
    pre.add_argument("--seed", type=int, default=0, help="seed of the weights and of the order of the molecules")
    pre.add_argument("--device", type=_device, default="cpu", help="cpu, cuda or cuda:N")
    pre.add_argument("--out", default=None, help="the weights file (default: runs/AGENT_pretrained.pt)")
    pre.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_threads(pre)

    sample = command("sample", "molecules from a trained or pretrained agent, scored by its task", _sample)
    sample.add_argument(
        "--checkpoint",
        required=True,
        help="a molgym train directory, a .pt of molgym pretrain, or agents/gcpn/checkpoints/gcpn_moses.pt",
    )
    sample.add_argument(
        "-n",
        type=positive,
        default=None,
        help="molecules (default 1000); for tasks with start molecules, per start molecule (default 1)",
    )
    sample.add_argument("--seed", type=int, default=0, help="seed of a pretrained agent (.pt)")
    sample.add_argument("--out", default="samples.csv", help="CSV: smiles and score (and start, for constrained)")
    sample.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_task_arguments(sample, default=None)
    _add_threads(sample)
    for action in sample._actions:  # the task of a .pt; a train directory has its own
        if action.dest == "task":
            action.help = "the task of a .pt checkpoint (default: qed); a train directory has its own"
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    argv = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # said by the command's own parser, which names the command
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:  # --help, --version, or a one-line usage error (status 2)
        return int(exit.code or 0)
    args.argv = argv  # what was asked, recorded with checkpoints
    if getattr(args, "threads", None) is not None:
        from molgym import set_threads

        set_threads(args.threads)
    if not args.debug:  # warnings as one line each, each once (e.g. stereochemistry dropped from start molecules)
        noted: set[str] = set()

        def note(message, *_, **__) -> None:
            if str(message) not in noted:
                noted.add(str(message))
                print(f"molgym: note: {message}", file=sys.stderr)

        warnings.showwarning = note
    try:
        return args.func(args)
    except CommandError as err:
        print(f"molgym {args.command}: {err}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        _stop_listening_to_ctrl_c()
        print(f"molgym {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as err:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"molgym {args.command}: {type(err).__name__}: {err} (--debug shows the traceback)", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
