"""Expert construction sequences rebuild their molecules exactly through the env, charged ones included."""

from __future__ import annotations

import numpy as np
import pytest

from envs_tests.conftest import shared_file
from molgym.chem import ActionLayout, AtomVocab
from molgym.chem.construction import construction_sequence
from molgym.data import encode_smiles, nci_smiles, read_smiles
from molgym.envs import MolEditEnv

VOCAB = AtomVocab.default()


def _replay(graph, seed, env):
    """Rebuild ``graph`` by stepping the env with its construction sequence; the final SMILES."""
    layout = env.layout
    construction = construction_sequence(graph, layout, np.random.default_rng(seed))
    env.reset(options={"smiles": construction.start_smiles})
    for k in construction.actions:
        legal = env.action_masks()[k]
        _, _, terminated, truncated, info = env.step(layout.to_multidiscrete(k))
        assert legal and info["valid"]
    assert terminated and not truncated
    return info["smiles"], len(construction.actions)


def _rebuild_all(smiles, max_atoms=38):
    encoded = encode_smiles(smiles, VOCAB, max_atoms)
    env = MolEditEnv(reward=[], min_steps=0, max_steps=400, max_atoms=max_atoms + 1, info_smiles="end")
    for i, (graph, expected) in enumerate(zip(encoded.graphs, encoded.smiles)):
        rebuilt, steps = _replay(graph, i, env)
        assert rebuilt == expected, (expected, rebuilt)
        assert steps == int(np.count_nonzero(np.triu(graph.bonds))) + 1  # one action per bond, then stop
    return len(encoded.graphs)


def test_all_800_charged_molecules_rebuild_exactly():
    assert _rebuild_all(read_smiles(shared_file("zinc_low_plogp_800.txt"))) == 800


def test_moses_molecules_rebuild_exactly():
    assert _rebuild_all(read_smiles(shared_file("moses_train.csv.gz"), limit=1500)) == 1500


def test_nci_molecules_rebuild_exactly():
    assert _rebuild_all(nci_smiles(limit=600)) > 500


def test_orders_that_pass_through_forbidden_states_are_avoided():
    # walking C-O-I and then the I=O before the second carbon leaves the iodine with only oxygen
    # neighbours and a double bond: a state RDKit rewrites, which the env forbids
    from molgym.chem import MolGraph
    from molgym.chem.construction import _try_order

    vocab = AtomVocab(["C", "O", "I"])
    graph = MolGraph.from_smiles("COI(=O)C", vocab, 8)
    layout = ActionLayout(8, len(vocab))
    root = 0  # the methoxy carbon
    outcomes = [_try_order(graph, layout, np.random.default_rng(seed), root) is None for seed in range(40)]
    assert any(outcomes) and not all(outcomes)  # some orders are forbidden, some are not
    for seed in range(20):
        c = construction_sequence(graph, layout, np.random.default_rng(seed))
        assert len(c.actions) == 5 and c.start_smiles == "C"
    with pytest.raises(ValueError, match="does not fit"):
        construction_sequence(graph, ActionLayout(2, len(vocab)), np.random.default_rng(0))
