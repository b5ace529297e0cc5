"""molgym: Gymnasium environments for molecular graph editing, and the agents that learn in them.

Importing the package registers the environments::

    import gymnasium as gym, molgym
    env = gym.make("MolEdit-v0")
"""

from functools import partial

from gymnasium.envs.registration import register, registry

from molgym.chem import ActionLayout, AtomVocab, MolGraph
from molgym.envs import ENV_IDS
from molgym.envs.vector import MolEditVectorEnv
from molgym.rewards import RewardError

__version__ = "0.2.0"

for _env_id, _cls in ENV_IDS.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point=f"{_cls.__module__}:{_cls.__name__}",
            vector_entry_point=partial(MolEditVectorEnv, _cls),
        )


def decode_action(k: int, max_atoms: int = 38, num_types: int | None = None, allow_removal: bool = False):
    """``(first, second, bond, stop)`` of flat action ``k`` (defaults: the default vocabulary, N = 38)."""
    if num_types is None:
        num_types = len(AtomVocab.default())
    return ActionLayout(max_atoms, num_types, allow_removal).decode(k)


__all__ = ["ENV_IDS", "MolEditVectorEnv", "ActionLayout", "AtomVocab", "MolGraph", "RewardError", "decode_action", "__version__"]
