"""Stable-Baselines3 compatibility: a graph features extractor for MolEdit observations, the GCPN
policy as a MaskablePPO policy, and a logger that writes nothing."""

from stable_baselines3.common.logger import Logger

from molgym_agents.sb3.features import MolGraphExtractor
from molgym_agents.sb3.gcpn_policy import GCPNMaskablePolicy

__all__ = ["MolGraphExtractor", "GCPNMaskablePolicy", "silent_logger"]


def silent_logger() -> Logger:
    """An SB3 logger that writes nothing, for ``model.set_logger`` before ``learn()``: SB3's default
    one makes an empty ``SB3-<date>`` folder in the temporary directory on every ``learn()``."""
    return Logger(folder=None, output_formats=[])
