"""REINVENT: SMILES tokens, the prior's likelihood, the augmented-likelihood loss, the agent under
the oracle protocol, exact resume, and ``molgym pretrain reinvent``."""

from __future__ import annotations

import math

import pytest
import torch
from rdkit import Chem

from molgym.cli import main
from molgym.data import nci_smiles
from molgym.tasks import make_task
from molgym_agents.reinvent import ReinventAgent
from molgym_agents.reinvent.agent import LIKELIHOOD_PENALTY, augmented_likelihood_loss
from molgym_agents.reinvent.model import SmilesRNN, Vocabulary, tokenize
from molgym_agents.reinvent.prior import load_prior, save_prior, train_prior
from tests.agents_for_tests import whole_and_resumed


@pytest.fixture(scope="module")
def prior_path(tmp_path_factory):
    """A tiny prior trained on 400 NCI molecules (seconds): enough to write some valid SMILES."""
    smiles = [s for s in nci_smiles(limit=600) if Chem.MolFromSmiles(s) is not None and len(s) < 40][:400]
    model, vocab, losses = train_prior(
        smiles, epochs=4, batch_size=32, lr=3e-3, embedding=16, hidden=48, layers=1, progress=False
    )
    assert losses[-1] < losses[0]
    path = tmp_path_factory.mktemp("prior") / "prior.pt"
    save_prior(path, model, vocab, losses=losses)
    return path


def test_tokens_round_trip_and_split_bracket_atoms_two_letter_elements_and_ring_labels():
    assert tokenize("C[C@@H](Cl)c1cc[nH]c1Br.C%12CC%12") == [
        "C",
        "[C@@H]",
        "(",
        "Cl",
        ")",
        "c",
        "1",
        "c",
        "c",
        "[nH]",
        "c",
        "1",
        "Br",
        ".",
        "C",
        "%12",
        "C",
        "C",
        "%12",
    ]
    smiles = nci_smiles(limit=300)
    vocab = Vocabulary.from_smiles(smiles)
    assert all(vocab.decode(vocab.encode(s)) == s for s in smiles)
    assert vocab.encode("C[Xe]") is None and vocab.tokens[:3] == ["<pad>", "^", "$"]


def test_log_likelihood_is_the_sum_of_next_token_log_probabilities_ignoring_padding():
    torch.manual_seed(0)
    vocab = Vocabulary.from_smiles(["CCO", "c1ccccc1N"])
    model = SmilesRNN(len(vocab), embedding=8, hidden=16, layers=2)
    rows = [vocab.encode("CCO"), vocab.encode("c1ccccc1N")]
    batch = vocab.batch(rows)
    got = model.log_likelihood(batch)
    for row, ids in enumerate(rows):  # token by token, carrying the GRU state
        state, total = None, 0.0
        for prev, nxt in zip(ids, ids[1:]):
            logits, state = model(torch.tensor([[prev]]), state)
            total += torch.log_softmax(logits[0, -1], dim=-1)[nxt].item()
        assert got[row].item() == pytest.approx(total, abs=1e-5)


def test_the_augmented_likelihood_loss_matches_a_hand_computation():
    agent_ll, prior_ll, score = [-20.0, -35.5, -12.25], [-22.0, -30.0, -15.0], [0.5, 0.0, 0.9]
    sigma = 60.0
    fit = sum((p + sigma * s - a) ** 2 for a, p, s in zip(agent_ll, prior_ll, score)) / 3
    penalty = -LIKELIHOOD_PENALTY * sum(1 / a for a in agent_ll) / 3
    loss, got_fit = augmented_likelihood_loss(*(torch.tensor(v) for v in (agent_ll, prior_ll, score)), sigma)
    assert got_fit.item() == pytest.approx(fit) and loss.item() == pytest.approx(fit + penalty)
    assert math.isclose(fit, ((-22 + 30 + 20) ** 2 + (-30 + 35.5) ** 2 + (-15 + 54 + 12.25) ** 2) / 3)


def test_sampled_rows_end_at_the_end_token_then_pad(prior_path):
    model, vocab, _ = load_prior(prior_path)
    rows = model.sample(64, 50, torch.Generator().manual_seed(0))
    assert (rows[:, 0] == 1).all()
    for row in rows.tolist():
        if 2 in row:
            assert all(t == 0 for t in row[row.index(2) + 1 :])


def test_reinvent_pays_only_for_new_valid_molecules_and_moves_towards_high_scores(prior_path):
    task = make_task("qed")
    agent = ReinventAgent(task, seed=0, prior=str(prior_path), batch_size=32)
    oracle = task.oracle(10_000)
    first = agent.update(oracle)
    paid = {s for _, s, _ in oracle.log}
    assert oracle.calls == len(paid) and all(Chem.MolFromSmiles(s) is not None for s in paid)
    assert 0 < oracle.calls <= 32 and oracle.requests == round(first["valid"] * first["unique"] * 32)
    for _ in range(3):
        agent.update(oracle)
    assert len(agent.replay) <= 100 and agent.replay == sorted(agent.replay, key=lambda r: -r[1])

    def gain(smiles):  # how much likelier the agent finds a molecule than the prior does
        rows = agent.vocab.batch([agent.vocab.encode(smiles)])
        with torch.no_grad():
            return (agent.model.log_likelihood(rows) - agent.prior.log_likelihood(rows)).item()

    (best, high), (worst, low) = agent.replay[0], agent.replay[-1]
    assert high > low and gain(best) > gain(worst) + 0.05, (gain(best), gain(worst))
    assert len(agent.propose(5)) == 5


def test_reinvent_resumes_exactly(prior_path, tmp_path):
    task = make_task("qed")
    make = lambda: ReinventAgent(task, seed=1, prior=str(prior_path), batch_size=16)  # noqa: E731
    whole, resumed = whole_and_resumed(make, ReinventAgent, task, tmp_path, steps=96, stop_at=48)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert resumed.replay == whole.replay and resumed.propose(3) == whole.propose(3)


def test_pretrain_reinvent_writes_a_prior_the_agent_and_sample_read(tmp_path, capsys):
    data = tmp_path / "mols.smi"
    data.write_text("\n".join(nci_smiles(limit=200)) + "\n")
    prior = tmp_path / "prior.pt"
    argv = [
        "pretrain",
        "reinvent",
        "--data",
        str(data),
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--out",
        str(prior),
    ]
    assert main(argv) == 0
    assert "REINVENT prior on 200 molecules" in capsys.readouterr().out
    model, vocab, meta = load_prior(prior)
    assert meta["command"].startswith("molgym pretrain reinvent --data") and model.sizes["hidden"] == 16
    agent = ReinventAgent(make_task("qed"), prior=str(prior))
    assert agent.vocab.tokens == vocab.tokens
    out = tmp_path / "sampled.csv"
    assert main(["sample", "--checkpoint", str(prior), "-n", "4", "--out", str(out)]) == 0
    assert "reinvent pretrained weights" in capsys.readouterr().out and len(out.read_text().splitlines()) == 5
    with pytest.raises(ValueError, match="is not a REINVENT prior"):
        ReinventAgent(make_task("qed"), prior=str(_gcpn_like(tmp_path)))


def _gcpn_like(tmp_path):
    path = tmp_path / "gcpn.pt"
    torch.save({"agent": "gcpn", "policy": {}}, path)
    return path


def test_the_shipped_prior_loads_says_how_it_was_made_and_writes_mostly_valid_smiles():
    model, vocab, meta = load_prior()
    assert meta["command"].startswith("molgym pretrain reinvent --data moses")
    samples = model.sample(200, 100, torch.Generator().manual_seed(0))
    valid = [Chem.MolFromSmiles(vocab.decode(row)) is not None for row in samples]
    assert sum(valid) / len(valid) > 0.45 and meta["valid_share"] > 0.45  # 57% recorded; see checkpoints/README.md


def test_reinvent_ends_when_its_best_100_scores_stop_changing_as_pmo_does(prior_path):
    """With every molecule scoring the same, the best 100 scores are all equal once 100 molecules are
    scored; past 1,000 calls ``stop_unchanged`` batches later the run ends with that reason; with 0 the
    budget is spent."""
    from molgym.rewards import FunctionTerm
    from molgym.tasks import Task

    task = Task("flat", FunctionTerm(lambda mol: 0.5, name="flat"))
    agent, oracle = ReinventAgent(task, seed=0, prior=str(prior_path), stop_unchanged=2), task.oracle(5_000)
    agent.train(oracle)
    assert agent.stop_reason == "best 100 scores unchanged for 2 batches"
    assert 1000 < oracle.calls < 1000 + 3 * 64
    never, never_oracle = ReinventAgent(task, seed=0, prior=str(prior_path), stop_unchanged=0), task.oracle(1_300)
    never.train(never_oracle)
    assert never_oracle.calls == 1_300
