"""``molgym sample`` and ``molgym pretrain``: molecules from a trained or pretrained agent, scored
by its task, and pretraining on real molecules (no oracle)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from molgym.cli.common import (
    CommandError,
    add_task_arguments,
    add_threads,
    agent_named,
    checking,
    device,
    given,
    make_checked_task,
    output_file,
    positive,
    positive_float,
    saved_run,
    start_molecules,
    task_params,
)
from molgym.storage import write_csv


def _sample(args: argparse.Namespace) -> int:
    from rdkit import Chem, rdBase
    from tqdm.auto import tqdm

    from molgym.chem import parse_state
    from molgym.rewards import Context

    out = output_file(args.out, args.overwrite)
    agent, task, what = _agent_to_sample(args)
    starts = start_molecules(args.start) if args.start is not None else task.start_smiles
    if args.start is not None and not task.start_smiles:
        raise CommandError(f"--start is for tasks with start molecules (constrained); {what} is on {task.name!r}")
    graphs = {}  # start SMILES -> its state, which the objective compares with
    if starts:
        env = task.make_env(reward=[]).unwrapped
        with checking():
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
        run = saved_run(path)
        if given(args, "--task") and args.task != run["task"]:
            raise CommandError(
                f"{path} was trained on {run['task']!r}: --task {args.task} applies to .pt checkpoints only"
            )
        directory = path if (path / "metrics.json").is_file() else latest_checkpoint(path)
        if directory is None:
            raise CommandError(f"{path} holds an unfinished run with no checkpoint yet: nothing to sample from")
        task = make_checked_task(run["task"], run["params"])
        with checking():
            meta = read_json(directory / "agent.json", "agent file")
            name = meta["agent"] if meta["agent"] in registered_agents() else meta["class"]
            agent = agent_named(name).load(directory, task, device=args.device)
        where = "" if directory == path else f" (unfinished run: its last checkpoint, update {agent.updates})"
        return agent, task, f"{meta['agent']} trained on {task.name} in {path}{where}"
    if path.is_file():
        with checking():
            state = read_checkpoint(path, "pretrained", "cpu")
        if "agent" in state:  # molgym pretrain writes the agent's name
            args.task = args.task or "qed"
            task = make_checked_task(args.task, task_params(args))
            with checking():
                agent = agent_named(state["agent"]).from_pretrained(
                    state, path, task, seed=args.seed, device=args.device
                )
            return agent, task, f"{state['agent']} pretrained weights {path}, on {task.name}"
    raise CommandError(
        f"{path} is neither a molgym train directory (agent.json and task.json), nor a .pt written by "
        "molgym pretrain, nor a shipped checkpoint (agents/gcpn/checkpoints/gcpn_moses.pt, "
        "agents/reinvent/checkpoints/reinvent_moses.pt)"
    )


def _pretrain(args: argparse.Namespace) -> int:
    from molgym.agent import Agent
    from molgym.data import load_smiles

    cls = agent_named(args.agent)
    if cls.pretrain.__func__ is Agent.pretrain.__func__:
        raise CommandError(f"agent {args.agent!r} has no pretraining step")
    out = output_file(args.out or f"runs/{args.agent}_pretrained.pt", args.overwrite)
    with checking():
        smiles = load_smiles(args.data, limit=args.molecules)
    command = "molgym " + shlex.join(args.argv)
    with checking():
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


def add_commands(command, agents: str) -> None:
    """The parsers of these commands (``command(name, help, handler)`` makes one)."""
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
    pre.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:N")
    pre.add_argument("--out", default=None, help="the weights file (default: runs/AGENT_pretrained.pt)")
    pre.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_threads(pre)

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
    add_task_arguments(sample, default=None)
    add_threads(sample)
    for action in sample._actions:  # the task of a .pt; a train directory has its own
        if action.dest == "task":
            action.help = "the task of a .pt checkpoint (default: qed); a train directory has its own"
