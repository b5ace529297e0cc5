"""Stable-Baselines3 compatibility: a graph features extractor for MolEdit observations."""

from agents.sb3.features import MolGraphExtractor

__all__ = ["MolGraphExtractor"]
