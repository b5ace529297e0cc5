"""MolEdit-MWTarget-v0: build a molecule whose molecular weight lies in [500, 550]."""

from __future__ import annotations

from molgym.envs.mol_edit import MolEditEnv
from molgym.rewards import MolWt, RangeTarget, Reward, as_reward


class MolEditMWTargetEnv(MolEditEnv):
    """
    ## Description

    :class:`~molgym.envs.mol_edit.MolEditEnv` with GCPN's property-targeting task: the final
    molecule should weigh between 500 and 550 g/mol.

    ## Action Space

    As ``MolEdit-v0``: ``MultiDiscrete([N, N + T, 3, 2])``, flat ``Discrete(K)`` via ``FlatAction``.

    ## Observation

    As ``MolEdit-v0``: ``atom_types``, ``bonds``, ``num_atoms``, ``free_valence``.

    ## Rewards

    Step validity (``+-1/N``) every step; at the end ``RangeTarget(MolWt(), 500, 550)``: 1 inside
    the window, decreasing linearly by 1 per 50 g/mol outside it, down to -1.

    ## Termination

    Legal stop (after ``min_steps`` = 20) or ``max_atoms`` (38) atoms; truncation at ``max_steps`` (128).

    ## Registered Configurations

    * ``MolEdit-MWTarget-v0``
    """

    @classmethod
    def default_reward(cls) -> Reward:
        return as_reward(RangeTarget(MolWt(), 500.0, 550.0))
