"""Train sb3-contrib's MaskablePPO on MolEdit-v0 (QED) and report the QED of what it makes.

Run: ``python scripts/train_sb3.py [--policy gcpn] [--steps 20000] [--n-envs 4] [--vec subproc] [--molecules 200]``

The env is wrapped in ``molgym.wrappers.FlatAction`` (one ``Discrete`` action with
``action_masks()``: MaskablePPO masks a MultiDiscrete space per dimension, which cannot express
which atom pairs are jointly legal). The policy is ``--policy gcpn`` (the default):
``molgym_agents.sb3.GCPNMaskablePolicy``, GCPN's network and action heads starting from the shipped
pretrained weights; or ``--policy extractor``: SB3's MLP heads over ``molgym_agents.sb3.MolGraphExtractor``
from scratch (which collapses onto one molecule). After training, the policy samples molecules
(stochastic, with masks) and the script prints their QED and unique share beside the random
agent's on the same number of molecules (each set one batch of episodes, :func:`molgym.rollout.rollout`).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
from tqdm.auto import tqdm

import molgym  # noqa: F401 - registers the environments
from molgym.envs.vector import MolEditVectorEnv
from molgym.rollout import rollout
from molgym.wrappers import FlatAction
from molgym_agents.sb3 import GCPNMaskablePolicy, MolGraphExtractor, silent_logger

# Reward: the final QED only. With masks every action is legal, so GCPN's +1/N validity term would
# only pay for longer episodes (longer molecules, lower QED): a first run with it learned exactly that.
ENV_KWARGS = {"max_atoms": 38, "info_smiles": "end", "step_reward": None}


def make_env():
    return FlatAction(gym.make("MolEdit-v0", **ENV_KWARGS))


class ProgressBar(BaseCallback):
    """A tqdm bar over the training steps with the mean final QED of the last episodes."""

    def __init__(self, total: int):
        super().__init__()
        self.bar = tqdm(total=total, unit="step", desc="MaskablePPO")
        self.recent: list[float] = []

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "qed" in info.get("reward_terms", {}):
                self.recent = (self.recent + [info["reward_terms"]["qed"]])[-100:]
                self.bar.set_postfix(qed=f"{np.mean(self.recent):.3f}")
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


def sample(model: MaskablePPO, count: int, seed: int) -> list[tuple[str, float]]:
    """``count`` episodes of the policy (stochastic, masked), as one batch: (SMILES, QED)."""
    env = MolEditVectorEnv(num_envs=count, **ENV_KWARGS)

    def act(obs, rows):
        action, _ = model.predict(
            {k: v[rows] for k, v in obs.items()}, action_masks=env.mask[rows], deterministic=False
        )
        return np.asarray(action, dtype=np.int64).reshape(-1)

    episodes = rollout(env, act, seed=seed)
    return [(smiles, terms["qed"]) for smiles, terms in zip(episodes.smiles, episodes.terms)]


def random_molecules(count: int, seed: int) -> list[tuple[str, float]]:
    """``count`` episodes of uniformly random legal actions, as one batch: (SMILES, QED)."""
    env = MolEditVectorEnv(num_envs=count, **ENV_KWARGS)
    rng = np.random.default_rng(seed)
    episodes = rollout(env, lambda obs, rows: env.layout.sample(env.mask[rows], rng), seed=seed)
    return [(smiles, terms["qed"]) for smiles, terms in zip(episodes.smiles, episodes.terms)]


def summary(name: str, molecules: list[tuple[str, float]]) -> str:
    qed = np.array([q for _, q in molecules])
    unique = len({s for s, _ in molecules})
    top = np.sort(qed)[::-1]
    return (
        f"{name:20s} {qed.mean():8.3f} {np.median(qed):8.3f} {top[0]:8.3f} {top[:10].mean():8.3f} "
        f"{unique / len(molecules):8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policy", choices=["gcpn", "extractor"], default="gcpn")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--vec", choices=["dummy", "subproc"], default="subproc")
    parser.add_argument("--molecules", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    vec_cls = SubprocVecEnv if args.vec == "subproc" else DummyVecEnv
    venv = vec_cls([make_env for _ in range(args.n_envs)])
    if args.policy == "gcpn":
        policy, policy_kwargs = GCPNMaskablePolicy, {"atom_types": make_env().unwrapped.vocab.names}
    else:
        policy = "MultiInputPolicy"
        policy_kwargs = dict(
            features_extractor_class=MolGraphExtractor, features_extractor_kwargs=dict(features_dim=128)
        )
    model = MaskablePPO(
        policy,
        venv,
        n_steps=256,
        batch_size=256,
        learning_rate=3e-4,
        ent_coef=0.01,
        seed=args.seed,
        device=args.device,
        policy_kwargs=policy_kwargs,
    )
    model.set_logger(silent_logger())
    before = sample(model, args.molecules, args.seed + 1)  # the starting policy, for comparison
    began = time.perf_counter()
    model.learn(total_timesteps=args.steps, callback=ProgressBar(args.steps))
    elapsed = time.perf_counter() - began
    venv.close()

    trained = sample(model, args.molecules, args.seed + 1)
    baseline = random_molecules(args.molecules, args.seed + 1)
    print(
        f"MaskablePPO on MolEdit-v0: {model.num_timesteps} steps in {elapsed:.0f} s "
        f"({model.num_timesteps / elapsed:.0f} steps/s, {args.n_envs} {args.vec} envs, device {args.device})"
    )
    print(f"QED of {args.molecules} sampled molecules:")
    print(f"{'agent':20s} {'mean':>8s} {'median':>8s} {'top-1':>8s} {'top-10':>8s} {'unique':>8s}")
    print(summary(f"{args.policy}, trained", trained))
    print(summary(f"{args.policy}, at start", before))
    print(summary("random", baseline))
    print("best molecules:")
    for smiles, qed in sorted(trained, key=lambda m: -m[1])[:5]:
        print(f"  {qed:.3f}  {smiles}")


if __name__ == "__main__":
    main()
