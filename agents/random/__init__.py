"""The random agent: uniform over the legal actions, the floor every agent should beat."""

from molgym_agents.random.agent import RandomAgent

__all__ = ["RandomAgent"]
