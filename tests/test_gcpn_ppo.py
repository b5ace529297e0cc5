"""PPO of the GCPN policy: it clips for real, skips autoreset steps, and learns a simple reward."""

from __future__ import annotations

import numpy as np
import torch

from agents.gcpn import GCPNPolicy
from agents.gcpn.ppo import PPO, PPOConfig
from molgym.envs import MolEditEnv
from molgym.envs.vector import MolEditVectorEnv


def nitrogen_share(mol):
    """Reward: the share of nitrogen atoms (easy to learn, known optimum)."""
    return sum(a.GetSymbol() == "N" for a in mol.GetAtoms()) / mol.GetNumAtoms()


def _setup(seed=0, num_envs=16, **config):
    env = MolEditVectorEnv(MolEditEnv, num_envs=num_envs, reward=nitrogen_share, step_reward=None, atom_types=["C", "N", "O"],
                           max_atoms=6, min_steps=2, max_steps=8, info_smiles="none")
    torch.manual_seed(seed)
    policy = GCPNPolicy(3, 6, 3, max_free=4, hidden=32, rank=8)
    return PPO(policy, env, PPOConfig(**{"num_steps": 16, "epochs": 4, "minibatch_size": 64, "learning_rate": 3e-3, **config}), seed=seed)


def test_the_old_policy_stays_frozen_so_ratios_move_and_clip():
    stats = _setup().update()
    assert stats.approx_kl > 0 and stats.clip_fraction > 0  # with a re-synced old policy both would be 0
    assert np.isfinite([stats.policy_loss, stats.value_loss, stats.entropy]).all()


def test_ppo_learns_a_simple_reward():
    ppo = _setup(seed=1)
    first = [np.mean(ppo.update().finished) for _ in range(2)]
    for _ in range(14):
        stats = ppo.update()
    last = np.mean(stats.finished)
    assert last > max(first) + 0.15, (first, last)


def test_autoreset_steps_are_left_out():
    ppo = _setup(num_envs=4, num_steps=1)
    stats = ppo.update()
    assert stats.transitions == 4  # a fresh start: every step counts
    ppo.ended[:] = True  # as if every episode had just ended: the next step only resets them
    before = [p.detach().clone() for p in ppo.policy.parameters()]
    stats = ppo.update()
    assert stats.transitions == 0
    assert all(torch.equal(a, b) for a, b in zip(before, ppo.policy.parameters()))  # nothing learned from them


def test_gcpn_agent_under_an_oracle_budget_saves_and_reloads(tmp_path):
    import pytest

    from agents.gcpn.agent import GCPNAgent
    from agents.registry import agent_class
    from molgym.tasks import make_task

    assert agent_class("gcpn") is GCPNAgent
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10, "min_steps": 2, "max_steps": 12}
    agent = GCPNAgent(task, seed=0, num_envs=8, hidden=32, rank=8, num_steps=8, minibatch_size=32, init=None)
    oracle = task.oracle(30)
    agent.train(oracle)
    assert oracle.calls == 30
    agent.save(tmp_path / "gcpn")
    loaded = GCPNAgent.load(tmp_path / "gcpn", task)
    assert all(torch.equal(a, b) for a, b in zip(agent.policy.state_dict().values(), loaded.policy.state_dict().values()))
    assert loaded._saved_ppo["optimizer"] is not None and len(loaded.propose(5)) == 5
    other = make_task("qed")
    other.env_kwargs = {"max_atoms": 12}
    with pytest.raises(ValueError, match="max_atoms 10"):
        GCPNAgent(other, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "gcpn" / "gcpn.pt"))
    with pytest.raises(ValueError, match="cannot read GCPN checkpoint"):
        GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "missing.pt"))


def test_a_saved_gcpn_agent_loads_without_its_initial_checkpoint(tmp_path):
    from agents.gcpn.agent import GCPNAgent
    from molgym.tasks import make_task

    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10}
    start = GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=None)
    start.save(tmp_path / "start")
    agent = GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "start" / "gcpn.pt"))
    agent.save(tmp_path / "run")
    (tmp_path / "start" / "gcpn.pt").unlink()
    loaded = GCPNAgent.load(tmp_path / "run", task)
    assert loaded.config["init"] == str(tmp_path / "start" / "gcpn.pt")
    assert all(torch.equal(a, b) for a, b in zip(agent.policy.state_dict().values(), loaded.policy.state_dict().values()))
