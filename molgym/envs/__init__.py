"""The environments, one per file; :data:`ENV_IDS` maps each registered id to its class."""

from molgym.envs.logp_target import MolEditLogPTargetEnv
from molgym.envs.mol_edit import EditAction, MolEditEnv
from molgym.envs.mol_opt import MolOptEnv
from molgym.envs.mw_target import MolEditMWTargetEnv
from molgym.envs.plogp import MolEditPLogPEnv

#: Registered id -> environment class.
ENV_IDS = {
    "MolEdit-v0": MolEditEnv,
    "MolEdit-PLogP-v0": MolEditPLogPEnv,
    "MolEdit-LogPTarget-v0": MolEditLogPTargetEnv,
    "MolEdit-MWTarget-v0": MolEditMWTargetEnv,
    "MolOpt-v0": MolOptEnv,
}

__all__ = [
    "ENV_IDS",
    "EditAction",
    "MolEditEnv",
    "MolEditLogPTargetEnv",
    "MolEditMWTargetEnv",
    "MolEditPLogPEnv",
    "MolOptEnv",
]
