"""MolOpt-v0: constrained optimisation of penalized logP from given start molecules."""

from __future__ import annotations

from collections.abc import Sequence

from molgym.envs.mol_edit import EnvArguments, MolEditEnv
from molgym.rewards import ConstrainedImprovement


class MolOptEnv(MolEditEnv):
    """
    ## Description

    Constrained property optimisation (JT-VAE, GCPN): each episode starts from one of the
    ``start_smiles`` molecules (sampled uniformly) and edits it; the final reward is the
    improvement of unnormalised penalized logP over the start molecule, provided the result keeps
    a Tanimoto similarity (Morgan radius 2, 2048 bits) of at least ``threshold`` to it. Bonds can
    be removed as well as added (MolDQN-style), so the agent can also take things away. The
    standard benchmark passes the 800 ZINC molecules of lowest penalized logP
    (``zinc_low_plogp_800.txt``); there is no default: with no ``start_smiles`` the constructor
    says so.

    ## Action Space

    ``MultiDiscrete([N, N + T, 4, 2])``: as ``MolEdit-v0`` with the fourth bond choice "remove"
    (legal when the molecule stays one fragment; an atom left with no bond is dropped).

    ## Observation

    As ``MolEdit-v0``: ``atom_types``, ``bonds``, ``num_atoms``, ``free_valence``.

    ## Rewards

    Step validity (``+-1/N``) every step; at the end
    ``ConstrainedImprovement(threshold)``: ``plogp(mol) - plogp(start)`` when the similarity is
    at least ``threshold``, else ``min(improvement, 0) - 10 * (threshold - similarity)``.

    ## Termination

    Legal stop (allowed from the first step) or ``max_atoms`` (38) atoms; truncation at
    ``max_steps`` (128).

    ## Registered Configurations

    * ``MolOpt-v0``: ``threshold=0.4`` by default (the literature reports 0.0, 0.2, 0.4 and 0.6).
    """

    default_min_steps = 0
    default_allow_removal = True

    def __init__(self, threshold: float = 0.4, **arguments):
        self.threshold = float(threshold)
        super().__init__(threshold=threshold, **arguments)

    @classmethod
    def parse_arguments(
        cls, start_smiles: str | Sequence[str] | None = None, threshold: float = 0.4, reward=None, **kwargs
    ) -> EnvArguments:
        if start_smiles is None:
            raise ValueError(
                "MolOpt-v0 needs start molecules: gym.make('MolOpt-v0', start_smiles=[...]) (on the command "
                "line: --start FILE); the benchmark set is the 800 molecules of zinc_low_plogp_800.txt, read with "
                "molgym.data.load_smiles(path)"
            )
        reward = ConstrainedImprovement(float(threshold)) if reward is None else reward
        return super().parse_arguments(start_smiles=start_smiles, reward=reward, **kwargs)
