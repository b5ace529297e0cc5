"""Agents that learn in molgym environments, one package each; installed as ``molgym_agents``
and registered in the ``molgym.agents`` entry-point group (see pyproject.toml)."""
