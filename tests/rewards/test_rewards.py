"""Reward terms against known values, their composition, caching and their error reports."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import Crippen

from molgym.chem import AtomVocab
from molgym.rewards import (
    QED,
    SA,
    Adversarial,
    ConstrainedImprovement,
    Context,
    FunctionTerm,
    LogP,
    MolWt,
    PenalizedLogP,
    RangeTarget,
    Reward,
    RewardError,
    Similarity,
    StepValidity,
    ZincFilter,
    as_reward,
    ring_penalty,
    sa_score,
)
from molgym.rewards.scoring import BatchScorer

VOCAB = AtomVocab.default()
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
LOW_PLOGP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "zinc_low_plogp_800.txt"


def ctx(smiles: str, start: str | None = None) -> Context:
    return Context.from_smiles(smiles, VOCAB, 38, start_smiles=start)


def test_qed_of_aspirin():
    # Bickerton et al. (2012) report QED 0.55 for aspirin
    assert QED()(ctx(ASPIRIN)) == pytest.approx(0.55, abs=0.005)


def test_sa_orders_molecules_by_complexity():
    easy, hard = (
        sa_score(Chem.MolFromSmiles("CCO")),
        sa_score(Chem.MolFromSmiles("C[C@H]1C[C@@]2(O)C[C@H](C)[C@@]1(C)C2")),
    )
    assert 1.0 <= easy < 3.0 < hard <= 10.0
    assert SA()(ctx(ASPIRIN)) == pytest.approx(1.58, abs=0.01)  # Ertl & Schuffenhauer's scale, aspirin ~1.6


def test_logp_and_molecular_weight():
    assert MolWt()(ctx(ASPIRIN)) == pytest.approx(180.159, abs=0.01)
    assert LogP()(ctx(ASPIRIN)) == pytest.approx(Crippen.MolLogP(Chem.MolFromSmiles(ASPIRIN)))


def test_ring_penalty_counts_atoms_beyond_six():
    assert ring_penalty(Chem.MolFromSmiles("C1CCCCC1")) == 0
    assert ring_penalty(Chem.MolFromSmiles("C1CCCCCCC1")) == 2
    assert ring_penalty(Chem.MolFromSmiles("CCO")) == 0


@pytest.mark.skipif(not LOW_PLOGP.is_file(), reason="shared data not present")
def test_penalized_logp_reproduces_the_constrained_optimisation_scores():
    """The 800-molecule file's scores are logP - SA (its ring penalty is 0 throughout)."""
    unnormalized = PenalizedLogP("unnormalized")
    exact = with_rings = 0
    for line in LOW_PLOGP.read_text().splitlines():
        smiles, score = line.split()
        mol = Chem.MolFromSmiles(smiles)
        ours = unnormalized.of(mol)
        assert ours == pytest.approx(Crippen.MolLogP(mol) - sa_score(mol) - ring_penalty(mol))
        exact += math.isclose(ours + ring_penalty(mol), float(score), abs_tol=1e-6)
        with_rings += ring_penalty(mol) > 0
    assert exact >= 799 and with_rings == 41


def test_normalized_penalized_logp_standardises_each_part():
    mol = Chem.MolFromSmiles(ASPIRIN)
    logp, sa = Crippen.MolLogP(mol), sa_score(mol)
    expected = (logp - 2.4570953396190123) / 1.434324401111988 + (-sa + 3.0525811293166134) / 0.8335207024513095
    expected += (0 + 0.0485696876403053) / 0.2860212110245455
    assert PenalizedLogP()(ctx(ASPIRIN)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="variant"):
        PenalizedLogP("raw")


def test_range_target_shape():
    target = RangeTarget(MolWt(), 40.0, 50.0)  # ethanol 46.07, propane 44.1, methane 16.04, hexane 86.18
    assert target(ctx("CCO")) == 1.0
    assert target(ctx("C")) == pytest.approx(max(1 - (40.0 - 16.043) / 10.0, -1.0))
    assert target(ctx("CCCCCC")) == -1.0
    assert target.name == "mw_target"
    with pytest.raises(ValueError):
        RangeTarget(MolWt(), 5, 1)


def test_similarity_to_the_start_molecule():
    assert Similarity()(ctx("CCO", start="CCO")) == 1.0
    assert 0.0 < Similarity()(ctx("CCCO", start="CCO")) < 1.0
    with pytest.raises(RewardError, match="similarity needs a start molecule"):
        Similarity()(ctx("CCO"))


def test_constrained_improvement_respects_the_threshold():
    prop = PenalizedLogP("unnormalized")
    start, better = "CC(=O)O", "CC(=O)OCCCC"
    delta = prop(ctx(better)) - prop(ctx(start))
    sim = Similarity()(ctx(better, start=start))
    assert delta > 0 and sim < 0.9
    assert ConstrainedImprovement(threshold=0.0)(ctx(better, start=start)) == pytest.approx(delta)
    far = ConstrainedImprovement(threshold=0.9)(ctx(better, start=start))
    assert far == pytest.approx(-10.0 * (0.9 - sim))  # leaving the neighbourhood never pays


def test_zinc_filter_flags_catalog_matches():
    term = ZincFilter(penalty=2.0)
    assert term(ctx("CCO")) == 0.0
    assert term(ctx("CCOOCC")) == -2.0  # peroxides are in the ZINC filter catalog
    assert term(ctx("CC(=O)OC(C)=O")) == -2.0  # so are acid anhydrides


def test_step_validity_defaults_to_one_over_n():
    term = StepValidity()
    c = ctx("CCO")
    assert term(c) == pytest.approx(1 / 38)
    c.valid = False
    assert term(c) == pytest.approx(-1 / 38)
    assert StepValidity(valid=0.5, invalid=-2)(c) == -2


def test_adversarial_term_passes_a_graph_batch():
    batches = []

    def scorer(batch):
        batches.append(batch)
        return np.array([0.25])

    term = Adversarial(scorer, final=False)
    assert term(ctx("CCO")) == 0.25 and term(ctx("CCO")) == 0.25
    assert len(batches) == 2  # never cached: the discriminator changes as it trains
    assert batches[0]["bonds"].shape == (1, 38, 38) and batches[0]["num_atoms"].tolist() == [3]
    assert term.name == "adversarial_step" and not term.final


def test_terms_compose_into_weighted_sums():
    reward = QED() + 0.5 * Similarity() - 0.1 * SA()
    assert isinstance(reward, Reward) and [w for w, _ in reward.terms] == [1.0, 0.5, -0.1]
    c = ctx(ASPIRIN, start=ASPIRIN)
    parts = BatchScorer(reward).score_one(c, final=True)
    assert parts == pytest.approx({"qed": QED()(c), "similarity": 0.5, "sa": -0.1 * SA()(c)})
    assert BatchScorer(reward).score_one(c, final=False) == {}  # no step term
    assert BatchScorer(StepValidity() + reward).score_one(c, final=False) == {"step_validity": pytest.approx(1 / 38)}
    assert as_reward([QED(), QED()]).names == ["qed", "qed_2"]
    assert as_reward(None).terms == []


def test_term_names_are_unique_and_never_look_like_a_vector_info_mask():
    def _atoms(mol):
        return mol.GetNumAtoms() / 10

    def atoms(mol):
        return 1.0

    reward = as_reward([atoms, _atoms, QED(), QED(), FunctionTerm(atoms, name="qed_2")])
    assert reward.names == ["atoms", "atoms_2", "qed", "qed_2", "qed_2_2"]
    # in a vector env's infos "_atoms" would be the presence mask of "atoms": both terms keep their values
    from molgym.envs import MolEditEnv
    from molgym.envs.vector import MolEditVectorEnv

    envs = MolEditVectorEnv(MolEditEnv, num_envs=2, reward=[atoms, _atoms], step_reward=None, min_steps=0, n_workers=0)
    envs.reset(seed=0)
    _, rewards, terminated, _, info = envs.step(np.full(2, envs.layout.stop))  # stop: the episodes end
    terms = info["reward_terms"]
    assert terminated.all()
    assert set(terms) == {"atoms", "_atoms", "atoms_2", "_atoms_2"}
    assert terms["atoms"].tolist() == [1.0, 1.0] and terms["_atoms"].tolist() == [True, True]
    assert terms["atoms_2"].tolist() == pytest.approx([0.1, 0.1])  # one carbon
    assert rewards.tolist() == pytest.approx([1.1, 1.1])
    envs.close()
    with pytest.raises(TypeError):
        as_reward(3)


def test_property_values_are_cached_by_canonical_smiles():
    calls = []
    term = FunctionTerm(lambda mol: calls.append(1) or 1.0)
    term(ctx("OCC"))
    term(ctx("CCO"))  # the same molecule written differently
    assert len(calls) == 1
    assert term.name == "custom"


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda mol: 1 / 0, r"reward term 'custom' raised ZeroDivisionError.*on molecule 'CCO'"),
        (lambda mol: float("nan"), r"reward term 'custom' returned nan on molecule 'CCO'"),
        (lambda mol: float("inf"), r"reward term 'custom' returned inf on molecule 'CCO'"),
        (lambda mol: None, r"reward term 'custom' returned None, not a number, on molecule 'CCO'"),
    ],
)
def test_a_failing_reward_names_the_term_and_the_molecule(fn, message):
    with pytest.raises(RewardError, match=message):
        FunctionTerm(fn)(ctx("CCO"))


def test_failing_plugin_surfaces_from_env_step():
    import gymnasium as gym

    import molgym  # noqa: F401 - registers the envs

    def broken(mol):
        raise RuntimeError("oracle down")

    env = gym.make("MolEdit-v0", reward=broken, min_steps=0)
    env.reset(seed=0)
    with pytest.raises(RewardError, match=r"'broken' raised RuntimeError\('oracle down'\) on molecule 'C'"):
        env.step(np.array([0, 0, 0, 1]))


def test_rewards_pickle_for_worker_processes():
    reward = QED() + Similarity() + ZincFilter()
    BatchScorer(reward).score_one(ctx("CCO", start="CCO"), final=True)
    clone = pickle.loads(pickle.dumps(reward))
    assert BatchScorer(clone).score_one(ctx("CCO", start="CCO"), final=True) == BatchScorer(reward).score_one(
        ctx("CCO", start="CCO"), final=True
    )
