"""Graph GA (Jensen 2019) with PMO's settings: crossover and mutation of molecular graphs."""

from molgym_agents.graph_ga.agent import GraphGAAgent

__all__ = ["GraphGAAgent"]
