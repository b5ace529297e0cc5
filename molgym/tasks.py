"""Tasks: an objective (what the oracle scores) and the environment agents build molecules in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym

import molgym  # noqa: F401 - registers the environments
from molgym.oracle import Oracle, OracleTerm
from molgym.plugins import load_object
from molgym.rewards import (
    QED,
    ConstrainedImprovement,
    FunctionTerm,
    LogP,
    MolWt,
    PenalizedLogP,
    RangeTarget,
    Term,
)

if TYPE_CHECKING:
    from molgym.envs.editing import EditSpec

__all__ = ["PMO_TASKS", "TASKS", "Task", "make_task"]

#: The 23 tasks of the PMO benchmark (Gao et al., NeurIPS 2022), named as PMO and TDC name them.
PMO_TASKS = (
    "albuterol_similarity",
    "amlodipine_mpo",
    "celecoxib_rediscovery",
    "deco_hop",
    "drd2",
    "fexofenadine_mpo",
    "gsk3b",
    "isomers_c7h8n2o2",
    "isomers_c9h10n2o2pf2cl",
    "jnk3",
    "median1",
    "median2",
    "mestranol_similarity",
    "osimertinib_mpo",
    "perindopril_mpo",
    "qed",
    "ranolazine_mpo",
    "scaffold_hop",
    "sitagliptin_mpo",
    "thiothixene_rediscovery",
    "troglitazone_rediscovery",
    "valsartan_smarts",
    "zaleplon_mpo",
)


@dataclass
class Task:
    """A named objective and the environment in which agents are scored by it.

    Attributes:
        name: the task's name (``qed``, ``plogp``, ...).
        objective: the :class:`~molgym.rewards.Term` the oracle scores.
        env_id: the registered environment agents act in.
        env_kwargs: its arguments. By default there is no step reward (with masks every action is
            legal, and a per-step bonus only pays for longer episodes) and SMILES only at the end.
    """

    name: str
    objective: Term
    env_id: str = "MolEdit-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def make_env(self, oracle: Oracle | None = None, **overrides) -> gym.Env:
        """The task's env; its final reward is the oracle, or ``reward=...`` from ``overrides``
        (e.g. ``reward=[]`` to build molecules without scoring them)."""
        return gym.make(self.env_id, **self._env_arguments(oracle, overrides))

    def make_vector_env(self, oracle: Oracle | None = None, num_envs: int = 32, **overrides):
        """The task's env as a native batched env of ``num_envs`` molecules (same arguments as :meth:`make_env`)."""
        from molgym.envs import ENV_IDS
        from molgym.envs.vector import MolEditVectorEnv

        return MolEditVectorEnv(ENV_IDS[self.env_id], num_envs=num_envs, **self._env_arguments(oracle, overrides))

    def edit_spec(self, **overrides) -> EditSpec:
        """The task's env as a spec (vocabulary, action layout, limits, start molecules), without
        building an env: what agents size their networks and decode actions by."""
        from molgym.envs import ENV_IDS

        return ENV_IDS[self.env_id].parse_arguments(**self._env_arguments(None, {"reward": [], **overrides})).spec

    def _env_arguments(self, oracle: Oracle | None, overrides: dict[str, Any]) -> dict[str, Any]:
        reward = overrides.pop("reward", OracleTerm(oracle, self.name) if oracle is not None else self.objective)
        return {"step_reward": None, "info_smiles": "end", **self.env_kwargs, **overrides, "reward": reward}

    def oracle(self, budget: int, on_call=None, time_limit: float | None = None) -> Oracle:
        return Oracle(self.objective, budget, on_call=on_call, time_limit=time_limit)

    @property
    def start_smiles(self) -> list[str] | None:
        """The molecules episodes start from, for tasks that edit given molecules (``constrained``)."""
        return self.env_kwargs.get("start_smiles")


def _custom(reward: str) -> Term:
    """The user's ``module:function``, tried on ethanol so that a function that cannot score a
    molecule is reported before any run spends its budget."""
    from rdkit import Chem

    from molgym.rewards import Context, RewardError

    term = FunctionTerm(load_object(reward, "reward"), name=reward.partition(":")[2])
    try:
        term(Context.of_mol(Chem.MolFromSmiles("CCO")))
    except RewardError as err:
        raise ValueError(f"the custom reward {reward} cannot score ethanol (CCO): {err}") from None
    return term


def make_task(
    name: str, start_smiles: Sequence[str] | None = None, threshold: float = 0.4, reward: str | None = None
) -> Task:
    """A task by name: ``qed``, ``plogp``, ``logp_target``, ``mw_target``, ``constrained`` (needs
    ``start_smiles``; ``threshold`` is the similarity threshold) or ``custom`` (``reward`` is a
    ``module:function`` taking an RDKit molecule), or one of :data:`PMO_TASKS` (GuacaMol objectives
    from :mod:`molgym.rewards.guacamol`; ``drd2``, ``gsk3b`` and ``jnk3`` need their classifier
    model: :mod:`molgym.rewards.classifiers`, which raises ``ModelUnavailable`` when it cannot be had)."""
    from molgym.rewards.classifiers import CLASSIFIERS, Classifier
    from molgym.rewards.guacamol import OBJECTIVES

    if name in OBJECTIVES:
        return Task(name, OBJECTIVES[name]())
    if name in CLASSIFIERS:
        return Task(name, Classifier(name))
    if name == "qed":
        return Task("qed", QED())
    if name == "plogp":
        return Task("plogp", PenalizedLogP(), "MolEdit-PLogP-v0")
    if name == "logp_target":
        return Task("logp_target", RangeTarget(LogP(), -2.5, -2.0), "MolEdit-LogPTarget-v0")
    if name == "mw_target":
        return Task("mw_target", RangeTarget(MolWt(), 500.0, 550.0), "MolEdit-MWTarget-v0")
    if name == "constrained":
        if not start_smiles:
            raise ValueError("the constrained task needs start molecules (e.g. the 800 of zinc_low_plogp_800.txt)")
        return Task(
            "constrained",
            ConstrainedImprovement(threshold),
            "MolOpt-v0",
            {"start_smiles": list(start_smiles), "threshold": threshold},
        )
    if name == "custom":
        if reward is None:
            raise ValueError("the custom task needs reward='module:function'")
        return Task("custom", _custom(reward))
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")


#: Task names, for command-line choices.
TASKS = (
    "qed",
    "plogp",
    "logp_target",
    "mw_target",
    "constrained",
    "custom",
    *(name for name in PMO_TASKS if name != "qed"),
)
