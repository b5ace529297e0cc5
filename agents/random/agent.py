"""Uniformly random legal actions, read from the env's exact action mask."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


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


class RandomAgent:
    """Picks one of the legal flat actions (``env.unwrapped.action_masks()``) uniformly at random."""

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def act(self, mask: np.ndarray) -> int:
        """A flat action index drawn uniformly from the ``True`` entries of ``mask`` (shape ``(K,)``)."""
        legal = np.flatnonzero(mask)
        if legal.size == 0:
            raise ValueError("the action mask has no legal action")
        return int(legal[self.rng.integers(legal.size)])

    def run_episode(self, env: gym.Env, seed: int | None = None) -> EpisodeResult:
        """Play one episode of a MolEdit env (MultiDiscrete actions) to its end."""
        base = env.unwrapped
        env.reset(seed=seed)
        total, steps = 0.0, 0
        while True:
            action = base.layout.to_multidiscrete(self.act(base.action_masks()))
            _, reward, terminated, truncated, info = env.step(action)
            total += reward
            steps += 1
            if terminated or truncated:
                terms = info["reward_terms"]
                score = sum(terms[name] for name in base.reward.names)
                return EpisodeResult(info["smiles"], score, total, terms, steps, truncated)
