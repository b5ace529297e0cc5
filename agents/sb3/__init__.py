"""Stable-Baselines3 compatibility: a graph features extractor for MolEdit observations, and the
GCPN policy as a MaskablePPO policy."""

from molgym_agents.sb3.features import MolGraphExtractor
from molgym_agents.sb3.gcpn_policy import GCPNMaskablePolicy

__all__ = ["MolGraphExtractor", "GCPNMaskablePolicy"]
