"""Building molecules through the env for agents that decide several edits at once (MolGAN's
whole graphs, GraphRNN's node steps).

:func:`run_episodes` plays exactly one episode in every row of a native batched env
(:func:`molgym.rollout.rollout`), keeping a queue of decided edits per row: when a row's queue is
empty, the agent's ``next_actions(rows)`` is asked for the next ones (it may read the env's current
state, ``env.num_atoms`` and ``env.free``, which already include every queued action). Once a row
takes :data:`STOP`, it repeats it until the env accepts it (``min_steps``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from molgym.envs.editing import EditSpec
from molgym.envs.vector import MolEditVectorEnv
from molgym.rollout import Episodes, rollout

__all__ = ["STOP", "Episodes", "run_episodes", "check_one_atom_start"]

#: MultiDiscrete actions ``(first, second, bond, stop)``.
STOP = (0, 0, 0, 1)


def run_episodes(
    env: MolEditVectorEnv,
    next_actions: Callable[[np.ndarray], list[list[tuple[int, int, int, int]]]],
    seed: int | None = None,
) -> Episodes:
    """Play one episode per row; ``next_actions(rows)`` returns a non-empty action list per row (``[STOP]`` ends it)."""
    queues = [deque() for _ in range(env.num_envs)]
    stopping = np.zeros(env.num_envs, dtype=bool)

    def act(obs, rows: np.ndarray) -> np.ndarray:
        need = rows[~stopping[rows] & np.array([not queues[i] for i in rows.tolist()], dtype=bool)]
        if need.size:
            for i, actions in zip(need.tolist(), next_actions(need), strict=True):
                if not actions:
                    raise ValueError(f"next_actions gave no action for row {i}")
                queues[i].extend(actions)
        chosen = np.empty((len(rows), 4), dtype=np.int64)
        for j, i in enumerate(rows.tolist()):
            chosen[j] = STOP if stopping[i] else queues[i].popleft()
            if chosen[j, 3] == 1:
                stopping[i] = True
                queues[i].clear()
        return chosen

    return rollout(env, act, seed=seed)


def check_one_atom_start(spec: EditSpec, agent: str) -> int:
    """The type of the task's single one-atom start molecule; a clear error for tasks that start elsewhere."""
    starts = spec.start_graphs
    if len(starts) != 1 or starts[0].num_atoms != 1:
        raise ValueError(
            f"{agent} builds molecules from one atom; this task starts from other molecules (e.g. {starts[0].smiles()})"
        )
    return int(starts[0].atom_types[0])
