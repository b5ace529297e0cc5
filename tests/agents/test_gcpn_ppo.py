"""PPO of the GCPN policy: it clips for real, skips autoreset steps, and learns a simple reward."""

from __future__ import annotations

import numpy as np
import torch

from molgym.envs import MolEditEnv
from molgym.envs.vector import MolEditVectorEnv
from molgym_agents.gcpn import GCPNPolicy
from molgym_agents.gcpn.ppo import PPO, PPOConfig, ReturnScale


def nitrogen_share(mol):
    """Reward: the share of nitrogen atoms (easy to learn, known optimum)."""
    return sum(a.GetSymbol() == "N" for a in mol.GetAtoms()) / mol.GetNumAtoms()


def _setup(seed=0, num_envs=16, reward=nitrogen_share, **config):
    env = MolEditVectorEnv(
        MolEditEnv,
        num_envs=num_envs,
        reward=reward,
        step_reward=None,
        atom_types=["C", "N", "O"],
        max_atoms=6,
        min_steps=2,
        max_steps=8,
        info_smiles="none",
    )
    torch.manual_seed(seed)
    policy = GCPNPolicy(3, 6, 3, max_free=4, hidden=32, rank=8)
    return PPO(
        policy,
        env,
        PPOConfig(**{"num_steps": 16, "epochs": 4, "minibatch_size": 64, "learning_rate": 3e-3, **config}),
        seed=seed,
    )


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


def test_pieces_of_similar_sized_molecules_give_the_same_update():
    after = []
    for pieces in (1, 4):
        ppo = _setup(seed=2, epochs=1, minibatch_size=256, pieces=pieces)  # one minibatch: one gradient step
        stats = ppo.update()
        after.append(([p.detach().clone() for p in ppo.policy.parameters()], stats))
    (one, stats_one), (four, stats_four) = after
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(one, four))
    assert np.allclose(
        [stats_one.policy_loss, stats_one.entropy], [stats_four.policy_loss, stats_four.entropy], atol=1e-5
    )
    assert set(stats_four.seconds) == {"act", "env", "learn"} and all(v > 0 for v in stats_four.seconds.values())


def test_the_return_scale_is_the_std_of_every_return_seen():
    scale, rng = ReturnScale(), np.random.default_rng(0)
    assert scale.std == 1.0  # nothing seen yet: the value head's unit is the return's
    batches = [rng.normal(3.0, 5.0, size) for size in (7, 1, 30, 12)]
    for batch in batches:
        scale.update(batch)
    assert np.isclose(scale.std, np.concatenate(batches).std(), rtol=1e-6)


def _scaled(factor):
    return lambda mol: factor * nitrogen_share(mol)


def test_normalized_returns_make_the_update_independent_of_the_reward_scale():
    """Advantages are normalised per minibatch, so only the value loss sees the reward's scale;
    with normalize_returns it does not either: rewards x100 give the same weights."""
    weights = {}
    for normalize in (False, True):
        for factor in (1.0, 100.0):
            ppo = _setup(seed=4, reward=_scaled(factor), epochs=2, normalize_returns=normalize)
            ppo.update()
            weights[normalize, factor] = torch.cat([p.detach().flatten() for p in ppo.policy.parameters()])
    assert torch.allclose(weights[True, 1.0], weights[True, 100.0], atol=1e-5)
    assert not torch.allclose(weights[False, 1.0], weights[False, 100.0], atol=1e-3)


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

    from molgym.agent import agent_class
    from molgym.tasks import make_task
    from molgym_agents.gcpn.agent import GCPNAgent

    assert agent_class("gcpn") is GCPNAgent
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10, "min_steps": 2, "max_steps": 12}
    agent = GCPNAgent(task, seed=0, num_envs=8, hidden=32, rank=8, num_steps=8, minibatch_size=32, init=None)
    oracle = task.oracle(30)
    agent.train(oracle)
    assert oracle.calls == 30
    agent.save(tmp_path / "gcpn")
    loaded = GCPNAgent.load(tmp_path / "gcpn", task)
    assert all(
        torch.equal(a, b) for a, b in zip(agent.policy.state_dict().values(), loaded.policy.state_dict().values())
    )
    assert loaded._saved_ppo["optimizer"] is not None and len(loaded.propose(5)) == 5
    other = make_task("qed")
    other.env_kwargs = {"max_atoms": 12}
    with pytest.raises(ValueError, match="max_atoms 10"):
        GCPNAgent(other, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "gcpn" / "gcpn.pt"))
    with pytest.raises(ValueError, match="cannot read GCPN checkpoint"):
        GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "missing.pt"))


def test_a_saved_gcpn_agent_loads_without_its_initial_checkpoint(tmp_path):
    from molgym.tasks import make_task
    from molgym_agents.gcpn.agent import GCPNAgent

    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10}
    start = GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=None)
    start.save(tmp_path / "start")
    agent = GCPNAgent(task, num_envs=2, hidden=32, rank=8, init=str(tmp_path / "start" / "gcpn.pt"))
    agent.save(tmp_path / "run")
    (tmp_path / "start" / "gcpn.pt").unlink()
    loaded = GCPNAgent.load(tmp_path / "run", task)
    assert loaded.config["init"] == str(tmp_path / "start" / "gcpn.pt")
    assert all(
        torch.equal(a, b) for a, b in zip(agent.policy.state_dict().values(), loaded.policy.state_dict().values())
    )


def test_gcpn_edits_each_start_molecule_in_batches():
    """``propose_from_each``: ``n`` episodes from each start molecule, however the starts are split
    into batches, each list holding edits of its own start (2 edits at most: a 9-ring keeps at least
    8 atoms, CO grows to 4 at most)."""
    from rdkit import Chem

    from molgym.tasks import make_task
    from molgym_agents.gcpn.agent import GCPNAgent

    starts = ["C1CCCCCCCC1", "CO", "C1CCCCCCCC1"]
    task = make_task("constrained", start_smiles=starts, threshold=0.0)
    task.env_kwargs = {**task.env_kwargs, "max_atoms": 12, "max_steps": 2}
    agent = GCPNAgent(task, seed=0, num_envs=4, hidden=32, rank=8, init=None)
    for episodes in (3, 256):  # a batch per start molecule; all in one batch
        made = agent.propose_from_each(starts, 3, episodes=episodes)
        atoms = [[Chem.MolFromSmiles(s).GetNumAtoms() for s in each] for each in made]
        assert [len(a) for a in atoms] == [3, 3, 3]
        assert min(atoms[0] + atoms[2]) >= 8 and max(atoms[1]) <= 4, atoms
    assert len(agent.propose_from("CO", 5)) == 5


#: Small real molecules over C, N, O (at most 6 atoms): expert data for the expert loss.
EXPERT = [
    "CCO",
    "CC(C)O",
    "OCCO",
    "CCN",
    "NCCO",
    "COC",
    "CC=O",
    "C=CC",
    "CC(N)O",
    "NCCN",
    "OCC=O",
    "CCCO",
    "CNC",
    "CC#N",
    "OC1CC1",
    "C1CCOC1",
    "NC(=O)C",
    "CC(C)N",
    "COCO",
    "CCNC",
]


def test_the_expert_loss_keeps_the_policy_near_the_expert_where_pure_ppo_drifts():
    from molgym.chem import ActionLayout, AtomVocab, MolGraph
    from molgym_agents.gcpn.expert import expert_batch, expert_data

    vocab, layout = AtomVocab(["C", "N", "O"]), ActionLayout(6, 3)
    graphs = [MolGraph.from_smiles(s, vocab, 6) for s in EXPERT]
    train, held_out = expert_data(graphs[::2], layout), expert_data(graphs[1::2], layout)

    def nll(policy) -> float:  # held-out expert negative log-likelihood
        with torch.no_grad():
            obs, mask, actions = expert_batch(held_out, np.arange(len(held_out)), layout, vocab)
            dist, _ = policy(obs, mask)
            return -dist.log_prob(actions).mean().item()

    pure, mixed = _setup(seed=2), _setup(seed=2, expert_coef=1.0)
    mixed.expert = (train, layout, vocab)
    start = nll(pure.policy)
    assert nll(mixed.policy) == start  # the same initial policy
    for _ in range(6):
        pure_stats, mixed_stats = pure.update(), mixed.update()
    assert np.isnan(pure_stats.expert_loss) and np.isfinite(mixed_stats.expert_loss)
    drifted, kept = nll(pure.policy), nll(mixed.policy)
    assert drifted > start + 1 and kept < drifted - 1, (start, drifted, kept)  # measured: 2.38, 6.12, 3.63


def test_the_gcpn_agent_mixes_the_expert_loss_and_logs_it(tmp_path):
    import csv

    from molgym.cli import main

    data = tmp_path / "expert.smi"
    data.write_text("\n".join(EXPERT))
    out = tmp_path / "run"
    settings = ["init=null", "hidden=32", "rank=8", "num_envs=4", "num_steps=4", "minibatch_size=16"]
    assert (
        main(
            [
                "train",
                "gcpn",
                "--steps",
                "32",
                "--out",
                str(out),
                "--config",
                *settings,
                "expert_coef=0.5",
                f"expert_data={data}",
                "expert_molecules=10",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 2 and all(float(r["expert_loss"]) > 0 for r in rows)
    assert (
        main(
            [
                "train",
                "gcpn",
                "--steps",
                "16",
                "--out",
                str(tmp_path / "bad"),
                "--config",
                *settings,
                "expert_coef=0.5",
                f"expert_data={tmp_path / 'none.smi'}",
            ]
        )
        == 2
    )


def test_the_gcpn_settings_listed_are_the_defaults_an_agent_runs_with():
    """``settings()`` (what ``--config`` checks against and quotes in its errors) gives GCPN's own
    PPO defaults (32 steps, 2 epochs), not :class:`PPOConfig`'s."""
    from molgym.tasks import make_task
    from molgym_agents.gcpn.agent import GCPNAgent

    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10}
    given = {"hidden": 32, "rank": 8, "init": None}  # (small and untrained, to be quick)
    agent = GCPNAgent(task, **given)
    listed = GCPNAgent.settings()
    assert {k: listed[k] for k in agent.config if k not in given} == {
        k: v for k, v in agent.config.items() if k not in given
    }
    assert listed["epochs"] == agent.ppo_config.epochs != PPOConfig().epochs
