"""GCPN-style edit actions: their flat index, their legality mask and their transitions.

An edit names a first atom ``i`` (an existing atom), a second atom ``j`` and a bond choice ``b``:

* ``j < num_atoms``: the existing atom ``j``;
* ``num_atoms <= j < num_atoms + T``: a new atom of type ``j - num_atoms``, bonded to ``i``;
* ``b`` in 0, 1, 2: single, double, triple bond; with removal enabled, ``b = 3`` removes the bond.

Flat index (``N = max_atoms``, ``T`` atom types, ``B`` bond choices, 3 or 4)::

    k = (b * N + i) * (N + T) + j        for edits, 0 <= k < B * N * (N + T)
    k = K - 1 = B * N * (N + T)          for stop

so the edit part of a mask reshapes to ``(B, N, N + T)``: one ``(first, second)`` plane per bond
choice (bond-major, which keeps the mask computation to a few contiguous array operations).

An edit is legal when ``i`` exists, ``j`` is an existing atom other than ``i`` not yet bonded to it
or a valid new-atom slot (and the molecule has fewer than ``N`` atoms), both atoms keep their
bond-order sums within their types' RDKit valence limits, and the result is not one of the few
patterns RDKit's sanitization would rewrite (:mod:`molgym.chem.rewrites`). A removal is legal when
the bond exists and the molecule stays one fragment, except that an atom left with no bond is
dropped (MolDQN), under the same rewrite rule.
"""

from __future__ import annotations

import numpy as np

from molgym.chem.graph import MolGraph
from molgym.chem.rewrites import forbid_rewriting_edits

__all__ = ["ActionLayout", "edit_mask", "apply_edit", "removable_bonds"]

_ORDERS = np.array([1, 2, 3], dtype=np.int64)
_ORDER_PLANES = _ORDERS[:, None, None]


class ActionLayout:
    """Sizes and index arithmetic of the action space for ``N`` atoms and ``T`` atom types.

    Attributes:
        num_bond_choices: ``B``, 3 (single, double, triple) or 4 with removal.
        num_second_choices: ``N + T``, the second-atom slots: an existing atom, or a new atom of a type.
        size: ``K = B * N * (N + T) + 1`` flat actions, the last one (``stop``) stopping.
        nvec: the ``MultiDiscrete`` sizes ``[N, N + T, B, 2]``.
    """

    def __init__(self, max_atoms: int, num_types: int, allow_removal: bool = False):
        if max_atoms < 1:
            raise ValueError(f"max_atoms must be at least 1, got {max_atoms}")
        self.max_atoms = N = int(max_atoms)
        self.num_types = T = int(num_types)
        self.allow_removal = bool(allow_removal)
        self.num_bond_choices = B = 4 if allow_removal else 3
        self.num_second_choices = N + T
        self.num_edits = N * (N + T) * B
        self.size = self.num_edits + 1
        self.stop = self.num_edits
        self.nvec = np.array([N, N + T, B, 2], dtype=np.int64)

    def encode(self, first, second, bond):
        """Flat index of an edit (ints, or integer arrays of edits)."""
        return (bond * self.max_atoms + first) * self.num_second_choices + second

    def from_multidiscrete_many(self, actions: np.ndarray) -> np.ndarray:
        """``(B,)`` flat indices of ``(B, 4)`` MultiDiscrete actions already within ``nvec``; the
        inverse of :meth:`to_multidiscrete_many`."""
        a = np.asarray(actions, dtype=np.int64)
        return np.where(a[:, 3] == 1, self.stop, self.encode(a[:, 0], a[:, 1], a[:, 2]))

    def decode(self, k: int) -> tuple[int, int, int, int]:
        """``(first, second, bond, stop)`` of flat index ``k``; stop decodes to ``(0, 0, 0, 1)``."""
        k = int(k)
        if not 0 <= k < self.size:
            raise ValueError(f"flat action {k} is out of range [0, {self.size})")
        if k == self.stop:
            return 0, 0, 0, 1
        row, second = divmod(k, self.num_second_choices)
        bond, first = divmod(row, self.max_atoms)
        return first, second, bond, 0

    def from_multidiscrete(self, action) -> int:
        """Flat index of a ``MultiDiscrete([N, N + T, B, 2])`` action; ``ValueError`` if malformed."""
        a = np.asarray(action)
        if a.shape != (4,):
            raise ValueError(f"action must have shape (4,) = (first, second, bond, stop), got shape {a.shape}")
        if a.dtype.kind not in "iu":
            raise ValueError(f"action must be integers, got dtype {a.dtype}")
        first, second, bond, stop = a.tolist()
        N, S, B = self.max_atoms, self.num_second_choices, self.num_bond_choices
        if not (0 <= first < N and 0 <= second < S and 0 <= bond < B and 0 <= stop < 2):
            bad = [
                f"{name}={v} not in [0, {hi})"
                for name, v, hi in zip(("first", "second", "bond", "stop"), (first, second, bond, stop), (N, S, B, 2))
                if not 0 <= v < hi
            ]
            raise ValueError("action out of range: " + ", ".join(bad))
        return self.stop if stop else self.encode(first, second, bond)

    def to_multidiscrete(self, k: int) -> np.ndarray:
        return np.array(self.decode(k), dtype=np.int64)

    def sample(self, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(B, 4)`` actions drawn uniformly from the legal actions of each row of ``masks (B, K)``.

        One pass over the masks: the legal flat indices of all rows in order, then for each row
        the ``r``-th of its own, ``r`` uniform below the row's count.
        """
        masks = np.ascontiguousarray(masks, dtype=bool)
        B, K = masks.shape
        legal = np.flatnonzero(masks)  # row-major: row b's entries lie in [b * K, (b + 1) * K)
        counts = np.bincount(legal // K, minlength=B)
        if (counts == 0).any():
            raise ValueError(f"mask row {int(np.argmin(counts))} has no legal action")
        starts = np.cumsum(counts) - counts
        picks = legal[starts + rng.integers(0, counts)] - np.arange(B) * K
        return self.to_multidiscrete_many(picks)

    def to_multidiscrete_many(self, k: np.ndarray) -> np.ndarray:
        """``(B, 4)`` MultiDiscrete actions of flat indices ``k`` (``(B,)``), as :meth:`decode` each."""
        k = np.asarray(k, dtype=np.int64)
        if np.any((k < 0) | (k >= self.size)):
            raise ValueError(f"flat actions must be in [0, {self.size})")
        stop = k == self.stop
        row, second = np.divmod(k, self.num_second_choices)
        bond, first = np.divmod(row, self.max_atoms)
        out = np.stack([first, second, bond, stop.astype(np.int64)], axis=1)
        out[stop, :3] = 0
        return out


def removable_bonds(bonds: np.ndarray, num_atoms: int) -> np.ndarray:
    """``(n, n)`` bool: bonds whose removal keeps one fragment, or only strands an atom (dropped)."""
    n = num_atoms
    adj = bonds[:n, :n] > 0
    degree = adj.sum(axis=1)
    neighbours = [np.flatnonzero(row).tolist() for row in adj]
    # Bridges by an iterative DFS with low-links; a bond that is no bridge lies on a ring.
    disc = [-1] * n
    low = [0] * n
    bridge = np.zeros((n, n), dtype=bool)
    timer = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = timer
        timer += 1
        stack = [(root, -1, iter(neighbours[root]))]
        while stack:
            v, parent, it = stack[-1]
            advanced = False
            for w in it:
                if w == parent:
                    continue
                if disc[w] < 0:
                    disc[w] = low[w] = timer
                    timer += 1
                    stack.append((w, v, iter(neighbours[w])))
                    advanced = True
                    break
                low[v] = min(low[v], disc[w])
            if not advanced:
                stack.pop()
                if parent >= 0:
                    low[parent] = min(low[parent], low[v])
                    if low[v] > disc[parent]:
                        bridge[v, parent] = bridge[parent, v] = True
    leaf = (degree == 1)[:, None] | (degree == 1)[None, :]
    return adj & (~bridge | leaf)


def edit_mask(
    graph: MolGraph, layout: ActionLayout, out: np.ndarray | None = None, free: np.ndarray | None = None
) -> np.ndarray:
    """``(B, N, N + T)`` bool: which edits are legal in ``graph`` (stop is decided by the env).

    Bonding ``i`` to partner ``j`` (an existing atom or a new-atom slot) with order ``b + 1`` is
    legal when ``min(free[i], free[j]) >= b + 1`` and the pair is open (not ``i`` itself, not
    already bonded), where ``free`` is the valence an atom can still take (a new atom's is its
    type's limit). ``out``, if given, is filled in place; ``free`` is ``graph.free_valence()`` if
    the caller has it already.
    """
    N, T, B = layout.max_atoms, layout.num_types, layout.num_bond_choices
    n = graph.num_atoms
    mask = np.zeros((B, N, N + T), dtype=bool) if out is None else out
    if out is not None:
        mask.fill(False)
    cap = graph.vocab.max_valence
    block = graph.bonds[:n, :n]
    if free is None:
        free = graph.free_valence()
    partner = np.concatenate((free, cap)) if n < N else free
    room = np.minimum.outer(free, partner)  # (n, n + T) or (n, n)
    room[:, :n][block != 0] = 0
    room.reshape(-1)[:: room.shape[1] + 1] = 0  # the diagonal: no self-loops
    mask[:3, :n, : room.shape[1]] = room >= _ORDER_PLANES
    if B == 4:
        mask[3, :n, :n] = removable_bonds(graph.bonds, n)
    forbid_rewriting_edits(graph.atom_types, graph.bonds, n, graph.vocab, mask)
    return mask


def apply_edit(graph: MolGraph, first: int, second: int, bond: int, free: np.ndarray | None = None) -> None:
    """Apply a legal edit in place (legality is the caller's business: see :func:`edit_mask`).

    ``free``, if given, is a ``(N,)`` array of free valences (``graph.free_valence()`` padded with
    zeros) that is kept up to date, which spares callers a recomputation after every edit.
    """
    n = graph.num_atoms
    if bond == 3:
        graph.bonds[first, second] = graph.bonds[second, first] = 0
        lone = [a for a in (first, second) if not graph.bonds[a, :n].any()]
        if len(lone) == 2:  # the molecule was just these two atoms: keep the lower index
            lone = [max(lone)]
        for atom in lone:
            _drop_atom(graph, atom)
        if free is not None:
            free.fill(0)
            free[: graph.num_atoms] = graph.free_valence()
        return
    order = bond + 1
    if second >= n:
        kind = second - n
        graph.atom_types[n] = kind
        graph.num_atoms = n + 1
        second = n
        if free is not None:
            free[n] = graph.vocab.max_valence[kind]
    graph.bonds[first, second] = graph.bonds[second, first] = order
    if free is not None:
        free[first] -= order
        free[second] -= order


def _drop_atom(graph: MolGraph, atom: int) -> None:
    n = graph.num_atoms
    keep = np.r_[0:atom, atom + 1 : n]
    graph.atom_types[: n - 1] = graph.atom_types[keep]
    graph.atom_types[n - 1] = -1
    block = graph.bonds[np.ix_(keep, keep)]
    graph.bonds[:n, :n] = 0
    graph.bonds[: n - 1, : n - 1] = block
    graph.num_atoms = n - 1
