"""REINVENT (Olivecrona et al., 2017) with PMO's settings: a SMILES GRU prior, tuned by the augmented likelihood."""

from molgym_agents.reinvent.agent import ReinventAgent

__all__ = ["ReinventAgent"]
