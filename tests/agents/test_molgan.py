"""MolGAN: graphs built through the env, the reward network as a regressor, learning, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molgym.chem import AtomVocab, MolGraph, canonical_smiles, parse_smiles
from molgym.data import encode_smiles, load_smiles
from molgym.rewards import QED, Context
from molgym.tasks import make_task
from molgym_agents.molgan import MolGANAgent
from molgym_agents.molgan.agent import GraphPlan
from molgym_agents.molgan.model import GraphCritic, one_hot_graphs
from molgym_agents.replay import run_episodes
from tests.agents_for_tests import whole_and_resumed

SMALL = ["CCO", "CCN", "CCC", "CNC", "COC", "CC(C)O", "NCCO", "CC=O", "CCCN", "OCCO", "NC=O", "CC#N", "CCOC", "NCC(N)C"]


def _task(tmp_path):
    (tmp_path / "small.smi").write_text("\n".join(SMALL))
    task = make_task("custom", reward="tests.agents_for_tests:nitrogen_share")
    task.env_kwargs = {"atom_types": ["C", "N", "O"], "max_atoms": 8, "min_steps": 0, "max_steps": 30}
    return task


def _agent(task, tmp_path, seed=0):
    return MolGANAgent(
        task, seed=seed, max_atoms=5, data=str(tmp_path / "small.smi"), real_scored=14, batch_size=32, n_critic=1
    )


def test_graphs_are_built_through_the_env_exactly_or_by_its_rules():
    task = make_task("qed")
    env = task.make_vector_env(None, num_envs=3, reward=[], min_steps=20)
    vocab = env.vocab
    good = [MolGraph.from_smiles(s, vocab, 10) for s in ("CC(=O)Nc1ccccc1", "OCC(N)C(=O)O")]
    # a drawn graph that breaks valence: a carbon with five single bonds
    bad_types = np.full(10, -1, dtype=np.int64)
    bad_types[:6] = 0
    bad_bonds = np.zeros((10, 10), dtype=np.int64)
    bad_bonds[0, 1:6] = bad_bonds[1:6, 0] = 1
    types = np.stack([good[0].atom_types, good[1].atom_types, bad_types]).astype(np.int64)
    bonds = np.stack([good[0].bonds, good[1].bonds, bad_bonds]).astype(np.int64)
    plans = [GraphPlan(t, b, root_type=0) for t, b in zip(types, bonds)]
    episodes = run_episodes(env, lambda rows: [[plans[i].next(int(env.num_atoms[i]))] for i in rows.tolist()], seed=0)
    assert episodes.smiles[:2] == [canonical_smiles(parse_smiles(s)) for s in ("CC(=O)Nc1ccccc1", "OCC(N)C(=O)O")]
    assert episodes.smiles[2] == "CC(C)(C)C" and episodes.rejected == 1  # the fifth bond is refused


def test_the_reward_network_predicts_held_out_scores():
    vocab = AtomVocab.default()
    graphs = encode_smiles(load_smiles("nci", limit=1500), vocab, 12).graphs
    qed = np.array([QED()(Context(g)) for g in graphs])
    types = np.stack([g.atom_types for g in graphs])
    bonds = np.stack([g.bonds for g in graphs])
    train, test = np.arange(len(graphs)) < 0.7 * len(graphs), np.arange(len(graphs)) >= 0.7 * len(graphs)
    torch.manual_seed(0)
    net = GraphCritic(len(vocab), sigmoid=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    a, x = one_hot_graphs(types, bonds, len(vocab))
    target = torch.as_tensor(qed, dtype=torch.float32)
    index_train = np.flatnonzero(train)
    for _ in range(150):
        batch = torch.as_tensor(rng.choice(index_train, 64))
        loss = (net(a[batch], x[batch]) - target[batch]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = net(a[torch.as_tensor(test)], x[torch.as_tensor(test)]).numpy()
    r = np.corrcoef(predicted, qed[test])[0, 1]
    print(f"reward network on {test.sum()} held-out NCI molecules: Pearson r = {r:.3f} with QED")
    assert r > 0.5


def test_molgan_moves_toward_a_simple_reward(tmp_path):
    task = _task(tmp_path)
    agent = _agent(task, tmp_path, seed=1)
    oracle = task.oracle(100000)
    rewards = [agent.update(oracle)["reward"] for _ in range(20)]
    assert oracle.calls > 14  # the real molecules, then what it built
    assert np.mean(rewards[-4:]) > np.mean(rewards[:4]) + 0.2, rewards


def test_molgan_resumes_exactly_and_its_reward_net_is_a_reward_term(tmp_path):
    task = _task(tmp_path)
    whole, resumed = whole_and_resumed(lambda: _agent(task, tmp_path), MolGANAgent, task, tmp_path)
    for a, b in zip(whole.generator.state_dict().values(), resumed.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    term = resumed.reward_term()
    env = task.make_vector_env(None, num_envs=4, reward=term)
    env.reset(seed=0)
    _, reward, term_, trunc, info = env.step(np.array([[0, 0, 0, 1]] * 4))
    assert term_.all() and np.isfinite(reward).all() and (reward >= resumed.scores.min() - 1e-9).all()
    assert len(resumed.propose(5)) == 5


def test_molgan_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="builds molecules from one atom"):
        MolGANAgent(make_task("constrained", start_smiles=["CCO"]))
    with pytest.raises(ValueError, match="no molecule of"):
        MolGANAgent(make_task("qed"), max_atoms=1)
