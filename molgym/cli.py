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
    agent = RandomAgent(args.seed)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "episodes", 1) < 1:
        print("molgym: --episodes must be at least 1", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
