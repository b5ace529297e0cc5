"""Uniformly random legal actions, read from the env's exact action mask: the floor every agent should beat."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from molgym.agent import UpdatingAgent
from molgym.oracle import Oracle
from molgym.storage import read_json, write_json
from molgym.tasks import Task


@dataclass
class EpisodeResult:
    """One finished episode: the final molecule, its property score, the return and the final terms.

    ``score`` is the env's property reward (``env.unwrapped.reward``) of the final molecule, without
    the step terms; ``episode_return`` is the sum of all rewards of the episode.
    """

    smiles: str
    score: float
    episode_return: float
    final_terms: dict[str, float]
    steps: int
    truncated: bool


class RandomAgent(UpdatingAgent):
    """Picks one of the legal flat actions (``env.unwrapped.action_masks()``) uniformly at random.
    One update is one episode.

    Config: ``patience`` (stop training after that many episodes in a row that paid for nothing
    new: the agent keeps finding molecules the oracle has already scored).
    """

    name = "random"
    update_unit = "episodes"

    def __init__(self, task: Task | None = None, seed: int = 0, device: str = "cpu", patience: int = 1000):
        super().__init__(task, seed, device, patience=patience)
        self.rng = np.random.default_rng(seed)
        self.patience = patience
        self._proposer: gym.Env | None = None  # the env propose() plays in, seeded once
        self._trainer: gym.Env | None = None  # the env update() plays in, scoring with the oracle
        self._trainer_rng: dict | None = None  # its generator's state, from a checkpoint

    def act(self, mask: np.ndarray) -> int:
        """A flat action index drawn uniformly from the ``True`` entries of ``mask`` (shape ``(K,)``)."""
        legal = np.flatnonzero(mask)
        if legal.size == 0:
            raise ValueError("the action mask has no legal action")
        return int(legal[self.rng.integers(legal.size)])

    def run_episode(self, env: gym.Env, seed: int | None = None, start: str | None = None) -> EpisodeResult:
        """Play one episode of a MolEdit env (MultiDiscrete actions) to its end, from ``start``
        (a SMILES) if given, else from one of the env's start molecules."""
        base = env.unwrapped
        env.reset(seed=seed, options={"smiles": start})
        total, steps = 0.0, 0
        while True:
            action = base.layout.to_multidiscrete(self.act(base.action_masks()))
            _, reward, terminated, truncated, info = env.step(action)
            total += reward
            steps += 1
            if terminated or truncated:
                terms = info["reward_terms"]
                score = sum(terms[name] for name in base.reward.names)
                return EpisodeResult(base.smiles, score, total, terms, steps, truncated)

    def update(self, oracle: Oracle) -> dict[str, float]:
        """One episode in the env that scores with ``oracle`` (made and seeded on the first update)."""
        if self._trainer is None:
            self._trainer = self.task.make_env(oracle)
            self._trainer.reset(seed=self.seed)
            if self._trainer_rng is not None:
                self._trainer.unwrapped.np_random.bit_generator.state = self._trainer_rng
        episode = self.run_episode(self._trainer)
        self.steps += episode.steps
        return {"reward": episode.score, "return": episode.episode_return}

    def propose(self, n: int) -> list[str]:
        return [self.run_episode(*self._proposing()).smiles for _ in range(n)]

    def propose_from(self, start: str, n: int) -> list[str]:
        env, seed = self._proposing()
        return [self.run_episode(env, seed if i == 0 else None, start=start).smiles for i in range(n)]

    def _proposing(self) -> tuple[gym.Env, int | None]:
        """The env of :meth:`propose`, and the seed of its first episode (``None`` after)."""
        if self._proposer is None:
            self._proposer = self.task.make_env(reward=[])
            return self._proposer, self.seed
        return self._proposer, None

    def _save_state(self, path: Path) -> None:
        env = None if self._trainer is None else self._trainer.unwrapped.np_random.bit_generator.state
        write_json(path / "rng.json", {"agent": self.rng.bit_generator.state, "env": env, "steps": self.steps,
                                       "updates": self.updates})

    def _load_state(self, path: Path) -> None:
        state = read_json(path / "rng.json", "random agent state")
        if not isinstance(state, dict) or "agent" not in state:
            raise ValueError(f"random agent state {path / 'rng.json'} is damaged: it holds no generator state")
        self.rng.bit_generator.state = state["agent"]
        self._trainer_rng, self.steps, self.updates = state["env"], state["steps"], state["updates"]
