"""The agent registry, the random agent and sb3-ppo under the protocol: train, propose, save, load."""

from __future__ import annotations

import tempfile

import pytest

from agents.base import Agent
from agents.random import RandomAgent
from agents.registry import agent_class
from agents.sb3.agent import SB3PPOAgent
from molgym.tasks import make_task


def test_registry_names_and_user_classes():
    assert agent_class("random") is RandomAgent and agent_class("sb3-ppo") is SB3PPOAgent
    assert agent_class("graph_ga").name == "graph_ga" and agent_class("reinvent").name == "reinvent"
    assert agent_class("tests.agents_for_tests:ListAgent").name == "list"
    with pytest.raises(ValueError, match="unknown agent 'gcpn-x'"):
        agent_class("gcpn-x")
    with pytest.raises(ValueError, match="cannot load agent"):
        agent_class("tests.agents_for_tests:Missing")
    with pytest.raises(ValueError, match="not an agents.base.Agent"):
        agent_class("molgym.tasks:Task")


def test_random_agent_spends_exactly_the_budget_and_resumes_exactly(tmp_path):
    task = make_task("qed")
    oracle = task.oracle(40)
    agent = RandomAgent(task, seed=3)
    agent.train(oracle)
    assert oracle.calls == 40
    agent.save(tmp_path / "agent")
    expected = agent.propose(3)
    again = RandomAgent.load(tmp_path / "agent", task)
    assert isinstance(again, Agent) and again.propose(3) == expected


def test_random_agent_stops_when_nothing_new_can_be_made():
    # two atom types, two atoms: the few possible molecules are soon all scored
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 2, "atom_types": ["C", "F"], "min_steps": 0}
    oracle = task.oracle(1000)
    RandomAgent(task, seed=0, patience=50).train(oracle)
    assert 0 < oracle.calls < 10


def test_sb3_ppo_agent_trains_under_the_budget_and_reloads(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where SB3's default logger would make folders
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10, "min_steps": 2, "max_steps": 12}
    oracle = task.oracle(25)
    agent = SB3PPOAgent(task, seed=0, n_steps=64, batch_size=64, features_dim=32)
    agent.train(oracle)
    assert oracle.calls == 25 and agent.model.num_timesteps >= 25
    assert list(scratch.glob("SB3-*")) == []  # training leaves no empty SB3-<date> folder behind
    agent.save(tmp_path / "ppo")
    loaded = SB3PPOAgent.load(tmp_path / "ppo", task)
    assert loaded.config == agent.config
    assert len(loaded.propose(4)) == 4
