"""Stable-Baselines3: the graph features extractor and MaskablePPO training through FlatAction."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import molgym  # noqa: F401 - registers the environments
from agents.sb3 import MolGraphExtractor
from agents.sb3.features import padded_to_graph
from molgym.wrappers import FlatAction


class LegalityRecorder(gym.Wrapper):
    """Counts the steps whose action the env rejected."""

    def __init__(self, env):
        super().__init__(env)
        self.steps = 0
        self.rejected = 0

    def step(self, action):
        out = self.env.step(action)
        self.steps += 1
        self.rejected += not out[4]["valid"]
        return out


def make_env(seed: int = 0):
    def thunk():
        env = gym.make("MolEdit-v0", max_atoms=12, min_steps=3, max_steps=16, info_smiles="end")
        return LegalityRecorder(FlatAction(env))

    return thunk


def test_padded_batches_become_typed_edges():
    types = torch.tensor([[0, 1, -1], [2, -1, -1]])
    bonds = torch.zeros(2, 3, 3, dtype=torch.long)
    bonds[0, 0, 1] = bonds[0, 1, 0] = 2
    mask, edge_index, edge_type = padded_to_graph(types, bonds)
    assert mask.tolist() == [[True, True, False], [True, False, False]]
    assert edge_index.tolist() == [[0, 1], [1, 0]] and edge_type.tolist() == [1, 1]


def test_extractor_ignores_padding_and_is_permutation_invariant():
    env = make_env()()
    extractor = MolGraphExtractor(env.observation_space, features_dim=16)
    obs, _ = env.reset(seed=0, options={"smiles": "CC(=O)N"})
    batch = {k: torch.as_tensor(v[None]).float() for k, v in obs.items()}
    out = extractor(batch)
    assert out.shape == (1, 16)
    same, _ = env.reset(options={"smiles": "NC(C)=O"})  # the same molecule, atoms in another order
    again = extractor({k: torch.as_tensor(v[None]).float() for k, v in same.items()})
    assert torch.allclose(out, again, atol=1e-5)


@pytest.mark.parametrize("vec_env_cls", [DummyVecEnv, SubprocVecEnv])
def test_maskable_ppo_trains_and_never_takes_an_illegal_action(vec_env_cls):
    venv = vec_env_cls([make_env(i) for i in range(2)])
    model = MaskablePPO(
        "MultiInputPolicy",
        venv,
        n_steps=64,
        batch_size=64,
        n_epochs=2,
        seed=0,
        policy_kwargs=dict(features_extractor_class=MolGraphExtractor, features_extractor_kwargs=dict(features_dim=32, hidden=32, layers=2)),
        device="cpu",
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # it learned something
    steps = sum(venv.get_attr("steps"))
    rejected = sum(venv.get_attr("rejected"))
    assert steps >= 256 and rejected == 0
    venv.close()
