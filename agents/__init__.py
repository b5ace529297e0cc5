"""Agents that learn in molgym environments, one package each."""
