"""Expert data and behaviour cloning: GCPN's pretraining on real molecules.

Each molecule is decomposed into a construction sequence (:mod:`molgym.chem.construction`), and
every (state, action) pair along it is kept as padded arrays. Masks are recomputed per minibatch
with the env's batched rules (storing a 6 KB mask per pair would dwarf the data), with stop legal
(pretraining runs with ``min_steps=0``), and the policy is fitted by maximum likelihood.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from molgym.chem import ActionLayout, AtomVocab, MolGraph, edit_masks, free_valence
from molgym.chem.construction import construction_sequence

__all__ = ["ExpertData", "expert_data", "expert_batch", "expert_masks", "behaviour_cloning", "pretrain"]


@dataclass
class ExpertData:
    """(state, action) pairs: ``types (M, N)``, ``bonds (M, N, N)``, ``num_atoms (M,)``, ``actions (M,)``
    flat indices, ``molecule (M,)`` the source molecule of each pair; ``skipped`` counts molecules
    with no legal construction order."""

    types: np.ndarray
    bonds: np.ndarray
    num_atoms: np.ndarray
    actions: np.ndarray
    molecule: np.ndarray
    skipped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.actions)


def expert_data(graphs: list[MolGraph], layout: ActionLayout, seed: int = 0, progress: bool = False) -> ExpertData:
    """Decompose molecules into construction sequences and record every (state, action) pair."""
    rng = np.random.default_rng(seed)
    types, bonds, counts, actions, owners = [], [], [], [], []
    skipped: Counter = Counter()
    for m, graph in enumerate(tqdm(graphs, desc="expert sequences", unit="mol", disable=not progress)):
        try:
            construction = construction_sequence(graph, layout, rng)
        except ValueError:
            skipped["no_legal_order"] += 1
            continue
        state = construction.start.copy()
        for k in construction.actions:
            types.append(state.atom_types.copy())
            bonds.append(state.bonds.copy())
            counts.append(state.num_atoms)
            actions.append(k)
            owners.append(m)
            if k != layout.stop:
                first, second, bond, _ = layout.decode(k)
                state.apply_edit(first, second, bond)
    N = layout.max_atoms
    return ExpertData(
        np.array(types, dtype=np.int8).reshape(-1, N),
        np.array(bonds, dtype=np.int8).reshape(-1, N, N),
        np.array(counts, dtype=np.int64),
        np.array(actions, dtype=np.int64),
        np.array(owners, dtype=np.int64),
        skipped,
    )


def expert_masks(data: ExpertData, index: np.ndarray, layout: ActionLayout, vocab: AtomVocab) -> np.ndarray:
    """``(len(index), K)`` legal-action masks of the selected states (stop legal)."""
    types, bonds, n = data.types[index], data.bonds[index], data.num_atoms[index]
    masks, _ = edit_masks(types, bonds, n, free_valence(types, bonds, n, vocab), vocab, layout)
    masks[:, -1] = True
    return masks


def expert_batch(data: ExpertData, index: np.ndarray, layout: ActionLayout, vocab: AtomVocab, device: str = "cpu"):
    """Observations (the env's keys), masks ``(b, K)`` and expert actions ``(b,)`` of the pairs ``index``, as tensors."""
    types, bonds, n = data.types[index], data.bonds[index], data.num_atoms[index]
    obs = {
        "atom_types": torch.as_tensor(types, device=device),
        "bonds": torch.as_tensor(bonds, device=device),
        "free_valence": torch.as_tensor(free_valence(types, bonds, n, vocab), device=device),
    }
    mask = torch.as_tensor(expert_masks(data, index, layout, vocab), device=device)
    return obs, mask, torch.as_tensor(data.actions[index], device=device)


def behaviour_cloning(
    policy,
    data: ExpertData,
    layout: ActionLayout,
    vocab: AtomVocab,
    epochs: int = 1,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: str = "cpu",
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    progress: bool = False,
) -> list[float]:
    """Fit ``policy`` to the expert actions by maximum likelihood; returns the mean loss of each epoch."""
    policy.to(device)
    optimizer = optimizer or torch.optim.Adam(policy.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    batches = -(-len(data) // batch_size)
    bar = tqdm(total=epochs * batches, desc="behaviour cloning", unit="batch", disable=not progress)
    for _ in range(epochs):
        order = rng.permutation(len(data))
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            obs, mask, actions = expert_batch(data, index, layout, vocab, device)
            dist, _ = policy(obs, mask)
            loss = -dist.log_prob(actions).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(index)
            seen += len(index)
            bar.update(1)
        losses.append(total / seen)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    return losses


def pretrain(
    smiles: list[str],
    out: Path,
    command: str,
    epochs: int = 3,
    batch_size: int | None = None,
    lr: float = 1e-3,
    hidden: int | None = None,
    layers: int = 3,
    rank: int = 32,
    max_atoms: int = 38,
    seed: int = 0,
    device: str = "cpu",
) -> str:
    """``molgym pretrain gcpn``: behaviour cloning of the construction sequences of ``smiles``
    (default vocabulary), written to ``out`` with ``command``; a summary line. Defaults: hidden 128,
    batch size 256."""
    from molgym.data import encode_smiles
    from molgym_agents.gcpn.policy import GCPNPolicy

    vocab = AtomVocab.default()
    encoded = encode_smiles(smiles, vocab, max_atoms, progress=True)
    print(encoded.summary())
    if not encoded.graphs:
        raise ValueError("no usable molecule to pretrain on")
    layout = ActionLayout(max_atoms, len(vocab))
    data = expert_data(encoded.graphs, layout, seed=seed, progress=True)
    torch.manual_seed(seed)
    sizes = {"hidden": hidden or 128, "layers": layers, "rank": rank}
    policy = GCPNPolicy(len(vocab), max_atoms, 3, max_free=int(vocab.max_valence.max()), **sizes)
    losses = behaviour_cloning(
        policy,
        data,
        layout,
        vocab,
        epochs=epochs,
        batch_size=batch_size or 256,
        lr=lr,
        device=device,
        seed=seed,
        progress=True,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(
        {
            "agent": "gcpn",
            "policy": policy.cpu().state_dict(),
            "vocab": vocab.names,
            "max_atoms": max_atoms,
            "sizes": sizes,
            "molecules": len(encoded.graphs),
            "pairs": len(data),
            "losses": losses,
            "command": command,
        },
        tmp,
    )
    tmp.replace(out)
    return (
        f"behaviour cloning on {len(encoded.graphs)} molecules ({len(data)} expert steps): loss "
        f"{losses[0]:.3f} -> {losses[-1]:.3f}; wrote {out}"
    )
