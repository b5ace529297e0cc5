"""Genetic GCPN: GCPN's policy tuned on the augmented likelihood, with replay and a genetic search."""

from molgym_agents.genetic_gcpn.agent import GeneticGCPNAgent

__all__ = ["GeneticGCPNAgent"]
