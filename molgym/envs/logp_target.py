"""MolEdit-LogPTarget-v0: build a molecule whose logP lies in [-2.5, -2]."""

from __future__ import annotations

from molgym.envs.mol_edit import MolEditEnv
from molgym.rewards import LogP, RangeTarget, Reward, as_reward


class MolEditLogPTargetEnv(MolEditEnv):
    """
    ## Description

    :class:`~molgym.envs.mol_edit.MolEditEnv` with GCPN's property-targeting task: the final
    molecule should have a Crippen logP inside ``[-2.5, -2.0]``.

    ## Action Space

    As ``MolEdit-v0``: ``MultiDiscrete([N, N + T, 3, 2])``, flat ``Discrete(K)`` via ``FlatAction``.

    ## Observation

    As ``MolEdit-v0``: ``atom_types``, ``bonds``, ``num_atoms``, ``free_valence``.

    ## Rewards

    Step validity (``+-1/N``) every step; at the end ``RangeTarget(LogP(), -2.5, -2.0)``: 1 inside
    the window, decreasing linearly by 1 per 0.5 logP units outside it, down to -1.

    ## Termination

    Legal stop (after ``min_steps`` = 20) or ``max_atoms`` (38) atoms; truncation at ``max_steps`` (128).

    ## Registered Configurations

    * ``MolEdit-LogPTarget-v0``
    """

    @classmethod
    def default_reward(cls) -> Reward:
        return as_reward(RangeTarget(LogP(), -2.5, -2.0))
