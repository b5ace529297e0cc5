"""GCPN training as ``molgym train`` runs it: exact resume, logs, the online discriminator and its reward."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from molgym.chem import AtomVocab, MolGraph
from molgym.cli import main
from molgym.data import encode_smiles, load_smiles
from molgym.tasks import make_task
from molgym.training import load_checkpoint, run_training
from molgym_agents.gcpn.agent import GCPNAgent
from molgym_agents.gcpn.discriminator import OnlineDiscriminator

TINY = dict(num_envs=4, num_steps=8, minibatch_size=16, hidden=16, layers=1, rank=8, init=None)


def _task():
    task = make_task("qed")
    task.env_kwargs = {"max_atoms": 10, "min_steps": 2, "max_steps": 12}
    return task


def _agent(task, **config):
    return GCPNAgent(task, seed=3, **{**TINY, "adversarial": "both", "real_molecules": 300, **config})


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    task = _task()  # (normalize_returns: its running return scale is resumed too)
    whole, oracle = _agent(task, normalize_returns=True), task.oracle(1000)
    run_training(whole, oracle, tmp_path / "whole", steps=96, checkpoint_every=1, progress=False)

    first, first_oracle = _agent(task, normalize_returns=True), task.oracle(1000)
    run_training(first, first_oracle, tmp_path / "split", steps=64, checkpoint_every=1, progress=False)
    torch.manual_seed(12345)  # whatever happened to the process in between must not matter
    resumed, oracle_state, loop = load_checkpoint(tmp_path / "split", GCPNAgent, task)
    assert (resumed.steps, resumed.updates, loop["updates"]) == (64, 2, 2)
    resumed_oracle = task.oracle(1000)
    resumed_oracle.load_state_dict(oracle_state)
    run_training(resumed, resumed_oracle, tmp_path / "split", steps=96, checkpoint_every=1, loop=loop, progress=False)

    assert oracle.calls > 0 and resumed_oracle.log == oracle.log
    for a, b in zip(whole.policy.state_dict().values(), resumed.policy.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(whole.discriminator.model.state_dict().values(), resumed.discriminator.model.state_dict().values()):
        assert torch.equal(a, b)
    rows = [list(csv.DictReader(open(tmp_path / name / "log.csv"))) for name in ("whole", "split")]
    assert [r["update"] for r in rows[1]] == ["1", "2", "3"]
    assert [r["policy_loss"] for r in rows[0]] == [r["policy_loss"] for r in rows[1]]
    assert all(float(r["discriminator_loss"]) > 0 for r in rows[0][1:])


def test_an_interrupted_run_redoes_only_the_updates_after_its_checkpoint(tmp_path, monkeypatch):
    task = _task()
    agent = _agent(task, adversarial="none")
    real_update = GCPNAgent.update

    def dies_at_the_fourth(self, oracle):
        if self.updates == 3:
            raise KeyboardInterrupt
        return real_update(self, oracle)

    monkeypatch.setattr(GCPNAgent, "update", dies_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        run_training(agent, task.oracle(1000), tmp_path, steps=160, checkpoint_every=2, progress=False)
    monkeypatch.setattr(GCPNAgent, "update", real_update)
    assert len(list(csv.DictReader(open(tmp_path / "log.csv")))) == 3  # update 3 was logged, not checkpointed
    resumed, state, loop = load_checkpoint(tmp_path, GCPNAgent, task)
    assert resumed.updates == 2 and resumed.steps == 64
    oracle = task.oracle(1000)
    oracle.load_state_dict(state)
    run_training(resumed, oracle, tmp_path, steps=96, checkpoint_every=2, loop=loop, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["update"]) for r in rows] == [1, 2, 3] and int(rows[-1]["oracle_calls"]) == oracle.calls


def test_the_discriminator_learns_to_tell_real_from_generated():
    vocab = AtomVocab.default()
    real = encode_smiles(load_smiles("nci", limit=400), vocab, 20).graphs
    chains = [MolGraph.from_smiles("C" * n, vocab, 20) for n in range(4, 20)]
    fake_types = np.stack([g.atom_types for g in chains])
    fake_bonds = np.stack([g.bonds for g in chains])
    torch.manual_seed(0)
    disc = OnlineDiscriminator(real[:300], len(vocab), seed=0, steps=60)
    disc.update(fake_types, fake_bonds)
    held_out = real[300:]
    p_real = disc(
        {"atom_types": np.stack([g.atom_types for g in held_out]), "bonds": np.stack([g.bonds for g in held_out])}
    )
    p_fake = disc({"atom_types": fake_types, "bonds": fake_bonds})
    print(f"held-out real {p_real.mean():.3f}, chains {p_fake.mean():.3f}")
    assert p_real.mean() > 0.7 and p_fake.mean() < 0.3


def test_the_adversarial_terms_pay_the_discriminators_probability():
    task = _task()
    agent = _agent(task, adversarial="both", adversarial_coef=2.0)
    agent._start(task.oracle(1000))
    env, rng = agent._ppo.env, np.random.default_rng(0)
    env.reset(seed=0)
    seen_final, resetting = False, np.zeros(env.num_envs, dtype=bool)
    for _ in range(40):
        obs, reward, term, trunc, info = env.step(env.sample_actions(rng))
        batch = {"atom_types": obs["atom_types"], "bonds": obs["bonds"]}
        p = agent.discriminator(batch)
        acting = ~resetting  # an autoreset step only resets: no reward
        step_terms = info["reward_terms"]["adversarial_step"]
        np.testing.assert_allclose(step_terms[acting], (2.0 / 10) * p[acting], rtol=1e-6)
        done = term | trunc
        if done.any():
            np.testing.assert_allclose(info["reward_terms"]["adversarial"][done], 2.0 * p[done], rtol=1e-6)
            seen_final = True
        resetting = done
    assert seen_final


def test_train_command_steps_logs_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    config = ["--config", "num_envs=4", "num_steps=8", "hidden=16", "layers=1", "rank=8", "init=null"]
    assert main(["train", "gcpn", "--steps", "32", "--out", str(out), *config]) == 0
    assert len(list(csv.DictReader(open(out / "log.csv")))) == 1
    assert main(["train", "gcpn", "--steps", "64", "--resume", "--out", str(out)]) == 0
    assert f"continuing gcpn on qed in {out} from update 1, step 32" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["steps"]) for r in rows] == [32, 64]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "gcpn", "--resume"], "nothing to resume"),
        (["train", "gcpn", "--init", "{tmp}/missing.pt"], "cannot read GCPN checkpoint"),
        (["train", "gcpn", "--init", "{tmp}/garbage.pt"], "cannot read GCPN checkpoint"),
        (["train", "gcpn", "--config", "adversarial=sometimes"], "adversarial must be one of"),
        (["train", "gcpn", "--config", "learning_rat=0.1"], "unknown gcpn setting 'learning_rat'"),
        (["train", "sb3-ppo", "--steps", "10"], "does not train in updates"),
        (["pretrain", "gcpn", "--data", "{tmp}/empty.smi"], "no usable molecule"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, argv, message):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "empty.smi").write_text("not_a_smiles\nC1CC\n")
    argv = [a.format(tmp=tmp_path) for a in argv] + ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_task_is_refused_by_the_parser(capsys):
    assert main(["train", "gcpn", "--task", "toxicity"]) == 2
    assert "invalid choice: 'toxicity'" in capsys.readouterr().err
