"""sb3-contrib's MaskablePPO as an agent (``sb3-ppo``): flat masked actions, the graph extractor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from molgym.agent import Agent
from molgym.envs.vector import MolEditVectorEnv
from molgym.oracle import BudgetExhausted, Oracle
from molgym.rollout import rollout
from molgym.tasks import Task
from molgym.wrappers import FlatAction
from molgym_agents.sb3 import MolGraphExtractor, silent_logger

__all__ = ["SB3PPOAgent"]


class SB3PPOAgent(Agent):
    """MaskablePPO over ``FlatAction`` of the task's env, reading molecules with ``MolGraphExtractor``.

    Config: ``n_steps`` (rollout length), ``batch_size``, ``learning_rate``, ``ent_coef``,
    ``features_dim``. Training runs until the oracle's budget is spent.
    """

    name = "sb3-ppo"

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        device: str = "cpu",
        n_steps: int = 256,
        batch_size: int = 128,
        learning_rate: float = 3e-4,
        ent_coef: float = 0.01,
        features_dim: int = 128,
    ):
        super().__init__(
            task,
            seed,
            device,
            n_steps=n_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            ent_coef=ent_coef,
            features_dim=features_dim,
        )
        self.model: MaskablePPO | None = None
        self._proposer: MolEditVectorEnv | None = None  # the env propose() plays in, seeded once

    def _venv(self, oracle: Oracle | None):
        env = FlatAction(self.task.make_env(oracle) if oracle is not None else self.task.make_env(reward=[]))
        return DummyVecEnv([lambda: env])  # in-process, so the oracle's BudgetExhausted reaches train()

    def train(self, oracle: Oracle) -> None:
        venv = self._venv(oracle)
        c = self.config
        if self.model is None:
            self.model = MaskablePPO(
                "MultiInputPolicy",
                venv,
                n_steps=c["n_steps"],
                batch_size=c["batch_size"],
                learning_rate=c["learning_rate"],
                ent_coef=c["ent_coef"],
                seed=self.seed,
                device=self.device,
                policy_kwargs=dict(
                    features_extractor_class=MolGraphExtractor,
                    features_extractor_kwargs=dict(features_dim=c["features_dim"]),
                ),
            )
        else:
            self.model.set_env(venv)
        self.model.set_logger(silent_logger())
        try:
            self.model.learn(total_timesteps=10**12, reset_num_timesteps=False)
        except BudgetExhausted:
            pass

    def propose(self, n: int) -> list[str]:
        return [self._episode(None) for _ in range(n)]

    def propose_from(self, start: str, n: int) -> list[str]:
        return [self._episode(start) for _ in range(n)]

    def _episode(self, start: str | None) -> str:
        """The final molecule of one episode of the policy (from ``start``, if given) in a
        one-molecule batched env (:func:`molgym.rollout.rollout`), seeded with the agent's seed on the first."""
        if self.model is None:
            raise ValueError("the sb3-ppo agent has not been trained or loaded")
        seed = None
        if self._proposer is None:
            self._proposer, seed = self.task.make_vector_env(None, num_envs=1, reward=[]), self.seed
        env = self._proposer

        def act(obs, rows):
            action, _ = self.model.predict(obs, action_masks=np.array(env.mask), deterministic=False)
            return np.asarray(action, dtype=np.int64).reshape(-1)

        return rollout(env, act, seed=seed, options={"smiles": start} if start is not None else None).smiles[0]

    def _save_state(self, path: Path) -> None:
        if self.model is not None:
            self.model.save(path / "model.zip")

    def _load_state(self, path: Path) -> None:
        if (path / "model.zip").is_file():
            self.model = MaskablePPO.load(path / "model.zip", device=self.device)
