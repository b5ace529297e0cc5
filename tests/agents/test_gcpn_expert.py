"""Expert pairs replay to their molecules, and behaviour cloning learns them."""

from __future__ import annotations

import numpy as np
import torch

from molgym.chem import ActionLayout, AtomVocab, MolGraph
from molgym.data import encode_smiles
from molgym_agents.gcpn import GCPNPolicy
from molgym_agents.gcpn.expert import behaviour_cloning, expert_batch, expert_data, expert_masks

VOCAB = AtomVocab.default()
SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "C[NH+]1CCC(C(=O)[O-])CC1", "O=[N+]([O-])c1ccc(Cl)cc1", "CCOC(=O)N", "c1ccncc1"]


def _data(max_atoms=16):
    graphs = encode_smiles(SMILES, VOCAB, max_atoms).graphs
    layout = ActionLayout(max_atoms, len(VOCAB))
    return graphs, layout, expert_data(graphs, layout, seed=0)


def test_expert_pairs_are_legal_and_rebuild_the_molecules():
    graphs, layout, data = _data()
    assert len(data) == sum(int(np.count_nonzero(np.triu(g.bonds))) + 1 for g in graphs)
    masks = expert_masks(data, np.arange(len(data)), layout, VOCAB)
    assert masks[np.arange(len(data)), data.actions].all()  # every expert action is legal in its state
    # the state after each molecule's last edit (before stop) is the molecule itself
    for m, graph in enumerate(graphs):
        last = np.flatnonzero(data.molecule == m)[-1]
        assert data.actions[last] == layout.stop
        final = MolGraph(data.types[last], data.bonds[last], int(data.num_atoms[last]), VOCAB)
        assert final.smiles() == graph.smiles()


def test_behaviour_cloning_learns_the_expert_actions():
    graphs, layout, data = _data()
    torch.manual_seed(0)
    policy = GCPNPolicy(len(VOCAB), layout.max_atoms, 3, max_free=int(VOCAB.max_valence.max()), hidden=64, rank=16)
    losses = behaviour_cloning(policy, data, layout, VOCAB, epochs=40, batch_size=64, lr=3e-3)
    assert losses[-1] < 0.35 * losses[0], losses[::10]
    # the cloned policy now picks the expert's action far more often than chance
    obs, mask, actions = expert_batch(data, np.arange(len(data)), layout, VOCAB)
    dist, _ = policy(obs, mask)
    expert_prob = dist.log_prob(actions).exp().mean()
    chance = (1.0 / mask.sum(dim=1).float()).mean()
    assert expert_prob > 10 * chance
