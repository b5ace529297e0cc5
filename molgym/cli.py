"""The ``molgym`` command."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import molgym

    print(f"{'id':24s} {'final reward':40s} {'actions':>8s}")
    for env_id, cls in molgym.ENV_IDS.items():
        kwargs = {"start_smiles": "C"} if env_id == "MolOpt-v0" else {}
        env = gym.make(env_id, **kwargs).unwrapped
        print(f"{env_id:24s} {env.reward!r:40.40s} {env.layout.size:8d}")
    return 0


def _start_molecules(spec: str | None):
    if spec is None:
        return None
    from molgym.data import load_smiles

    path = Path(spec)
    return load_smiles(path) if path.exists() or spec.lower() in ("nci", "zinc250k") else spec


def _rollout(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from rdkit import Chem
    from rdkit.Chem import Draw
    from tqdm.auto import tqdm

    import molgym  # noqa: F401 - registers the environments
    from agents.random import RandomAgent

    kwargs = {"max_atoms": args.max_atoms}
    start = _start_molecules(args.start)
    if start is not None:
        kwargs["start_smiles"] = start
    try:
        env = gym.make(args.env, **kwargs)
    except ValueError as err:
        print(f"molgym rollout: {err}", file=sys.stderr)
        return 2
    agent = RandomAgent(seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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
    with open(out / "molecules.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["episode", "smiles", "score", "return", "steps", "truncated", *names])
        for i, r in enumerate(results):
            terms = [r.final_terms.get(n, "") for n in names]
            writer.writerow([i, r.smiles, r.score, r.episode_return, r.steps, r.truncated, *terms])
    ranked = sorted(results, key=lambda r: r.score, reverse=True)
    top = ranked[: args.top]
    label = "+".join(env.unwrapped.reward.names) or "score"
    image = Draw.MolsToGridImage(
        [Chem.MolFromSmiles(r.smiles) for r in top],
        molsPerRow=min(4, len(top)),
        subImgSize=(250, 200),
        legends=[f"{label} {r.score:.3f}" for r in top],
    )
    image.save(out / "top.png")
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


def _task_params(args: argparse.Namespace) -> dict:
    params = {}
    if args.task == "constrained":
        start = _start_molecules(args.start)
        params.update(start_smiles=[start] if isinstance(start, str) else start, threshold=args.threshold)
    if args.task == "custom":
        params["reward"] = args.reward
    return params


def _compare(args: argparse.Namespace) -> int:
    from agents.registry import agent_class
    from molgym.compare import compare
    from molgym.tasks import make_task

    agents = [a for a in args.agents.split(",") if a]
    try:
        params = _task_params(args)
        make_task(args.task, **params)
        for name in agents:
            agent_class(name)
    except (ValueError, FileNotFoundError) as err:
        print(f"molgym compare: {err}", file=sys.stderr)
        return 2
    results = compare(args.task, agents, args.budget, args.seeds, args.out, workers=args.workers, device=args.device,
                      propose=args.propose, task_params=params, training_set=args.training_set)
    print((Path(args.out) / "results.md").read_text())
    failed = [r for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(failed)} of {len(results)} runs finished; report in {args.out}")
    return 0


def _train(args: argparse.Namespace) -> int:
    import json

    from agents.base import UpdatingAgent
    from agents.registry import agent_class
    from agents.training import load_checkpoint, run_training
    from molgym.metrics import run_metrics
    from molgym.tasks import make_task

    out = Path(args.out)
    try:
        cls = agent_class(args.agent)
        if args.resume:
            saved = json.loads((out / "task.json").read_text()) if (out / "task.json").is_file() else None
            if saved is None:
                raise FileNotFoundError(f"nothing to resume: {out / 'task.json'} does not exist")
            params, task = saved["params"], make_task(saved["task"], **saved["params"])
            agent, oracle_state, loop = load_checkpoint(out, cls, task, device=args.device)
            oracle = task.oracle(oracle_state["budget"])
            oracle.load_state_dict(oracle_state)
        else:
            params = _task_params(args)
            task = make_task(args.task, **params)
            config = _parse_config(args.config)
            if args.init is not None:
                config["init"] = args.init
            agent = cls(task, seed=args.seed, device=args.device, **config)
            oracle, loop = task.oracle(args.budget), None
        if (args.steps is not None or args.resume) and not isinstance(agent, UpdatingAgent):
            raise ValueError(f"agent {args.agent!r} does not train in updates: --steps and --resume need one that does")
    except (ValueError, FileNotFoundError, TypeError, KeyError) as err:
        print(f"molgym train: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / "task.json").write_text(json.dumps({"task": task.name, "params": params}))
    if isinstance(agent, UpdatingAgent):
        if args.resume:
            print(f"resuming {args.agent} on {task.name} at update {agent.updates}, step {agent.steps}, "
                  f"{oracle.calls} oracle calls")
        run_training(agent, oracle, out, steps=args.steps, checkpoint_every=args.checkpoint_every, loop=loop)
    else:
        agent.train(oracle)
    agent.save(out)
    oracle.write_log(out / "oracle_log.csv")
    metrics = run_metrics(oracle.log, oracle.budget)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"{args.agent} on {task.name}: {oracle.calls} oracle calls, top-1 {metrics['top1']:.3f}, "
          f"top-10 {metrics['top10']:.3f}, AUC top-10 {metrics['auc_top10']:.3f}; saved to {out}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    import json

    from agents.registry import agent_class
    from molgym.rewards import Context
    from molgym.tasks import make_task

    checkpoint = Path(args.checkpoint)
    try:
        meta = json.loads((checkpoint / "agent.json").read_text())
        task_meta = json.loads((checkpoint / "task.json").read_text())
        task = make_task(task_meta["task"], **task_meta["params"])
        agent = agent_class(meta["agent"]).load(checkpoint, task, device=args.device)
    except (OSError, ValueError, KeyError) as err:
        print(f"molgym sample: cannot read the checkpoint {checkpoint}: {err}", file=sys.stderr)
        return 2
    from rdkit import Chem

    smiles = agent.propose(args.n)
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["smiles", task.name])
        for s in smiles:
            writer.writerow([s, task.objective(Context.of_mol(Chem.MolFromSmiles(s)))])
    print(f"wrote {len(smiles)} molecules from {meta['agent']} ({task.name}) to {args.out}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from agents.gcpn import GCPNPolicy
    from agents.gcpn.expert import behaviour_cloning, expert_data
    from molgym.chem import ActionLayout, AtomVocab
    from molgym.data import encode_smiles, load_smiles

    if args.agent != "gcpn":
        print(f"molgym pretrain: only 'gcpn' has expert pretraining, not {args.agent!r}", file=sys.stderr)
        return 2
    try:
        smiles = load_smiles(args.data, limit=args.molecules)
    except (OSError, ValueError) as err:
        print(f"molgym pretrain: {err}", file=sys.stderr)
        return 2
    vocab = AtomVocab.default()
    encoded = encode_smiles(smiles, vocab, args.max_atoms, progress=True)
    print(encoded.summary())
    if not encoded.graphs:
        print(f"molgym pretrain: no usable molecule in {args.data}", file=sys.stderr)
        return 2
    layout = ActionLayout(args.max_atoms, len(vocab))
    data = expert_data(encoded.graphs, layout, seed=args.seed, progress=True)
    torch.manual_seed(args.seed)
    sizes = {"hidden": args.hidden, "layers": args.layers, "rank": args.rank}
    policy = GCPNPolicy(len(vocab), args.max_atoms, 3, max_free=int(vocab.max_valence.max()), **sizes)
    losses = behaviour_cloning(policy, data, layout, vocab, epochs=args.epochs, batch_size=args.batch_size,
                               lr=args.lr, device=args.device, seed=args.seed, progress=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"policy": policy.cpu().state_dict(), "vocab": vocab.names, "max_atoms": args.max_atoms, "sizes": sizes,
                "molecules": len(encoded.graphs), "pairs": len(data), "losses": losses,
                "command": "molgym " + " ".join(shlex.quote(a) for a in args.argv)}, out)
    print(f"behaviour cloning on {len(encoded.graphs)} molecules ({len(data)} expert steps): loss "
          f"{losses[0]:.3f} -> {losses[-1]:.3f}; wrote {out}")
    return 0


def _parse_config(pairs: list[str]) -> dict:
    import json

    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--config takes key=value, got {pair!r}")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


def _add_task_arguments(parser: argparse.ArgumentParser) -> None:
    from molgym.tasks import TASKS

    parser.add_argument("--task", choices=TASKS, default="qed")
    parser.add_argument("--start", help="start molecules of the constrained task: a SMILES file")
    parser.add_argument("--threshold", type=float, default=0.4, help="similarity threshold of the constrained task")
    parser.add_argument("--reward", help="the custom task's objective, module:function of an RDKit molecule")
    parser.add_argument("--device", default="cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molgym", description="Molecular graph editing environments and agents.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("envs", help="list the registered environments").set_defaults(func=_envs)
    roll = sub.add_parser("rollout", help="run the random agent on an environment; write molecules and a picture")
    roll.add_argument("--env", default="MolEdit-v0", help="registered id (see `molgym envs`)")
    roll.add_argument("--episodes", type=int, default=100)
    roll.add_argument("--seed", type=int, default=0)
    roll.add_argument("--max-atoms", type=int, default=38)
    roll.add_argument("--start", help="start SMILES, a SMILES file, or 'nci' / 'zinc250k'")
    roll.add_argument("--top", type=int, default=12, help="molecules in the picture")
    roll.add_argument("--out", default="runs/rollout")
    roll.set_defaults(func=_rollout)

    comp = sub.add_parser("compare", help="agents under equal oracle budgets: tables, curves, molecule pictures")
    comp.add_argument("--agents", default="random,sb3-ppo", help="comma-separated names, or module:Class")
    comp.add_argument("--budget", type=int, default=10000, help="oracle calls per run")
    comp.add_argument("--seeds", type=int, default=3)
    comp.add_argument("--workers", type=int, default=None,
                      help="runs at a time, in separate processes (default: one per core; 1: in this process)")
    comp.add_argument("--propose", type=int, default=100, help="molecules proposed after training (validity etc.)")
    comp.add_argument("--training-set", default="nci", help="reference set for novelty: 'nci' or a SMILES file")
    comp.add_argument("--out", default="runs/compare")
    _add_task_arguments(comp)
    comp.set_defaults(func=_compare)

    train = sub.add_parser("train", help="train one agent under an oracle budget and save it")
    train.add_argument("agent", help="registered name or module:Class")
    train.add_argument("--budget", type=int, default=10000)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="runs/train")
    train.add_argument("--steps", type=int, default=None,
                       help="stop after this many env steps (agents that train in updates; default: the budget decides)")
    train.add_argument("--init", default=None, help="checkpoint to start from (gcpn: a pretrained .pt; default: shipped)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument("--checkpoint-every", type=int, default=10, help="updates between checkpoints")
    train.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                       help="agent settings, e.g. num_envs=64 adversarial=both (values read as JSON when they parse)")
    _add_task_arguments(train)
    train.set_defaults(func=_train)

    pre = sub.add_parser("pretrain", help="expert pretraining (behaviour cloning) on real molecules")
    pre.add_argument("agent", help="gcpn")
    pre.add_argument("--data", default="nci", help="'nci', 'moses', 'zinc250k' or a SMILES file")
    pre.add_argument("--molecules", type=int, default=5000, help="at most this many molecules")
    pre.add_argument("--max-atoms", type=int, default=38)
    pre.add_argument("--epochs", type=int, default=3)
    pre.add_argument("--batch-size", type=int, default=256)
    pre.add_argument("--lr", type=float, default=1e-3)
    pre.add_argument("--hidden", type=int, default=128)
    pre.add_argument("--layers", type=int, default=3)
    pre.add_argument("--rank", type=int, default=32)
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--device", default="cpu")
    pre.add_argument("--out", default="runs/gcpn_pretrained.pt")
    pre.set_defaults(func=_pretrain)

    sample = sub.add_parser("sample", help="molecules from a saved agent")
    sample.add_argument("--checkpoint", required=True, help="directory written by molgym train")
    sample.add_argument("-n", type=int, default=1000)
    sample.add_argument("--out", default="samples.csv")
    sample.add_argument("--device", default="cpu")
    sample.set_defaults(func=_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    args = build_parser().parse_args(argv)
    args.argv = argv  # what was asked, recorded with checkpoints
    for name in ("episodes", "budget", "seeds", "n", "molecules", "epochs", "steps", "checkpoint_every"):
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            print(f"molgym: --{name} must be at least 1", file=sys.stderr)
            return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
