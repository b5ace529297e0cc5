"""Building molecules through the env for agents that decide several edits at once (MolGAN's
whole graphs, GraphRNN's node steps).

:func:`run_episodes` plays exactly one episode in every row of a native batched env. When a
row has no queued action, the agent's ``next_actions(rows)`` is asked for the next ones (it may
read the env's current state, ``env.num_atoms`` and ``env.free``, which already include every
queued action). The env stays the referee: it checks each edit, rejects illegal ones (the state
stays), scores the final molecule with the task's reward (the oracle, counted as for every other
agent) and enforces ``min_steps`` (an early stop is rejected and repeated until accepted). A row
whose episode has ended gets a self-loop, which the env rejects, so no second episode starts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from molgym.envs.editing import EditSpec
from molgym.envs.vector import MolEditVectorEnv

__all__ = ["STOP", "NOOP", "Episodes", "run_episodes", "check_one_atom_start"]

#: MultiDiscrete actions ``(first, second, bond, stop)``.
STOP = (0, 0, 0, 1)
NOOP = (0, 0, 0, 0)  # a self-loop: always rejected, changes nothing


@dataclass
class Episodes:
    """One finished episode per row: SMILES, final reward (the task's score), the final graphs
    ``types (B, N)`` / ``bonds (B, N, N)``, and the edits the env rejected."""

    smiles: list[str]
    rewards: np.ndarray
    types: np.ndarray
    bonds: np.ndarray
    rejected: int


def run_episodes(env: MolEditVectorEnv, next_actions: Callable[[np.ndarray], list[list[tuple[int, int, int, int]]]],
                 seed: int | None = None) -> Episodes:
    """Play one episode per row; ``next_actions(rows)`` returns a non-empty action list per row (``[STOP]`` ends it)."""
    B = env.num_envs
    env.reset(seed=seed)
    queues = [deque() for _ in range(B)]
    done, stopping = np.zeros(B, dtype=bool), np.zeros(B, dtype=bool)
    smiles: list[str | None] = [None] * B
    rewards = np.zeros(B)
    types = np.full((B, env.max_atoms), -1, dtype=np.int8)
    bonds = np.zeros((B, env.max_atoms, env.max_atoms), dtype=np.int8)
    rejected = 0
    while not done.all():
        need = np.flatnonzero(~done & ~stopping & np.array([not q for q in queues]))
        if need.size:
            for i, actions in zip(need.tolist(), next_actions(need), strict=True):
                if not actions:
                    raise ValueError(f"next_actions gave no action for row {i}")
                queues[i].extend(actions)
        actions = np.empty((B, 4), dtype=np.int64)
        for i in range(B):
            if done[i]:
                actions[i] = NOOP
            elif stopping[i]:
                actions[i] = STOP
            else:
                actions[i] = queues[i].popleft()
                if actions[i, 3] == 1:
                    stopping[i] = True
                    queues[i].clear()
        obs, reward, terminated, truncated, info = env.step(actions)
        rejected += int((~info["valid"] & ~done & ~stopping).sum())
        ended = np.flatnonzero((terminated | truncated) & ~done)
        for i, s in zip(ended.tolist(), env.smiles_of(ended), strict=True):
            smiles[i], rewards[i] = s, reward[i]
        types[ended], bonds[ended] = obs["atom_types"][ended], obs["bonds"][ended]
        done[ended] = True
    return Episodes(smiles, rewards, types, bonds, rejected)


def check_one_atom_start(spec: EditSpec, agent: str) -> int:
    """The type of the task's single one-atom start molecule; a clear error for tasks that start elsewhere."""
    starts = spec.start_graphs
    if len(starts) != 1 or starts[0].num_atoms != 1:
        raise ValueError(f"{agent} builds molecules from one atom; this task starts from other molecules "
                         f"(e.g. {starts[0].smiles()})")
    return int(starts[0].atom_types[0])
