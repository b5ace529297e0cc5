"""Wrappers: :class:`FlatAction` turns the GCPN action into one ``Discrete`` index."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from molgym.envs.mol_edit import EditAction, MolEditEnv

__all__ = ["FlatAction"]


class FlatAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Expose a MolEdit env's actions as ``Discrete(K)``, with :meth:`action_masks`.

    Index ``k = (bond * N + first) * (N + T) + second`` for edits and ``k = K - 1`` for stop, the
    same indexing as ``env.unwrapped.action_masks()`` and ``info["action_mask"]``. This is what
    sb3-contrib's ``MaskablePPO`` needs: it masks a ``MultiDiscrete`` space per dimension, which
    cannot express which (first, second, bond) combinations are jointly legal.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)  # Gymnasium recreates a wrapper from its arguments
        gym.ActionWrapper.__init__(self, env)
        if not isinstance(env.unwrapped, MolEditEnv):
            raise TypeError(f"FlatAction wraps MolEdit environments, got {type(env.unwrapped).__name__}")
        self.layout = env.unwrapped.layout
        self.action_space = spaces.Discrete(self.layout.size)

    def action(self, action) -> np.ndarray:
        """The flat index itself (the env takes it as it is)."""
        k = np.asarray(action)
        if k.shape not in ((), (1,)) or k.dtype.kind not in "iu":
            raise ValueError(f"a flat action is one integer, got {action!r}")
        return k.reshape(())

    def action_masks(self) -> np.ndarray:
        """``(K,)`` bool mask of the legal flat actions."""
        return self.env.unwrapped.action_masks()

    def decode_action(self, k: int) -> EditAction:
        return self.env.unwrapped.decode_action(k)
