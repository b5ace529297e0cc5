"""Composable reward terms; see :mod:`molgym.rewards.base` for how they combine."""

from molgym.rewards.adversarial import Adversarial
from molgym.rewards.base import Context, FunctionTerm, Interrupt, Reward, RewardError, Term, as_reward
from molgym.rewards.learned import ModelTerm, Surrogate, graph_batch
from molgym.rewards.properties import (
    QED,
    SA,
    ConstrainedImprovement,
    LogP,
    MolWt,
    PenalizedLogP,
    RangeTarget,
    Similarity,
    ZincFilter,
    ring_penalty,
    sa_score,
    tanimoto,
)
from molgym.rewards.validity import StepValidity

__all__ = [
    "Adversarial",
    "ModelTerm",
    "Surrogate",
    "ConstrainedImprovement",
    "Context",
    "FunctionTerm",
    "Interrupt",
    "LogP",
    "MolWt",
    "PenalizedLogP",
    "QED",
    "RangeTarget",
    "Reward",
    "RewardError",
    "SA",
    "Similarity",
    "StepValidity",
    "Term",
    "ZincFilter",
    "as_reward",
    "graph_batch",
    "ring_penalty",
    "sa_score",
    "tanimoto",
]
