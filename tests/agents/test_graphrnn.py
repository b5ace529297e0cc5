"""GraphRNN as a policy: BFS sequences, likelihood pretraining, legal sampling, learning, exact resume."""

from __future__ import annotations

import numpy as np
import torch

from molgym.chem import AtomVocab, MolGraph
from molgym.tasks import make_task
from molgym_agents.graphrnn import GraphRNNAgent
from molgym_agents.graphrnn.model import bfs_sequence
from tests.agents_for_tests import whole_and_resumed


def _task():
    task = make_task("custom", reward="tests.agents_for_tests:nitrogen_share")
    task.env_kwargs = {"atom_types": ["C", "N", "O"], "max_atoms": 8, "min_steps": 0, "max_steps": 30}
    return task


def _agent(task, seed=0, **config):
    return GraphRNNAgent(
        task,
        seed=seed,
        **{
            "hidden": 32,
            "edge_hidden": 16,
            "bandwidth": 4,
            "pretrain_epochs": 0,
            "batch_size": 32,
            "lr": 1e-2,
            **config,
        },
    )


def test_bfs_sequences_hold_every_bond_within_the_bandwidth():
    vocab = AtomVocab.default()
    graph = MolGraph.from_smiles("CC(=O)Nc1ccc(O)cc1", vocab, 38)
    types, edges = bfs_sequence(graph, 0, 12, np.random.default_rng(0))
    assert sorted(types.tolist()) == sorted(graph.atom_types[:11].tolist())
    assert sorted(edges[edges > 0].tolist()) == sorted(
        graph.bonds[np.triu_indices(11, 1)][graph.bonds[np.triu_indices(11, 1)] > 0].tolist()
    )
    assert (edges[0] == 0).all() and all((edges[i] > 0).any() for i in range(1, 11))  # each node bonds back
    assert bfs_sequence(graph, 0, 1, np.random.default_rng(0)) is None  # the ring needs a wider band


def test_pretraining_fits_the_data_and_samples_are_legal():
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 12}  # short sequences: a fast test
    agent = GraphRNNAgent(task, seed=0, hidden=64, edge_hidden=32, pretrain_molecules=600, pretrain_epochs=4)
    losses = agent.pretrain()
    assert losses[-1] < 0.7 * losses[0], losses
    env = task.make_vector_env(None, num_envs=64, reward=[])
    episodes, logp, _ = agent._sample(env, grad=False)
    assert episodes.rejected == 0  # the valence masks agree with the env on every edit
    assert torch.isfinite(logp).all() and len(set(episodes.smiles)) > 30


def test_policy_gradient_moves_toward_a_simple_reward():
    task = _task()
    agent = _agent(task, seed=1)
    oracle = task.oracle(100000)
    rewards = [agent.update(oracle)["reward"] for _ in range(15)]
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 0.3, rewards


def test_graphrnn_resumes_exactly(tmp_path):
    task = _task()
    whole, resumed = whole_and_resumed(lambda: _agent(task), GraphRNNAgent, task, tmp_path)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert resumed.baseline == whole.baseline and len(resumed.propose(3)) == 3
