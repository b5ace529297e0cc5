"""``molgym envs`` and ``molgym rollout``: the registered environments, and episodes of random legal actions in one."""

from __future__ import annotations

import argparse
import time

from molgym.cli.common import add_threads, checking, output_dir, positive, start_molecules
from molgym.storage import write_csv


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
    start = start_molecules(args.start)
    if start is not None:
        kwargs["start_smiles"] = start
    with checking():
        env = MolEditVectorEnv(molgym.ENV_IDS[args.env], num_envs=args.episodes, **kwargs)
    out = output_dir(args.out)
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


def add_commands(command, agents: str) -> None:
    """The parsers of these commands (``command(name, help, handler)`` makes one)."""
    import molgym

    command("envs", "list the registered environments", _envs)

    roll = command(
        "rollout",
        "episodes of uniformly random legal actions in an environment; write molecules and a picture",
        _rollout,
    )
    roll.add_argument("--env", default="MolEdit-v0", choices=list(molgym.ENV_IDS), help="registered id")
    roll.add_argument("--episodes", type=positive, default=100, help="episodes to play")
    roll.add_argument("--seed", type=int, default=0, help="seed of the first episode (then SEED+1, ...)")
    roll.add_argument("--max-atoms", type=positive, default=38, help="largest molecule (atoms)")
    roll.add_argument("--start", help="start SMILES, a SMILES file, or nci / zinc250k / moses")
    roll.add_argument("--top", type=positive, default=12, help="molecules in the picture")
    roll.add_argument("--out", default="runs/rollout", help="directory for molecules.csv and top.png")
    add_threads(roll)
