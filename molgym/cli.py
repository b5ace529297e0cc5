"""The ``molgym`` command.

Every command checks its arguments before any work; bad input is one line on stderr and exit
status 2, a failure during the work one line and status 1 (``--debug`` shows the traceback), and
Ctrl-C one line and status 130. Files are written whole, only once their content is known.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
import time
from contextlib import contextmanager
from pathlib import Path

__all__ = ["main", "CommandError"]

#: Exit statuses.
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


class CommandError(Exception):
    """Bad input to a command: reported as one line, exit status 2."""


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


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """A CSV written whole: a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


# Shared argument readers --------------------------------------------------------------------------
def _start_molecules(spec: str | None) -> list[str] | None:
    """``--start``: an existing file, a dataset name, or one SMILES; anything else is bad input."""
    if spec is None:
        return None
    from molgym.chem import parse_smiles
    from molgym.data import load_smiles

    if Path(spec).exists() or spec.lower() in ("nci", "zinc250k", "moses"):
        with _checking():
            smiles = load_smiles(spec)
        if not smiles:
            raise CommandError(f"--start {spec}: no molecule in it")
        return smiles
    try:
        parse_smiles(spec)
    except ValueError as err:
        raise CommandError(f"--start {spec!r} is neither an existing file, a dataset name (nci, zinc250k, moses) "
                           f"nor a valid SMILES ({err})") from None
    return [spec]


def _task_params(args: argparse.Namespace) -> dict:
    """The task's parameters from ``--task``, ``--start``, ``--threshold``, ``--reward``."""
    params: dict = {}
    if args.task == "constrained":
        params.update(start_smiles=_start_molecules(args.start), threshold=args.threshold)
    elif args.start is not None:
        raise CommandError(f"--start is for the constrained task, not {args.task!r}")
    if args.task == "custom":
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
    """``--config`` pairs ``key=value`` as a dict, each value read as JSON where it is JSON (else a string)."""
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--config takes key=value, got {pair!r}")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


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

    print(f"{'id':24s} {'final reward':40s} {'actions':>8s}")
    for env_id in molgym.ENV_IDS:
        kwargs = {"start_smiles": "C"} if env_id == "MolOpt-v0" else {}
        env = gym.make(env_id, **kwargs).unwrapped
        print(f"{env_id:24s} {env.reward!r:40.40s} {env.layout.size:8d}")
    return 0


def _rollout(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from tqdm.auto import tqdm

    from molgym.pictures import molecule_grid

    kwargs = {"max_atoms": args.max_atoms}
    start = _start_molecules(args.start)
    if start is not None:
        kwargs["start_smiles"] = start
    with _checking():
        env = gym.make(args.env, **kwargs)
    agent = _agent("random")(seed=args.seed)
    results = []
    began = time.perf_counter()
    with tqdm(range(args.episodes), desc=f"random agent on {args.env}", unit="episode") as bar:
        for episode in bar:
            result = agent.run_episode(env, seed=args.seed + episode)
            results.append(result)
            best = max(r.score for r in results)
            bar.set_postfix(score=f"{result.score:.3f}", best=f"{best:.3f}")
    elapsed = time.perf_counter() - began
    names = sorted({k for r in results for k in r.final_terms})
    label = "+".join(env.unwrapped.reward.names) or "score"
    ranked = sorted(results, key=lambda r: r.score, reverse=True)
    top = ranked[: args.top]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    molecule_grid([r.smiles for r in top], [f"{label} {r.score:.3f}" for r in top],
                  f"random agent on {args.env}: best {len(top)} of {len(results)} episodes by {label}", out / "top.png")
    _write_csv(out / "molecules.csv", ["episode", "smiles", "score", "return", "steps", "truncated", *names],
               [[i, r.smiles, r.score, r.episode_return, r.steps, r.truncated, *[r.final_terms.get(n, "") for n in names]]
                for i, r in enumerate(results)])
    scores = [r.score for r in results]
    unique = len({r.smiles for r in results})
    steps = sum(r.steps for r in results)
    print(f"{args.episodes} episodes of {args.env} in {elapsed:.1f} s ({steps / elapsed:.0f} steps/s)")
    print(f"{label}: mean {sum(scores) / len(scores):.3f}, best {ranked[0].score:.3f}; unique molecules {unique}/{len(results)}")
    print("best molecules:")
    for r in top[:5]:
        print(f"  {r.score:7.3f}  {r.smiles}")
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
    from molgym.compare import check_runs, compare, plan

    agents = list(dict.fromkeys(a.strip() for a in args.agents.split(",") if a.strip()))
    if not agents:
        raise CommandError("--agents names no agent")
    for name in agents:
        _agent(name)
    configs = _compare_configs(args.config, agents)
    if args.ray_address is not None and args.executor != "ray":
        raise CommandError("--ray-address needs --executor ray")
    if args.executor == "ray":
        from molgym.distributed import import_ray

        try:
            import_ray()
        except RuntimeError as err:
            raise CommandError(str(err)) from None
    if args.suite or args.tasks:
        return _compare_suite(args, agents, configs)
    params = _task_params(args)
    _make_task(args.task, params)
    _check_training_set(args.training_set)
    with _checking():
        specs = plan(args.task, agents, args.budget, args.seeds, args.out, args.device, args.propose, params,
                     args.training_set, configs)
        check_runs(specs)
    try:
        results = compare(args.task, agents, args.budget, args.seeds, args.out, workers=args.workers,
                          device=args.device, propose=args.propose, task_params=params,
                          training_set=args.training_set, configs=configs, time_limit=args.time_limit,
                          executor=args.executor, ray_address=args.ray_address,
                          command="molgym " + shlex.join(args.argv))
    except KeyboardInterrupt:
        return _interrupted(Path(args.out), [spec.directory for spec in specs])
    return _reported(Path(args.out), results)


def _compare_suite(args: argparse.Namespace, agents: list[str], configs: dict[str, dict]) -> int:
    """``compare --suite pmo [--tasks a,b]``: every (task, agent, seed), and the suite's report."""
    from molgym.compare import SettingsMismatch, plan
    from molgym.suite import SUITES, compare_suite

    suite = SUITES[args.suite or "pmo"]()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else list(suite)
    unknown = [t for t in tasks if t not in suite]
    if unknown or not tasks:
        raise CommandError(f"--tasks: {', '.join(unknown) or 'none given'} not in the {args.suite or 'pmo'} suite "
                           f"({', '.join(suite)})")
    _check_training_set(args.training_set)
    out = Path(args.out)
    try:
        by_task = compare_suite(tasks, agents, args.budget, args.seeds, out, workers=args.workers, device=args.device,
                                propose=args.propose, training_set=args.training_set, configs=configs,
                                time_limit=args.time_limit, command="molgym " + shlex.join(args.argv),
                                executor=args.executor, ray_address=args.ray_address)
    except KeyboardInterrupt:
        return _interrupted(out, [spec.directory for task in tasks for spec in plan(task, agents, args.budget,
                                                                                     args.seeds, out / task)])
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
    finished = sum((run / "result.json").is_file() and
                   json.loads((run / "result.json").read_text()).get("status") == "ok" for run in runs)
    print(f"molgym compare: interrupted; {finished} of {len(runs)} runs finished and are kept in {out}; "
          "the same command resumes", file=sys.stderr)
    return INTERRUPTED


def _reported(out: Path, results: list[dict]) -> int:
    """Print a finished comparison's report; the exit status says whether any run failed."""
    print((out / "results.md").read_text())
    failed = [r for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} runs finished; report in {out}")
    if failed:
        print(f"molgym compare: {len(failed)} of {len(results)} runs failed (errors in {out}/results.md)",
              file=sys.stderr)
        return FAILED
    return 0


def _train(args: argparse.Namespace) -> int:
    from molgym import __version__
    from molgym.agent import UpdatingAgent
    from molgym.metrics import run_metrics
    from molgym.training import load_checkpoint, run_training

    out = Path(args.out)
    cls = _agent(args.agent)
    if args.resume:
        run = _saved_run(out)
        _check_resume(args, run)
        task = _make_task(run["task"], run["params"])
        with _checking():
            agent, oracle_state, loop = load_checkpoint(out, cls, task, device=args.device)
        oracle = task.oracle(oracle_state["budget"])
        oracle.load_state_dict(oracle_state)
    else:
        if (out / "task.json").is_file():
            raise CommandError(f"{out} already holds a run ({_describe_run(_saved_run(out))}): --resume continues it, "
                               "or choose another --out")
        args.task = args.task or "qed"
        params = _task_params(args)
        task = _make_task(args.task, params)
        config = _checked_config(cls, parse_config(args.config))
        if args.init is not None:
            config["init"] = args.init
        with _checking():
            agent = cls(task, seed=args.seed, device=args.device, **config)
        oracle, loop = task.oracle(args.budget), None
        run = {"task": task.name, "params": params, "agent": args.agent, "config": config, "seed": args.seed,
               "budget": args.budget, "molgym": __version__}
    updating = isinstance(agent, UpdatingAgent)
    if args.steps is not None and not updating:
        raise CommandError(f"agent {args.agent!r} does not train in updates: --steps needs one that does")
    if args.resume and not updating:
        raise CommandError(f"agent {args.agent!r} does not train in updates: it cannot --resume")
    out.mkdir(parents=True, exist_ok=True)
    (out / "task.json").write_text(json.dumps(run))
    resume = f"molgym train {shlex.quote(args.agent)} --out {shlex.quote(str(out))} --resume" + (
        f" --steps {args.steps}" if args.steps is not None else "")
    if updating:
        if args.resume:
            print(f"resuming {args.agent} on {task.name} at update {agent.updates}, step {agent.steps}, "
                  f"{oracle.calls} oracle calls")
        try:
            loop = run_training(agent, oracle, out, steps=args.steps, checkpoint_every=args.checkpoint_every, loop=loop)
        except KeyboardInterrupt:
            print(f"molgym train: stopped at once; the last checkpoint is in {out / 'checkpoint'}; continue with: "
                  f"{resume}", file=sys.stderr)
            return INTERRUPTED
        if loop["interrupted"]:
            print(f"molgym train: interrupted after update {agent.updates} ({oracle.calls} oracle calls); checkpoint "
                  f"saved; continue with: {resume}", file=sys.stderr)
            return INTERRUPTED
    else:
        try:
            agent.train(oracle)
        except KeyboardInterrupt:
            oracle.write_log(out / "oracle_log.csv")
            print(f"molgym train: interrupted after {oracle.calls} oracle calls (log in {out / 'oracle_log.csv'}); "
                  f"{args.agent} does not train in updates, so this run cannot be resumed", file=sys.stderr)
            return INTERRUPTED
    agent.save(out)
    oracle.write_log(out / "oracle_log.csv")
    metrics = run_metrics(oracle.log, oracle.budget)
    (out / "metrics.json").write_text(json.dumps({**metrics, "stop_reason": agent.stop_reason}, indent=2))
    print(f"{args.agent} on {task.name}: {oracle.calls} oracle calls, top-1 {metrics['top1']:.3f}, "
          f"top-10 {metrics['top10']:.3f}, AUC top-10 {metrics['auc_top10']:.3f}; stopped: "
          f"{agent.stop_reason or 'the agent returned'}; saved to {out}")
    return 0


def _saved_run(out: Path) -> dict:
    path = out / "task.json"
    if not path.is_file():
        raise CommandError(f"nothing to resume: {path} does not exist")
    with _checking():
        return json.loads(path.read_text())


def _describe_run(run: dict) -> str:
    return ", ".join(f"{k} {run[k]}" for k in ("agent", "task", "budget", "seed") if k in run)


def _check_resume(args: argparse.Namespace, run: dict) -> None:
    """``--resume`` continues the saved run: arguments given anew must agree with it."""
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
    differ = [f"{key} {run.get(key)!r} (asked {value!r})" for key, value in asked.items() if run.get(key) != value]
    if differ:
        raise CommandError(f"{args.out} holds a run with {'; '.join(differ)}: --resume continues that run as it "
                           "was; choose another --out for other settings")


def _sample(args: argparse.Namespace) -> int:
    from rdkit import Chem, rdBase
    from tqdm.auto import tqdm

    from molgym.chem import parse_state
    from molgym.rewards import Context

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
                chunk = starts[first:first + 32]
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
            mol = Chem.MolFromSmiles(smiles)
            score = task.objective(Context.of_mol(mol, start=graphs.get(start))) if mol is not None else ""
            table.append(([start] if starts else []) + [smiles, score])
    _write_csv(Path(args.out), (["start"] if starts else []) + ["smiles", task.name], table)
    print(f"wrote {len(rows)} molecules from {what} to {args.out}")
    return 0


def _agent_to_sample(args: argparse.Namespace):
    """The agent in ``--checkpoint`` (a train directory, its checkpoint, or a pretrained ``.pt``),
    its task and a description."""
    from molgym.agent import read_checkpoint, registered_agents

    path = Path(args.checkpoint)
    for directory in (path, path / "checkpoint"):
        if (directory / "agent.json").is_file() and (path / "task.json").is_file():
            run = json.loads((path / "task.json").read_text())
            if _given(args, "--task") and args.task != run["task"]:
                raise CommandError(f"{path} was trained on {run['task']!r}: --task {args.task} applies to .pt "
                                   "checkpoints only")
            meta = json.loads((directory / "agent.json").read_text())
            task = _make_task(run["task"], run["params"])
            name = meta["agent"] if meta["agent"] in registered_agents() else meta["class"]
            with _checking():
                agent = _agent(name).load(directory, task, device=args.device)
            where = "" if directory == path else f" (unfinished run: its last checkpoint, update {agent.updates})"
            return agent, task, f"{meta['agent']} trained on {task.name} in {path}{where}"
    reason = ""
    if path.is_file():
        try:
            state = read_checkpoint(path, "pretrained", "cpu")
        except ValueError as err:
            state, reason = {}, f" ({err})"
        if "agent" in state:  # molgym pretrain writes the agent's name
            args.task = args.task or "qed"
            task = _make_task(args.task, _task_params(args))
            with _checking():
                agent = _agent(state["agent"]).from_pretrained(state, path, task, seed=args.seed, device=args.device)
            return agent, task, f"{state['agent']} pretrained weights {path}, on {task.name}"
    raise CommandError(f"{path} is neither a molgym train directory (agent.json and task.json), nor a .pt written by "
                       "molgym pretrain, nor a shipped checkpoint (agents/gcpn/checkpoints/gcpn_moses.pt, "
                       "agents/reinvent/checkpoints/reinvent_moses.pt)" + reason)


def _pretrain(args: argparse.Namespace) -> int:
    from molgym.agent import Agent
    from molgym.data import load_smiles

    cls = _agent(args.agent)
    if cls.pretrain.__func__ is Agent.pretrain.__func__:
        raise CommandError(f"agent {args.agent!r} has no pretraining step")
    with _checking():
        smiles = load_smiles(args.data, limit=args.molecules)
    out = Path(args.out or f"runs/{args.agent}_pretrained.pt")
    command = "molgym " + shlex.join(args.argv)
    with _checking():
        print(cls.pretrain(smiles, out, command, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                           hidden=args.hidden, layers=args.layers, rank=args.rank, max_atoms=args.max_atoms,
                           seed=args.seed, device=args.device))
    return 0


# The parser -----------------------------------------------------------------------------------------
def _number(kind, least):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if value < least or (kind is float and value == least == 0):
            raise argparse.ArgumentTypeError(f"must be {'above' if kind is float else 'at least'} {least}, got {text}")
        return value

    return parse


positive, non_negative, positive_float = _number(int, 1), _number(int, 0), _number(float, 0)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _add_task_arguments(parser: argparse.ArgumentParser, default: str | None = "qed") -> None:
    from molgym.tasks import TASKS

    parser.add_argument("--task", choices=TASKS, default=default, help="what the oracle scores" +
                        ("" if default else " (default: qed; with --resume, the run's)"))
    parser.add_argument("--start", help="constrained task: start molecules, a SMILES file (.smi/.txt/.csv[.gz]), "
                        "nci, zinc250k, moses, or one SMILES")
    parser.add_argument("--threshold", type=float, default=0.4, help="constrained task: similarity threshold")
    parser.add_argument("--reward", help="custom task: the objective, module:function of an RDKit molecule")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    import molgym
    from molgym.agent import registered_agents

    agents = ", ".join(registered_agents())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser = argparse.ArgumentParser(prog="molgym", description="Molecular graph editing environments and agents.",
                                     formatter_class=_Formatter, parents=[common], allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"molgym {molgym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, formatter_class=_Formatter, parents=[common],
                           allow_abbrev=False)
        p.set_defaults(func=func)
        return p

    command("envs", "list the registered environments", _envs)

    roll = command("rollout", "run the random agent on an environment; write molecules and a picture", _rollout)
    roll.add_argument("--env", default="MolEdit-v0", choices=list(molgym.ENV_IDS), help="registered id")
    roll.add_argument("--episodes", type=positive, default=100)
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--max-atoms", type=positive, default=38)
    roll.add_argument("--start", help="start SMILES, a SMILES file, or nci / zinc250k / moses")
    roll.add_argument("--top", type=positive, default=12, help="molecules in the picture")
    roll.add_argument("--out", default="runs/rollout", help="directory for molecules.csv and top.png")

    comp = command("compare", "agents under equal oracle budgets: tables, curves, molecule pictures", _compare)
    comp.add_argument("--agents", default="random,gcpn", help=f"comma-separated: {agents}, or module:Class")
    comp.add_argument("--budget", type=positive, default=10000, help="oracle calls per run")
    comp.add_argument("--seeds", type=positive, default=3, help="runs per agent, seeds 0 .. SEEDS-1")
    comp.add_argument("--workers", type=positive, default=None,
                      help="runs at a time, each in its own process (default: one per core; 1: in this process)")
    comp.add_argument("--executor", choices=["process", "ray"], default="process",
                      help="process: this machine's processes (--workers); ray: each run a Ray task with one CPU "
                           "(and a GPU with --device cuda), retried if its worker dies (pip install 'molgym[ray]')")
    comp.add_argument("--ray-address", default=None, metavar="ADDRESS",
                      help="with --executor ray: an existing cluster (e.g. ray://head:10001 or auto); default: "
                           "start a local Ray instance")
    comp.add_argument("--propose", type=non_negative, default=100,
                      help="molecules proposed after training, unscored, for validity, uniqueness and novelty "
                           "(proposed.csv of each run)")
    comp.add_argument("--training-set", default="nci", help="reference set for novelty: nci, moses or a SMILES file")
    comp.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                      help="agent settings: key=value for every agent, agent.key=value for one (values read as JSON)")
    comp.add_argument("--out", default="runs/compare", help="output directory; a repeated command resumes in it")
    comp.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                      help="wall-time limit per run; a run that passes it ends with that reason (AUC padded)")
    comp.add_argument("--suite", choices=["pmo"], default=None,
                      help="run a task suite (pmo: the 23 tasks of PMO) instead of --task, beside the published figures")
    comp.add_argument("--tasks", default=None, help="with --suite: comma-separated subset of its tasks")
    _add_task_arguments(comp)

    train = command("train", "train one agent under an oracle budget and save it", _train)
    train.add_argument("agent", help=f"{agents}, or module:Class")
    train.add_argument("--budget", type=positive, default=10000, help="oracle calls")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="runs/train", help="run directory")
    train.add_argument("--steps", type=positive, default=None,
                       help="stop after this many env steps (agents that train in updates; default: the budget decides)")
    train.add_argument("--init", default=None, help="checkpoint to start from (gcpn: a pretrained .pt; default: shipped)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument("--checkpoint-every", type=positive, default=10,
                       help="updates between checkpoints (one is also written at the end and on Ctrl-C)")
    train.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                       help="agent settings, e.g. num_envs=64 adversarial=both (values read as JSON when they parse)")
    _add_task_arguments(train, default=None)

    pre = command("pretrain", "pretraining on real molecules: gcpn's expert (behaviour cloning), reinvent's prior "
                  "(maximum likelihood on SMILES)", _pretrain)
    pre.add_argument("agent", help="the agent pretrained: one with a pretraining step (gcpn, reinvent), or module:Class")
    pre.add_argument("--data", default="nci", help="nci, moses (../shared/data or $MOLGYM_MOSES), zinc250k or a SMILES file")
    pre.add_argument("--molecules", type=positive, default=5000, help="at most this many molecules")
    pre.add_argument("--max-atoms", type=positive, default=38)
    pre.add_argument("--epochs", type=positive, default=3)
    pre.add_argument("--batch-size", type=positive, default=None, help="default: the agent's (gcpn 256, reinvent 128)")
    pre.add_argument("--lr", type=positive_float, default=1e-3)
    pre.add_argument("--hidden", type=positive, default=None, help="default: the agent's (gcpn 128, reinvent 256)")
    pre.add_argument("--layers", type=positive, default=3)
    pre.add_argument("--rank", type=positive, default=32)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--device", default="cpu", help="cpu or cuda")
    pre.add_argument("--out", default=None, help="default: runs/AGENT_pretrained.pt")

    sample = command("sample", "molecules from a trained or pretrained agent, scored by its task", _sample)
    sample.add_argument("--checkpoint", required=True,
                        help="a molgym train directory, a .pt of molgym pretrain, or agents/gcpn/checkpoints/gcpn_moses.pt")
    sample.add_argument("-n", type=positive, default=None,
                        help="molecules (default 1000); for tasks with start molecules, per start molecule (default 1)")
    sample.add_argument("--seed", type=int, default=0, help="seed of a pretrained agent (.pt)")
    sample.add_argument("--out", default="samples.csv", help="CSV: smiles and score (and start, for constrained)")
    _add_task_arguments(sample, default=None)
    for action in sample._actions:  # the task of a .pt; a train directory has its own
        if action.dest == "task":
            action.help = "the task of a .pt checkpoint (default: qed); a train directory has its own"
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version, or argparse's one-line usage error (status 2)
        return int(exit.code or 0)
    args.argv = argv  # what was asked, recorded with checkpoints
    if not args.debug:  # warnings as one line each (e.g. stereochemistry dropped from start molecules)
        warnings.showwarning = lambda message, *_, **__: print(f"molgym: note: {message}", file=sys.stderr)
    try:
        return args.func(args)
    except CommandError as err:
        print(f"molgym {args.command}: {err}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"molgym {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as err:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"molgym {args.command}: {type(err).__name__}: {err} (--debug shows the traceback)", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
