"""Genetic GCPN: GCPN's policy tuned by trajectory balance (or the augmented likelihood) over its own
molecules, a replay of the best and a genetic search's children, each as an env trajectory."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem

from molgym.chem import MolGraph
from molgym.tasks import make_task
from molgym_agents.genetic_gcpn import GeneticGCPNAgent
from molgym_agents.genetic_gcpn import agent as genetic_agent
from molgym_agents.genetic_gcpn.agent import LOG_Z_LR
from tests.agents_for_tests import whole_and_resumed

SMALL = {"batch_size": 6, "offspring": 6, "local_search": 6, "replay_size": 12, "replay_batch": 6}


def test_it_spends_the_budget_on_its_molecules_and_the_offspring_and_keeps_the_best():
    task = make_task("qed")
    oracle = task.oracle(60)
    agent = GeneticGCPNAgent(task, seed=0, **SMALL)
    agent.train(oracle)
    assert oracle.calls == 60 and agent.updates >= 3
    best = dict((s, v) for _, s, v in oracle.log)
    scores = [v for _, v in agent.replay]
    assert scores == sorted(scores, reverse=True) and len(agent.replay) == 12
    assert all(best[s] == v for s, v in agent.replay)
    # the replay is the 12 best molecules scored, the last update's (cut short by the budget) included
    assert scores == sorted(best.values(), reverse=True)[:12]
    assert len(agent.propose(5)) == 5


@pytest.mark.parametrize("loss", ["augmented_likelihood", "trajectory_balance"])
def test_a_few_steps_make_a_high_scoring_molecule_more_likely_than_a_low_scoring_one(loss):
    """With a large sigma, the molecule scored 1 gains likelihood on the one scored 0; the prior stays."""
    agent = GeneticGCPNAgent(make_task("qed"), seed=0, lr=1e-3, sigma=50.0, loss=loss, **SMALL)
    molecules = [("CC(=O)Nc1ccc(O)cc1", 1.0), ("CCCCCCCC(C)CC", 0.0)]
    prior = {k: v.clone() for k, v in agent.prior.state_dict().items()}

    def margin() -> float:  # log P_agent(high) - log P_agent(low)
        ll = agent._log_likelihood(agent.policy, [agent._trajectories[s].data for s, _ in molecules])
        return (ll[0] - ll[1]).item()

    agent._add_trajectories([s for s, _ in molecules])
    before = margin()
    for _ in range(4):
        agent._learn(molecules)
    assert margin() > before + 1.0
    assert all(torch.equal(prior[k], v) for k, v in agent.prior.state_dict().items())


def test_trajectory_balance_learns_the_normaliser_where_the_augmented_likelihood_has_none():
    """log Z starts at the first batch's gap (so the first loss is the gap's variance) and moves with
    the steps; the augmented likelihood has no log Z. An unknown loss is refused by name."""
    molecules = [("CC(=O)Nc1ccc(O)cc1", 0.6), ("c1ccccc1O", 0.2), ("CCN(CC)CC", 0.4)]
    tb = GeneticGCPNAgent(make_task("qed"), seed=0, loss="trajectory_balance", **SMALL)
    gap = tb.config["sigma"] * torch.tensor([v for _, v in molecules])  # the agent starts as the prior
    first, _ = tb._learn(molecules)
    assert first == pytest.approx(gap.var(unbiased=False).item(), rel=1e-4)
    start = tb.log_z.item()  # after one Adam step, of at most its learning rate
    assert abs(start - gap.mean().item()) <= LOG_Z_LR * 1.001
    tb._learn(molecules)
    assert tb.log_z.item() != start
    al = GeneticGCPNAgent(make_task("qed"), seed=0, loss="augmented_likelihood", **SMALL)
    al._learn(molecules)
    assert al.log_z is None
    with pytest.raises(ValueError, match="unknown loss 'tb'"):
        GeneticGCPNAgent(make_task("qed"), loss="tb")


@pytest.mark.parametrize("learn_new", ["kept", "all"])
def test_it_learns_from_the_replay_and_the_new_molecules_that_enter_it_or_all_of_them(learn_new):
    """Each update learns from ``replay_batch`` molecules of the replay as it was and, of the
    update's new molecules, those that entered the replay (``"kept"``) or every one (``"all"``)."""
    task = make_task("qed")
    oracle = task.oracle(200)
    agent = GeneticGCPNAgent(task, seed=0, learn_new=learn_new, **{**SMALL, "replay_batch": 4})
    learned: list[list[str]] = []
    original = agent._learn
    agent._learn = lambda molecules: learned.append([s for s, _ in molecules]) or original(molecules)
    agent.update(oracle)
    before, seen = dict(agent.replay), {s for _, s, _ in oracle.log}
    agent.update(oracle)
    new, now = {s for _, s, _ in oracle.log} - seen, set(dict(agent.replay))
    assert len(set(learned[-1]) & set(before)) >= 4
    if learn_new == "all":
        assert new <= set(learned[-1])
    else:
        assert new & now and new - now  # some entered the replay, some did not
        assert new & set(learned[-1]) == new & now and set(learned[-1]) <= set(before) | now
    with pytest.raises(ValueError, match="unknown learn_new 'best'"):
        GeneticGCPNAgent(task, learn_new="best")


def test_the_first_update_draws_the_searches_share_from_data_and_the_policy_builds_the_rest(tmp_path):
    """With ``data``, the first update scores ``batch_size`` molecules of the policy and
    ``local_search + offspring`` drawn from the file; later updates breed from that replay."""
    pool = ["CC(=O)Nc1ccc(O)cc1", "c1ccccc1O", "CCN(CC)CC", "OC(=O)c1ccccc1", "CC(C)Cc1ccc(C)cc1", "CCOC(C)=O"]
    pool += ["NCCc1ccccc1", "CC(C)O", "O=C1CCCN1", "Cc1ccncc1", "CCCCO", "ClCCCl", "COc1ccccc1"]
    path = tmp_path / "start.smi"
    path.write_text("\n".join(pool) + "\n")
    task = make_task("qed")
    oracle = task.oracle(200)
    agent = GeneticGCPNAgent(task, seed=0, data=str(path), **SMALL)
    agent.update(oracle)
    scored = [s for _, s, _ in oracle.log]
    canonical = {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in pool}
    assert len(scored) == 18 and len(set(scored[6:]) & canonical) == 12  # 6 built, 12 drawn
    best = sorted(((v, s) for _, s, v in oracle.log), reverse=True)[:12]
    assert sorted(v for v, _ in best) == sorted(v for _, v in agent.replay)  # the replay: the best of both
    agent.update(oracle)
    assert oracle.calls > 18
    with pytest.raises(FileNotFoundError, match="neither a known dataset"):
        GeneticGCPNAgent(task, seed=0, data=str(tmp_path / "missing.smi"), **SMALL).update(task.oracle(50))


@pytest.mark.parametrize("selection", ["score", "rank"])
def test_offspring_parents_are_drawn_by_score_or_by_rank(selection, monkeypatch):
    """Graph GA draws parents in proportion to their scores; ``selection="rank"`` in proportion to
    the replay's rank weights ``1 / (rank_weight * R + rank)``, whatever the scores."""
    task = make_task("qed")
    agent = GeneticGCPNAgent(task, seed=0, selection=selection, **SMALL)
    agent.train(task.oracle(30))
    replay, drawn = list(agent.replay), []

    def spy(parents, count, mutation_rate, rng):
        drawn.append(parents)
        return []

    monkeypatch.setattr(genetic_agent, "offspring", spy)
    agent.update(task.oracle(30))
    (parents,) = drawn
    assert [s for s, _ in parents] == [s for s, _ in replay]
    ranks = np.arange(1, len(replay) + 1)
    expected = [v for _, v in replay] if selection == "score" else 1.0 / (0.01 * len(replay) + ranks)
    np.testing.assert_allclose([w for _, w in parents], expected)
    with pytest.raises(ValueError, match="unknown selection 'tournament'"):
        GeneticGCPNAgent(task, selection="tournament")


def test_local_search_rebuilds_part_of_a_replay_molecule():
    """Each completion keeps the cut part of its parent (a connected part of its trajectory), and the
    trajectories kept are the replay's."""
    task = make_task("qed")
    agent = GeneticGCPNAgent(task, seed=0, **SMALL)
    agent.train(task.oracle(30))
    assert set(agent._trajectories) <= {s for s, _ in agent.replay} and agent._trajectories
    parents = [s for s, _ in agent.replay[:4] if s in agent._trajectories]
    cuts = []
    original = agent._play

    def play(env, options=None):
        cuts.extend(env.start_graphs)
        return original(env, options)

    agent._play = play
    made = agent._complete(parents)
    assert len(made.smiles) == len(parents) == len(cuts)
    for i, (parent, cut) in enumerate(zip(parents, cuts)):
        whole, n = MolGraph.from_smiles(parent, agent.vocab, agent.layout.max_atoms), cut.num_atoms
        assert 0 < n < whole.num_atoms
        assert _kekule(whole).HasSubstructMatch(_kekule(cut))  # a part of the parent, bond orders and all
        # the policy only adds: the child's first n atoms are the cut part's, with all its bonds
        # (and maybe new ones between them: a ring closed)
        np.testing.assert_array_equal(made.types[i, :n], cut.atom_types[:n])
        bonded = cut.bonds[:n, :n] > 0
        np.testing.assert_array_equal(made.bonds[i, :n, :n][bonded], cut.bonds[:n, :n][bonded])


def _kekule(graph: MolGraph) -> Chem.Mol:
    """The state's molecule as its Kekulé bonds, without aromaticity (as the env holds it)."""
    mol = graph.to_mol(sanitize=False)
    mol.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(mol)
    return mol


@pytest.mark.parametrize("loss", ["augmented_likelihood", "trajectory_balance"])
def test_a_resumed_run_equals_an_uninterrupted_one(loss, tmp_path):
    task = make_task("qed")
    whole, resumed = whole_and_resumed(
        lambda: GeneticGCPNAgent(task, seed=1, loss=loss, **SMALL),
        GeneticGCPNAgent,
        task,
        tmp_path,
        steps=1300,
        stop_at=800,
    )
    assert resumed.updates == whole.updates >= 3 and resumed.replay == whole.replay
    assert (whole.log_z is None) == (loss == "augmented_likelihood")
    if whole.log_z is not None:
        assert resumed.log_z.item() == whole.log_z.item()
    for a, b in zip(whole.policy.parameters(), resumed.policy.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_tasks_with_start_molecules_are_refused():
    with pytest.raises(ValueError, match="builds molecules from scratch"):
        GeneticGCPNAgent(make_task("constrained", start_smiles=["CCO"], threshold=0.4))


def test_the_gpu_throughput_script_measures_on_the_cpu_and_says_when_there_is_no_gpu(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from scripts.bench_gpu import main

    assert main(["--device", "cpu", "--sizes", "8", "--calls", "40"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "8" and float(row[2].replace(",", "")) > 0 and float(row[3]) > 0
    if not torch.cuda.is_available():
        assert main([]) == 0
        assert "no CUDA device on this machine" in capsys.readouterr().out
