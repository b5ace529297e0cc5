"""The GuacaMol objectives of the PMO tasks against the reference implementation, molecule by molecule."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import AllChem

from molgym.chem.vocab import AtomVocab
from molgym.data.datasets import MOSES_PATH
from molgym.rewards import QED, Context
from molgym.rewards.guacamol import (
    OBJECTIVES,
    Clipped,
    Formula,
    Gaussian,
    MaxGaussian,
    MinGaussian,
    Substructure,
    fingerprint,
    parse_formula,
)
from molgym.tasks import PMO_TASKS, make_task

REFERENCE = Path(__file__).with_name("guacamol_reference.csv")


def _reference_rows() -> list[dict]:
    return list(csv.DictReader(open(REFERENCE)))


def test_every_objective_agrees_with_the_reference_implementation():
    """Values computed by GuacaMol 0.5.5 itself (scripts/guacamol_reference.py), for QED and the 19 tasks: targets,
    molecules that exercise each term and 60 MOSES test molecules."""
    rows = _reference_rows()
    tasks = {r["task"] for r in rows}
    assert tasks == set(OBJECTIVES) | {"qed"} and len(rows) >= 20 * 80
    objectives = {name: make_task(name).objective for name in tasks}
    worst = max(abs(objectives[r["task"]](r["smiles"]) - float(r["value"])) for r in rows)
    assert worst < 1e-6


def test_molecules_built_in_the_env_score_as_their_smiles():
    """The env hands terms molecules rebuilt from its kekulized graphs: they score the same."""
    vocab = AtomVocab.default()
    rows = [
        r
        for r in _reference_rows()
        if r["task"]
        in ("osimertinib_mpo", "deco_hop", "sitagliptin_mpo", "isomers_c9h10n2o2pf2cl", "mestranol_similarity")
    ]
    objectives = {name: OBJECTIVES[name]() for name in {r["task"] for r in rows}}
    checked = 0
    with rdBase.BlockLogs():
        for r in rows:
            try:
                ctx = Context.from_smiles(r["smiles"], vocab, 60)
            except ValueError:  # outside the vocabulary
                continue
            assert objectives[r["task"]].value(ctx) == pytest.approx(float(r["value"]), abs=1e-9), r
            checked += 1
    assert checked > 300


def test_targets_and_isomers_score_one():
    for name, smiles in [
        ("celecoxib_rediscovery", "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"),
        ("troglitazone_rediscovery", "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"),
        ("thiothixene_rediscovery", "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"),
        ("albuterol_similarity", "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"),
    ]:
        assert make_task(name).objective(smiles) == 1.0
    assert make_task("isomers_c7h8n2o2").objective("Nc1ccccc1C(=O)NO") == 1.0  # C7H8N2O2
    assert make_task("isomers_c7h8n2o2").objective("NC(=O)c1ccc(N)cc1O") == 1.0
    # C7H6N2O2, two hydrogens short: the H term exp(-2**2 / 2), the total (17 of 19) exp(-(2 / 2)**2 / 2),
    # C, N, O exact; geometric mean of the five
    expected = (math.exp(-2.0) * math.exp(-0.5)) ** (1 / 5)
    assert Formula("C7H8N2O2")("Nc1ccccc1C(=O)N=O") == pytest.approx(expected, abs=1e-12)


def test_the_earlier_tdc_isomer_score_reads_the_total_from_the_smiles_text():
    """scripts/pmo_isomer_prev.py: TDC's earlier isomer score; only the total-atom term differs."""
    from scripts.pmo_isomer_prev import FormulaFromSmilesText, smiles_text_atoms

    # CCN(C(C)=O)c1cccc(-c2ccnc3c(C#N)cnn23)c1: C C N C C O, then "C" of C#N and "N": 8 tokens, none with a digit;
    # Cl and a ring digit after an upper-case atom: "C1" counts 1, "C2" counts 2, "Cl" one token
    assert smiles_text_atoms("CCN(C(C)=O)c1cccc(-c2ccnc3c(C#N)cnn23)c1") == 8
    assert smiles_text_atoms("C1CC2CCC1C2Cl") == 1 + 1 + 2 + 1 + 1 + 1 + 2 + 1
    isomer = Chem.MolFromSmiles("Nc1ccccc1C(=O)NO")  # C7H8N2O2: 19 atoms with H, 5 tokens in its SMILES text
    text_total = smiles_text_atoms(Chem.MolToSmiles(isomer))
    expected = math.exp(-(((text_total - 19) / 2.0) ** 2) / 2) ** (1 / 5)  # four exact element terms
    assert Formula("C7H8N2O2")(isomer) == 1.0
    assert FormulaFromSmilesText("C7H8N2O2")(isomer) == pytest.approx(expected, abs=1e-12) and expected < 0.5


def test_modifiers_and_formulas_by_hand():
    assert Clipped(0.75)(0.375) == 0.5 and Clipped(0.75)(0.9) == 1.0 and Clipped(0.75)(-0.1) == 0.0
    assert Clipped(1.0)(0.3) == pytest.approx(0.3, abs=1e-15)
    assert MinGaussian(1, 1)(0.0) == 1.0 and MinGaussian(1, 1)(2.0) == pytest.approx(math.exp(-0.5))
    assert MaxGaussian(100, 10)(150) == 1.0 and MaxGaussian(100, 10)(80) == pytest.approx(math.exp(-2))
    assert Gaussian(0, 0.1)(0.1) == pytest.approx(math.exp(-0.5))
    assert parse_formula("C9H10N2O2PF2Cl") == [("C", 9), ("H", 10), ("N", 2), ("O", 2), ("P", 1), ("F", 2), ("Cl", 1)]
    with pytest.raises(ValueError, match="not a molecular formula"):
        parse_formula("c7h8")
    assert Substructure("c1ccccc1")("Oc1ccccc1") == 1.0 and Substructure("c1ccccc1", inverse=True)("Oc1ccccc1") == 0.0
    with pytest.raises(ValueError, match="not a valid SMARTS"):
        Substructure("c1cc(")


def test_fingerprints_are_rdkits_reference_ones():
    """The objectives use RDKit's fingerprint generators; GuacaMol used the legacy functions. Same counts."""
    with gzip.open(MOSES_PATH, "rt") as f:
        smiles = [line.split(",")[0].strip() for _, line in zip(range(151), f)][1:]
    legacy = {
        "ECFP4": lambda m: AllChem.GetMorganFingerprint(m, 2),
        "ECFP6": lambda m: AllChem.GetMorganFingerprint(m, 3),
        "FCFP4": lambda m: AllChem.GetMorganFingerprint(m, 2, useFeatures=True),
        "AP": lambda m: AllChem.GetAtomPairFingerprint(m, maxLength=10),
    }
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(s) for s in smiles]
        for kind, reference in legacy.items():
            for a, b in zip(mols, mols[1:]):
                assert fingerprint(a, kind).GetNonzeroElements() == reference(a).GetNonzeroElements()
                ours = DataStructs.TanimotoSimilarity(fingerprint(a, kind), fingerprint(b, kind))
                assert ours == DataStructs.TanimotoSimilarity(reference(a), reference(b))
    with pytest.raises(ValueError, match="unknown fingerprint"):
        fingerprint(mols[0], "MACCS")


def test_terms_take_molecules_smiles_and_contexts():
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    value = QED()(mol)
    assert value == QED()("CC(=O)Nc1ccc(O)cc1") == QED()(Context.of_mol(mol)) and 0 < value < 1
    with pytest.raises(ValueError, match="'C1CC' is not a valid SMILES"):
        QED()("C1CC")
    with pytest.raises(TypeError, match="not int"):
        QED()(3)


def test_every_pmo_objective_is_an_env_reward():
    assert len(PMO_TASKS) == 23 and len(set(PMO_TASKS)) == 23
    for name in OBJECTIVES:
        env = gym.make("MolEdit-v0", reward=make_task(name).objective, min_steps=1, max_steps=4)
        env.reset(seed=0)
        total, done = 0.0, False
        rng = np.random.default_rng(0)
        while not done:
            mask = env.unwrapped.action_masks()
            action = int(rng.choice(np.flatnonzero(mask)))
            _, reward, terminated, truncated, _ = env.step(env.unwrapped.layout.to_multidiscrete(action))
            total, done = total + reward, terminated or truncated
        assert 0.0 <= total <= 1.0, name
