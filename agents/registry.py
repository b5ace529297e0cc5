"""Agents by name; a user's own agent is named ``module:Class``."""

from __future__ import annotations

import importlib

from agents.base import Agent

__all__ = ["AGENTS", "agent_class"]

#: Registered agents: name -> ``module:Class``.
AGENTS = {
    "random": "agents.random:RandomAgent",
    "sb3-ppo": "agents.sb3.agent:SB3PPOAgent",
}


def agent_class(name: str) -> type[Agent]:
    """The agent class for a registered name or a ``module:Class`` path."""
    target = AGENTS.get(name, name)
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"unknown agent {name!r}: registered agents are {', '.join(AGENTS)}, or give module:Class")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot load agent {name!r} ({target}): {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ValueError(f"{target} is not an agents.base.Agent subclass")
    return cls
