"""Agents by name; a user's own agent is named ``module:Class``."""

from __future__ import annotations

from agents.base import Agent
from molgym.plugins import load_object

__all__ = ["AGENTS", "agent_class"]

#: Registered agents: name -> ``module:Class``.
AGENTS = {
    "random": "agents.random:RandomAgent",
    "sb3-ppo": "agents.sb3.agent:SB3PPOAgent",
    "gcpn": "agents.gcpn.agent:GCPNAgent",
    "molgan": "agents.molgan:MolGANAgent",
    "graphrnn": "agents.graphrnn:GraphRNNAgent",
    "graph_ga": "agents.graph_ga:GraphGAAgent",
    "reinvent": "agents.reinvent:ReinventAgent",
}


def agent_class(name: str) -> type[Agent]:
    """The agent class for a registered name or a ``module:Class`` path."""
    target = AGENTS.get(name, name)
    if ":" not in target:
        raise ValueError(f"unknown agent {name!r}: registered agents are {', '.join(AGENTS)}, or give module:Class")
    cls = load_object(target, "agent")
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"{target} is not an agents.base.Agent subclass")
    return cls
