"""MolEdit-PLogP-v0: build a molecule maximising penalized logP."""

from __future__ import annotations

from molgym.envs.mol_edit import MolEditEnv
from molgym.rewards import PenalizedLogP, Reward, as_reward


class MolEditPLogPEnv(MolEditEnv):
    """
    ## Description

    :class:`~molgym.envs.mol_edit.MolEditEnv` (GCPN-style editing from one carbon) whose final
    reward is penalized logP: logP minus synthetic accessibility minus the large-ring penalty, in
    GCPN's normalised form (each part standardised with ZINC250k statistics). Pass
    ``reward=PenalizedLogP("unnormalized")`` for ``logP - SA - ring_penalty``. Long carbon chains
    score well on this objective: look at SA and the molecules, not only the number.

    ## Action Space

    As ``MolEdit-v0``: ``MultiDiscrete([N, N + T, 3, 2])``, flat ``Discrete(K)`` via ``FlatAction``.

    ## Observation

    As ``MolEdit-v0``: ``atom_types``, ``bonds``, ``num_atoms``, ``free_valence``.

    ## Rewards

    Step validity (``+-1/N``) every step; penalized logP of the final molecule at the end.

    ## Termination

    Legal stop (after ``min_steps`` = 20) or ``max_atoms`` (38) atoms; truncation at ``max_steps`` (128).

    ## Registered Configurations

    * ``MolEdit-PLogP-v0``
    """

    @classmethod
    def default_reward(cls) -> Reward:
        return as_reward(PenalizedLogP("normalized"))
