"""Expert construction sequences: env actions that rebuild a given molecule (GCPN's expert data).

A molecule is rebuilt from one of its atoms (a carbon when it has one) by a breadth-first walk
over its bonds in random order: a bond to an atom not yet placed adds that atom, a bond between
placed atoms closes a ring. Every action is checked with the env's own legality mask, so the
sequence replays through the env exactly; an order that passes through a state the env forbids
(one RDKit would rewrite, although the finished molecule is fine) is retried with another.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from molgym.chem.actions import ActionLayout
from molgym.chem.graph import MolGraph

__all__ = ["Construction", "construction_sequence"]


@dataclass
class Construction:
    """How to rebuild a molecule: the one-atom start graph and the flat actions (ending with stop)."""

    start: MolGraph
    actions: list[int]

    @property
    def start_smiles(self) -> str:
        return self.start.smiles()


def construction_sequence(
    graph: MolGraph, layout: ActionLayout, rng: np.random.Generator, attempts: int = 50
) -> Construction:
    """Actions that rebuild ``graph`` from one of its atoms through the env's transitions.

    Raises ``ValueError`` if no order out of ``attempts`` random ones is legal all the way.
    """
    n = graph.num_atoms
    if n > layout.max_atoms or len(graph.vocab) != layout.num_types:
        raise ValueError("the molecule does not fit the action layout (max_atoms or atom types)")
    carbons = np.flatnonzero(graph.vocab.atomic_numbers[graph.atom_types[:n]] == 6)
    roots = carbons if carbons.size else np.arange(n)
    for _ in range(attempts):
        root = int(rng.choice(roots))
        result = _try_order(graph, layout, rng, root)
        if result is not None:
            return result
    raise ValueError(f"no legal construction order found for {graph.smiles()} in {attempts} attempts")


def _try_order(graph: MolGraph, layout: ActionLayout, rng: np.random.Generator, root: int) -> Construction | None:
    n = graph.num_atoms
    start = MolGraph.empty(graph.vocab, layout.max_atoms)
    start.atom_types[0] = graph.atom_types[root]
    start.num_atoms = 1
    state = start.copy()
    index = {root: 0}  # molecule atom -> env atom
    placed_bonds: set[tuple[int, int]] = set()
    actions: list[int] = []
    queue = deque([root])
    while queue:
        u = queue.popleft()
        neighbours = np.flatnonzero(graph.bonds[u, :n])
        for v in rng.permutation(neighbours).tolist():
            key = (min(u, v), max(u, v))
            if key in placed_bonds:
                continue
            bond = int(graph.bonds[u, v]) - 1
            if v in index:
                second = index[v]
            else:
                second = state.num_atoms + int(graph.atom_types[v])
            k = layout.encode(index[u], second, bond)
            if not state.edit_mask(layout).reshape(-1)[k]:
                return None
            state.apply_edit(index[u], second, bond)
            if v not in index:
                index[v] = state.num_atoms - 1
                queue.append(v)
            placed_bonds.add(key)
            actions.append(k)
    actions.append(layout.stop)
    return Construction(start, actions)
