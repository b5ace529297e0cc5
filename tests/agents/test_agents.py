"""The agent registry (entry points), the layering of molgym and its agents, the random agent and
sb3-ppo under the protocol: train, propose, save, load."""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import tomllib

from molgym.agent import Agent, agent_class, registered_agents
from molgym.tasks import make_task
from molgym_agents.random import RandomAgent
from molgym_agents.sb3.agent import SB3PPOAgent
from tests.agents_for_tests import whole_and_resumed

ROOT = Path(__file__).resolve().parents[2]


def test_registry_names_and_user_classes():
    assert agent_class("random") is RandomAgent and agent_class("sb3-ppo") is SB3PPOAgent
    assert agent_class("graph_ga").name == "graph_ga" and agent_class("reinvent").name == "reinvent"
    assert agent_class("tests.agents_for_tests:ListAgent").name == "list"
    with pytest.raises(ValueError, match="unknown agent 'gcpn-x'"):
        agent_class("gcpn-x")
    with pytest.raises(ValueError, match="cannot load agent"):
        agent_class("tests.agents_for_tests:Missing")
    with pytest.raises(ValueError, match="not a molgym.agent.Agent"):
        agent_class("molgym.tasks:Task")


def test_every_registered_agent_loads_under_its_own_name():
    names = registered_agents()
    assert {"random", "sb3-ppo", "gcpn", "molgan", "graphrnn", "graph_ga", "reinvent"} <= set(names)
    for name in names:
        cls = agent_class(name)
        assert issubclass(cls, Agent) and cls.name == name and cls.__module__.startswith("molgym_agents.")


def test_a_user_package_registers_an_agent_through_entry_points(tmp_path, monkeypatch):
    # what pip writes for a user's package declaring [project.entry-points."molgym.agents"]
    info = tmp_path / "user_agents-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: user-agents\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[molgym.agents]\nlist-agent = tests.agents_for_tests:ListAgent\n")
    assert "list-agent" not in registered_agents()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registered_agents()["list-agent"] == "tests.agents_for_tests:ListAgent"
    assert agent_class("list-agent").name == "list"


def _imported_names(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module)
    return names


def test_the_library_never_imports_the_agents_package():
    # not at the top of a module, nor inside a function
    for file in (ROOT / "molgym").rglob("*.py"):
        for name in _imported_names(ast.parse(file.read_text())):
            assert name.split(".")[0] not in ("agents", "molgym_agents"), f"{file.relative_to(ROOT)} imports {name}"
    code = (
        "import sys, molgym, molgym.cli, molgym.compare, molgym.compare.suite, molgym.training, molgym.agent\n"
        "molgym.cli.build_parser(); molgym.agent.registered_agents()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('agents', 'molgym_agents')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_scripts_build_on_the_library_not_on_the_command_line_module():
    for file in (ROOT / "scripts").glob("*.py"):
        names = _imported_names(ast.parse(file.read_text()))
        assert not [n for n in names if n == "molgym.cli" or n.startswith("molgym.cli.")], (
            f"{file.name} imports molgym.cli"
        )


def test_pyproject_lists_every_package_under_its_installed_name():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"molgym_agents": "agents", **{p: p for p in ["molgym"]}}
    assert setuptools["package-dir"] == {"molgym_agents": "agents"}
    found = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert set(setuptools["packages"]) == found


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


def test_a_resumed_random_run_equals_an_uninterrupted_one(tmp_path):
    """One update is one episode; the checkpoint keeps the agent's generator and the env's, which
    draws each episode's start molecule among several."""
    task = make_task("constrained", start_smiles=["CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1", "CCN"], threshold=0.0)
    whole, resumed = whole_and_resumed(
        lambda: RandomAgent(task, seed=5), RandomAgent, task, tmp_path, steps=400, stop_at=150
    )
    assert resumed.updates == whole.updates > 5 and resumed.steps == whole.steps
    logs = [(tmp_path / run / "log.csv").read_text().splitlines() for run in ("whole", "split")]
    strip = [[",".join(line.split(",")[:3] + line.split(",")[4:]) for line in log] for log in logs]  # not wall time
    assert strip[0] == strip[1]
    assert resumed.propose(4) == whole.propose(4)


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
