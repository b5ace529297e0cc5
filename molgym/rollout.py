"""Episodes of any policy in a batched MolEdit env: the one episode loop of molgym.

:func:`rollout` plays exactly one episode in every row of a :class:`~molgym.envs.vector.MolEditVectorEnv`
(one row for a single episode), asking ``act`` for the actions of the rows still in their episode.
The env stays the referee: it checks each edit, rejects illegal ones (the state stays), enforces
``min_steps`` and scores the final molecules with its reward (an oracle, counted as for every
other agent). A row whose episode has ended is given a self-loop, which the env always rejects, so
it starts no second episode that would be scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from molgym.envs.vector import MolEditVectorEnv

__all__ = ["Episodes", "rollout", "IDLE"]

#: The MultiDiscrete action ``(first, second, bond, stop)`` given to rows whose episode has ended:
#: a self-loop, always rejected, changing nothing.
IDLE = (0, 0, 0, 0)


@dataclass
class Episodes:
    """One finished episode per row of the env, in row order (``B`` rows, ``N = max_atoms``).

    Attributes:
        smiles: the final molecules.
        scores: ``(B,)`` the env's final reward of each final molecule (its ``reward``'s terms,
            without the step terms; 0 where the env scores nothing).
        last_rewards: ``(B,)`` each episode's last reward (its final terms plus that step's terms).
        returns: ``(B,)`` each episode's summed rewards (step terms included).
        steps: ``(B,)`` steps taken, rejected edits included.
        truncated: ``(B,)`` episodes that ran out of steps.
        terms: each episode's last reward terms (name -> value).
        types: ``(B, N)`` the final atom types (-1: no atom); bonds: ``(B, N, N)`` the final bonds.
        rejected: edits the env rejected, over every episode (a stop refused before ``min_steps``
            is not an edit).
    """

    smiles: list[str]
    scores: np.ndarray
    last_rewards: np.ndarray
    returns: np.ndarray
    steps: np.ndarray
    truncated: np.ndarray
    terms: list[dict[str, float]]
    types: np.ndarray
    bonds: np.ndarray
    rejected: int


def rollout(
    env: MolEditVectorEnv,
    act: Callable[[dict[str, Any], np.ndarray], Any],
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> Episodes:
    """One episode in every row of ``env`` from ``env.reset(seed=seed, options=options)``.

    ``act(obs, rows)`` returns the next actions of the rows ``rows`` (an index array of the rows
    still in their episode, in order): flat indices into the action masks, shape ``(len(rows),)``,
    or MultiDiscrete actions, ``(len(rows), 4)``. ``obs`` is the env's batched observation of every
    row; ``env.mask``, ``env.num_atoms``, ``env.free`` hold every row's current state.
    """
    B, N = env.num_envs, env.max_atoms
    obs, _ = env.reset(seed=seed, options=options)
    running = np.ones(B, dtype=bool)
    smiles: list[str] = [""] * B
    scores, last_rewards, returns = np.zeros(B), np.zeros(B), np.zeros(B)
    steps, truncated = np.zeros(B, dtype=np.int64), np.zeros(B, dtype=bool)
    terms: list[dict[str, float]] = [{} for _ in range(B)]
    types, bonds = np.full((B, N), -1, dtype=np.int8), np.zeros((B, N, N), dtype=np.int8)
    rejected = 0
    names = env.reward.names
    while running.any():
        rows = np.flatnonzero(running)
        chosen = np.asarray(act(obs, rows), dtype=np.int64)
        actions = np.tile(np.array(IDLE, dtype=np.int64), (B, 1))
        actions[rows] = env.layout.to_multidiscrete_many(chosen) if chosen.ndim == 1 else chosen
        obs, reward, terminated, truncation, info = env.step(actions)
        returns[rows] += reward[rows]
        steps[rows] += 1
        rejected += int((~info["valid"][rows] & (actions[rows, 3] == 0)).sum())  # edits, not a stop refused
        ended = rows[(terminated | truncation)[rows]]
        if ended.size:
            for i, s in zip(ended.tolist(), env.smiles_of(ended), strict=True):
                smiles[i] = s
                terms[i] = {
                    name: float(values[i])
                    for name, values in info.get("reward_terms", {}).items()
                    if not name.startswith("_")
                }
                scores[i] = sum(terms[i].get(name, 0.0) for name in names)
            truncated[ended], last_rewards[ended] = truncation[ended], reward[ended]
            types[ended], bonds[ended] = _numpy(obs["atom_types"])[ended], _numpy(obs["bonds"])[ended]
            running[ended] = False
    return Episodes(smiles, scores, last_rewards, returns, steps, truncated, terms, types, bonds, rejected)


def _numpy(array) -> np.ndarray:
    """An observation array as NumPy (the env may hand out torch tensors on a device)."""
    return array if isinstance(array, np.ndarray) else array.cpu().numpy()
