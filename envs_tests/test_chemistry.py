"""Differential tests: the environment's valence arithmetic and action mask against RDKit.

RDKit is the referee (:func:`molgym.chem.rdkit_accepts`: it sanitizes the state and keeps it as it
is). States come from random masked rollouts over vocabularies that include the atom types with
tricky rules (hypervalent I, P, S, charged O and N), plus fully random bond matrices.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs_tests.reference_rules import removable_bonds
from molgym.chem import (
    ActionLayout,
    AtomVocab,
    MolGraph,
    rdkit_accepts,
    rdkit_max_valence,
    rewritten_atoms,
    state_ok,
    valence_ok,
)

VOCABS = {
    "default": AtomVocab.default(),
    # few types, so that P, I and charged O meet often and build the patterns RDKit rewrites
    "tricky": AtomVocab(["C", "N", "O", "P", "I", "O+", "O-", "N+", "S"]),
}


def _random_states(vocab: AtomVocab, count: int, max_atoms: int, seed: int, allow_removal: bool):
    """States reached by random legal edits from one carbon (the env's own transitions)."""
    rng = np.random.default_rng(seed)
    layout = ActionLayout(max_atoms, len(vocab), allow_removal)
    start = MolGraph.from_smiles("C", vocab, max_atoms)
    graph = start.copy()
    states = []
    while len(states) < count:
        legal = np.flatnonzero(graph.edit_mask(layout).reshape(-1))
        if legal.size == 0 or graph.num_atoms >= max_atoms or rng.random() < 0.02:
            graph = start.copy()
            continue
        first, second, bond, _ = layout.decode(int(rng.choice(legal)))
        graph.apply_edit(first, second, bond)
        states.append(graph.copy())
    return states


def _structurally_possible(graph: MolGraph, layout: ActionLayout, first: int, second: int, bond: int) -> bool:
    """The non-chemical rules: atoms exist, no self-loop, adding needs no bond and room, removing needs one."""
    n = graph.num_atoms
    if first >= n or second == first:
        return False
    if second >= n:
        return bond < 3 and second - n < layout.num_types and n < layout.max_atoms
    bonded = graph.bonds[first, second] > 0
    return bonded if bond == 3 else not bonded


@pytest.mark.parametrize("vocab_name", sorted(VOCABS))
def test_valence_limits_come_from_rdkit(vocab_name):
    vocab = VOCABS[vocab_name]
    for (symbol, charge), limit in zip(vocab.types, vocab.max_valence):
        assert limit == rdkit_max_valence(symbol, charge)
    # spot values everyone knows
    default = VOCABS["default"]
    assert default.max_valence[default.names.index("C")] == 4
    assert default.max_valence[default.names.index("N+")] == 4
    assert default.max_valence[default.names.index("O-")] == 1


@pytest.mark.parametrize("vocab_name", sorted(VOCABS))
def test_state_rule_agrees_with_rdkit_on_random_bond_matrices(vocab_name):
    """Random graphs, most of them chemically broken: the env's rule == RDKit's verdict."""
    vocab = VOCABS[vocab_name]
    rng = np.random.default_rng(1)
    agree_true = agree_false = 0
    for _ in range(3000):
        n = int(rng.integers(1, 9))
        types = np.full(12, -1, dtype=np.int8)
        types[:n] = rng.integers(0, len(vocab), n)
        bonds = np.zeros((12, 12), dtype=np.int8)
        upper = np.triu(rng.choice(4, size=(n, n), p=[0.55, 0.3, 0.1, 0.05]), 1)
        bonds[:n, :n] = upper + upper.T
        ours = state_ok(types, bonds, n, vocab)
        assert ours == rdkit_accepts(types, bonds, n, vocab), (types[:n], bonds[:n, :n])
        agree_true += ours
        agree_false += not ours
    assert agree_true > 300 and agree_false > 300  # both verdicts were exercised


@pytest.mark.parametrize("allow_removal", [False, True])
@pytest.mark.parametrize("vocab_name", sorted(VOCABS))
def test_every_reachable_state_sanitizes_unchanged(vocab_name, allow_removal):
    vocab = VOCABS[vocab_name]
    states = _random_states(vocab, 3000, 16, seed=2, allow_removal=allow_removal)
    for g in states:
        assert rdkit_accepts(g.atom_types, g.bonds, g.num_atoms, vocab), g.to_mol(sanitize=False)
        # the state round-trips through its canonical SMILES
        assert MolGraph.from_smiles(g.smiles(), vocab, 16).smiles() == g.smiles()


@pytest.mark.parametrize("allow_removal", [False, True])
@pytest.mark.parametrize("vocab_name", sorted(VOCABS))
def test_mask_is_legal_exactly_when_rdkit_accepts_the_result(vocab_name, allow_removal):
    """For every action in sampled states: mask[k] <=> structurally possible and RDKit accepts the result."""
    vocab = VOCABS[vocab_name]
    max_atoms = 12
    layout = ActionLayout(max_atoms, len(vocab), allow_removal)
    states = _random_states(vocab, 400, max_atoms, seed=3, allow_removal=allow_removal)[::4]
    legal_seen = illegal_chem_seen = rewrite_seen = 0
    for g in states:
        mask = g.edit_mask(layout).reshape(-1)
        removable = None
        for k in range(layout.num_edits):
            first, second, bond, _ = layout.decode(k)
            if not _structurally_possible(g, layout, first, second, bond):
                assert not mask[k]
                continue
            if bond == 3:
                # one-fragment rule first: removal of a bridge that strands more than one atom is illegal
                if removable is None:
                    removable = removable_bonds(g.bonds, g.num_atoms)
                if not removable[first, second]:
                    assert not mask[k]
                    continue
            after = g.copy()
            after.apply_edit(first, second, bond)
            accepted = rdkit_accepts(after.atom_types, after.bonds, after.num_atoms, vocab)
            assert mask[k] == accepted, (g.smiles(), layout.decode(k), accepted)
            legal_seen += accepted
            illegal_chem_seen += not accepted
            rewrite_seen += not accepted and valence_ok(after.atom_types, after.bonds, after.num_atoms, vocab)
    assert legal_seen > 1000 and illegal_chem_seen > 1000
    if vocab_name == "tricky":  # the rewrite rules were exercised, not only the valence limits
        assert rewrite_seen > 0


def test_rewrite_rules_match_rdkit_on_known_molecules():
    """The patterns RDKit's cleanUp rewrites, and look-alikes it keeps."""
    vocab = VOCABS["tricky"]
    cases = {
        "OI=[O+]C": True,  # iodine with only O neighbours and a double bond: rewritten (and then fails)
        "OI=O": True,  # rewritten to [O-][I+]O
        "CI=[O+]C": False,  # a carbon neighbour: kept
        "CC=P(=O)C": True,  # P(=O)=C with the C of degree 2: rewritten to [P+][O-]
        "C=P(=O)C": False,  # the =C has degree 1: kept
        "CP(C)(=O)O": False,  # ordinary phosphine oxide (valence 5, degree 4): kept
    }
    for smiles, rewritten in cases.items():
        from rdkit import Chem

        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        n = mol.GetNumAtoms()
        types = np.array([vocab.index(a.GetAtomicNum(), a.GetFormalCharge()) for a in mol.GetAtoms()], dtype=np.int8)
        bonds = np.zeros((n, n), dtype=np.int8)
        for b in mol.GetBonds():
            i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
            bonds[i, j] = bonds[j, i] = int(b.GetBondTypeAsDouble())
        assert rewritten_atoms(types, bonds, n, vocab).any() == rewritten, smiles
        assert rdkit_accepts(types, bonds, n, vocab) == (not rewritten), smiles
