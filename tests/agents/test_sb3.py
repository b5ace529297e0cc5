"""Stable-Baselines3: the graph features extractor and MaskablePPO training through FlatAction."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import molgym  # noqa: F401 - registers the environments
from molgym.wrappers import FlatAction
from molgym_agents.sb3 import MolGraphExtractor, silent_logger
from molgym_agents.sb3.features import padded_to_graph


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
        policy_kwargs=dict(
            features_extractor_class=MolGraphExtractor,
            features_extractor_kwargs=dict(features_dim=32, hidden=32, layers=2),
        ),
        device="cpu",
    )
    model.set_logger(silent_logger())
    temp_before = set(Path(tempfile.gettempdir()).glob("SB3-*"))
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert set(Path(tempfile.gettempdir()).glob("SB3-*")) == temp_before  # SB3's default logger would make one
    assert model.num_timesteps >= 256
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # it learned something
    steps = sum(venv.get_attr("steps"))
    rejected = sum(venv.get_attr("rejected"))
    assert steps >= 256 and rejected == 0
    venv.close()


def _gcpn_model(env, **kwargs):
    from molgym_agents.sb3 import GCPNMaskablePolicy

    model = MaskablePPO(
        GCPNMaskablePolicy,
        env,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        seed=0,
        policy_kwargs={"atom_types": env.unwrapped.vocab.names, **kwargs},
    )
    model.set_logger(silent_logger())
    return model


def test_gcpn_policy_starts_from_the_shipped_weights_and_acts_legally():
    from molgym_agents.gcpn.agent import PRETRAINED

    env = FlatAction(gym.make("MolEdit-v0", step_reward=None, info_smiles="end"))  # the checkpoint's 38 atoms
    model = _gcpn_model(env)
    shipped = torch.load(PRETRAINED, weights_only=False)["policy"]
    assert all(torch.equal(shipped[k], v) for k, v in model.policy.gcpn.state_dict().items())
    obs, _ = env.reset(seed=0)
    tensors = {k: torch.as_tensor(v[None]).float() for k, v in obs.items()}  # as SB3 hands them over
    masks = env.action_masks()[None]
    actions, values, log_prob = model.policy(tensors, action_masks=masks)
    assert masks[0, int(actions[0])] and values.shape == (1, 1)
    _, again, entropy = model.policy.evaluate_actions(tensors, actions.float(), action_masks=masks)
    assert torch.allclose(again, log_prob) and entropy.item() > 0
    joint = model.policy.get_distribution(tensors, action_masks=masks)  # SB3's own distribution agrees
    assert torch.allclose(joint.log_prob(actions), log_prob, atol=1e-5)


def test_maskable_ppo_trains_the_gcpn_policy_and_reloads(tmp_path):
    env = make_env()()
    model = _gcpn_model(env, init=None, hidden=32, rank=8)  # 12 atoms: no shipped checkpoint fits
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(64)
    assert env.steps >= 64 and env.rejected == 0
    assert any(not torch.equal(before[k], v) for k, v in model.policy.state_dict().items())
    model.save(tmp_path / "model.zip")
    loaded = MaskablePPO.load(tmp_path / "model.zip")
    obs, _ = env.reset(seed=3)
    masks = env.get_wrapper_attr("action_masks")()
    assert (
        model.predict(obs, action_masks=masks, deterministic=True)[0]
        == loaded.predict(obs, action_masks=masks, deterministic=True)[0]
    )


def test_gcpn_policy_refuses_a_checkpoint_for_other_atom_types():
    env = make_env()()
    with pytest.raises(ValueError, match="max_atoms"):
        _gcpn_model(env)  # the shipped checkpoint is for 38 atoms
    with pytest.raises(ValueError, match="flat layout"):
        from molgym_agents.sb3 import GCPNMaskablePolicy

        MaskablePPO(
            GCPNMaskablePolicy,
            DummyVecEnv(
                [
                    lambda: gym.wrappers.TransformAction(
                        gym.make("MolEdit-v0", max_atoms=12), lambda a: a, gym.spaces.Discrete(7)
                    )
                ]
            ),
        )
