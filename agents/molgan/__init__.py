"""MolGAN (De Cao & Kipf, 2018): generator, WGAN-GP critic and reward network, as the ``molgan`` agent."""

from molgym_agents.molgan.agent import MolGANAgent
from molgym_agents.molgan.model import Generator, GraphCritic

__all__ = ["Generator", "GraphCritic", "MolGANAgent"]
