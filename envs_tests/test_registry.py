"""Conformance of every registered environment id (Minigrid-style, driven by the registry)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import molgym
from envs_tests.conftest import make, masked_action


def test_every_env_class_is_registered():
    for env_id, cls in molgym.ENV_IDS.items():
        assert gym.spec(env_id).entry_point == f"{cls.__module__}:{cls.__name__}"


def test_docstrings_have_the_fixed_sections(env_id):
    doc = molgym.ENV_IDS[env_id].__doc__
    for section in (
        "Description",
        "Action Space",
        "Observation",
        "Rewards",
        "Termination",
        "Registered Configurations",
    ):
        assert f"## {section}" in doc, f"{env_id} docstring lacks '## {section}'"
    assert env_id in doc


@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_check_env(env_id, render_mode):
    env = make(env_id, render_mode=render_mode)
    check_env(env.unwrapped, skip_render_check=render_mode is None)


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")  # checking a wrapper is the point
def test_check_env_through_the_flat_action_wrapper(env_id):
    from molgym.wrappers import FlatAction

    wrapped = FlatAction(make(env_id))
    check_env(wrapped)  # Gymnasium recreates the wrapper from the arguments it recorded
    assert wrapped.spec.additional_wrappers[-1].name == "FlatAction"


def _rollout(env, seed: int, steps: int):
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    trace = [(info["smiles"], obs["bonds"].tobytes())]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(masked_action(env, rng))
        trace.append((info["smiles"], obs["bonds"].tobytes(), reward, terminated, truncated, info["valid"]))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append((info["smiles"],))
    return trace


def test_same_seed_same_rollout(env_id):
    a = _rollout(make(env_id), seed=3, steps=150)
    b = _rollout(make(env_id), seed=3, steps=150)
    assert a == b
    assert a != _rollout(make(env_id), seed=4, steps=150)


def test_pickled_env_continues_identically(env_id):
    env = make(env_id)
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    for _ in range(10):
        env.step(masked_action(env, rng))
    clone = pickle.loads(pickle.dumps(env.unwrapped))
    for _ in range(30):
        action = masked_action(env, rng)
        expected = env.unwrapped.step(action)
        got = clone.step(action)
        assert got[1:4] == expected[1:4]
        assert got[4]["smiles"] == expected[4]["smiles"]
        if expected[2] or expected[3]:
            break


def test_render_modes(env_id):
    ansi = make(env_id, render_mode="ansi")
    _, info = ansi.reset(seed=0)
    assert ansi.render().strip() == info["smiles"]
    image = make(env_id, render_mode="rgb_array")
    image.reset(seed=0)
    frame = image.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.min() < 255  # something was drawn


def test_truncation_at_max_steps(env_id):
    env = make(env_id, max_steps=5, min_steps=10)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for step in range(1, 6):
        _, reward, terminated, truncated, info = env.step(masked_action(env, rng))
        assert type(terminated) is bool and type(truncated) is bool and type(reward) is float
        if terminated:
            pytest.skip("the molecule filled max_atoms first")
        assert truncated == (step == 5)
    # the final reward is paid on truncation: the property terms appear in reward_terms
    assert set(info["reward_terms"]) == set(env.unwrapped.total_reward.names)
    assert reward == pytest.approx(sum(info["reward_terms"].values()))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_env_smoke(env_id, mode):
    kwargs = {"start_smiles": ["CCO", "c1ccccc1O"]} if env_id == "MolOpt-v0" else {}
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, **kwargs)
    try:
        obs, info = envs.reset(seed=0)
        assert obs["bonds"].shape == (2, 38, 38)
        for _ in range(5):
            obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert reward.shape == (2,)
        assert "smiles" in info and len(info["smiles"]) == 2
    finally:
        envs.close()
