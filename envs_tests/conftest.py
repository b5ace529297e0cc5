"""Shared helpers for the environment conformance tests."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import molgym

molgym.set_threads(1)  # as tests/conftest.py: the suite shares its machine

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: Constructor arguments a registered id needs in the tests (MolOpt has no default start set).
MAKE_KWARGS = {"MolOpt-v0": {"start_smiles": ["CCO", "O=C(O)c1ccccc1O", "C[NH+]1CCC(C(=O)[O-])CC1"]}}


def make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **{**MAKE_KWARGS.get(env_id, {}), **kwargs})


def masked_action(env: gym.Env, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random legal action, as the env's MultiDiscrete array."""
    legal = np.flatnonzero(env.unwrapped.action_masks())
    return env.unwrapped.layout.to_multidiscrete(int(legal[rng.integers(legal.size)]))


@pytest.fixture(params=sorted(molgym.ENV_IDS))
def env_id(request) -> str:
    return request.param


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path
