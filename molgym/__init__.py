"""molgym: Gymnasium environments for molecular graph editing, and the agents that learn in them.

Importing the package registers the environments::

    import gymnasium as gym, molgym
    env = gym.make("MolEdit-v0")
"""

import os
import sys
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


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch's tensor work in this process and in the processes it
    starts (``OMP_NUM_THREADS``, read when torch is first imported). Torch otherwise takes one per
    core, and two jobs that each do so on a shared machine slow each other down many times over:
    give each job its share (``molgym train --threads``, ``molgym compare`` does it per worker)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


__all__ = [
    "ENV_IDS",
    "set_threads",
    "MolEditVectorEnv",
    "ActionLayout",
    "AtomVocab",
    "MolGraph",
    "RewardError",
    "decode_action",
    "__version__",
]
