"""Uniformly random legal actions, read from the env's exact action mask: the floor every agent should beat."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from molgym.agent import UpdatingAgent
from molgym.envs.vector import MolEditVectorEnv
from molgym.oracle import Oracle
from molgym.rollout import rollout
from molgym.storage import read_json, write_json
from molgym.tasks import Task


class RandomAgent(UpdatingAgent):
    """Picks one of the legal flat actions (``env.mask``) uniformly at random. One update is one
    episode (:func:`molgym.rollout.rollout` in a one-molecule batched env).

    Config: ``patience`` (stop training after that many episodes in a row that paid for nothing
    new: the agent keeps finding molecules the oracle has already scored).
    """

    name = "random"
    update_unit = "episodes"

    def __init__(self, task: Task | None = None, seed: int = 0, device: str = "cpu", patience: int = 1000):
        super().__init__(task, seed, device, patience=patience)
        self.rng = np.random.default_rng(seed)
        self.patience = patience
        self._proposer: MolEditVectorEnv | None = None  # the env propose() plays in, seeded once
        self._trainer: MolEditVectorEnv | None = None  # the env update() plays in, scoring with the oracle
        self._trainer_rng: dict | None = None  # its generator's state, from a checkpoint

    def act(self, mask: np.ndarray) -> int:
        """A flat action index drawn uniformly from the ``True`` entries of ``mask`` (shape ``(K,)``)."""
        legal = np.flatnonzero(mask)
        if legal.size == 0:
            raise ValueError("the action mask has no legal action")
        return int(legal[self.rng.integers(legal.size)])

    def _acting(self, env: MolEditVectorEnv):
        """:meth:`act` for each row asked for, as :func:`molgym.rollout.rollout` takes it."""
        return lambda obs, rows: np.array([self.act(env.mask[i]) for i in rows.tolist()], dtype=np.int64)

    def update(self, oracle: Oracle) -> dict[str, float]:
        """One episode in the env that scores with ``oracle`` (made and seeded on the first update)."""
        if self._trainer is None:
            self._trainer = self.task.make_vector_env(oracle, num_envs=1)
            self._trainer.reset(seed=self.seed)
            if self._trainer_rng is not None:
                self._trainer.set_state({**self._trainer.get_state(), "rngs": [self._trainer_rng]})
        episode = rollout(self._trainer, self._acting(self._trainer))
        self.steps += int(episode.steps[0])
        return {"reward": float(episode.scores[0]), "return": float(episode.returns[0])}

    def propose(self, n: int) -> list[str]:
        return [self._propose_one(None) for _ in range(n)]

    def propose_from(self, start: str, n: int) -> list[str]:
        return [self._propose_one(start) for _ in range(n)]

    def _propose_one(self, start: str | None) -> str:
        """One episode of an unscored env (seeded with the agent's seed on the first)."""
        seed = None
        if self._proposer is None:
            self._proposer, seed = self.task.make_vector_env(None, num_envs=1, reward=[]), self.seed
        options = {"smiles": start} if start is not None else None
        return rollout(self._proposer, self._acting(self._proposer), seed=seed, options=options).smiles[0]

    def _save_state(self, path: Path) -> None:
        env = None if self._trainer is None else self._trainer.get_state()["rngs"][0]
        write_json(
            path / "rng.json",
            {"agent": self.rng.bit_generator.state, "env": env, "steps": self.steps, "updates": self.updates},
        )

    def _load_state(self, path: Path) -> None:
        state = read_json(path / "rng.json", "random agent state")
        if not isinstance(state, dict) or "agent" not in state:
            raise ValueError(f"random agent state {path / 'rng.json'} is damaged: it holds no generator state")
        self.rng.bit_generator.state = state["agent"]
        self._trainer_rng, self.steps, self.updates = state["env"], state["steps"], state["updates"]
