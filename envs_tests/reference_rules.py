"""The per-molecule edit rules in plain Python: the reference the engine is tested against.

These are the rules :mod:`molgym.chem.engine` implements once for a batch (compiled), written
here a second, independent way (NumPy and Python loops over one molecule, bridges by a recursive-
free DFS, the rewrite rules screened per site, removals checked by trial). The library does not
use them; ``envs_tests`` compares the engine against them on many random states, and both
against RDKit.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from molgym.chem import ActionLayout, AtomVocab, MolGraph
from molgym.chem.rewrites import TypeFlags

__all__ = ["edit_mask", "apply_edit", "removable_bonds", "rewritten_atoms", "forbid_rewriting_edits"]

_ORDERS = np.array([1, 2, 3], dtype=np.int64)
_ORDER_PLANES = _ORDERS[:, None, None]
_DOUBLE = _ORDERS == 2


def _lists(f: TypeFlags) -> SimpleNamespace:
    """Plain-Python copies of the type flags for the per-atom loops (numpy scalar indexing is slow there)."""
    cached = f.__dict__.get("_lists")
    if cached is None:
        names = ("halogen", "oxygen", "sensitive", "neutral_oxygen", "carbon_or_nitrogen")
        cached = f.__dict__["_lists"] = SimpleNamespace(**{name: getattr(f, name).tolist() for name in names})
    return cached


def removable_bonds(bonds: np.ndarray, num_atoms: int) -> np.ndarray:
    """``(n, n)`` bool: bonds whose removal keeps one fragment, or only strands an atom (dropped).

    By definition, with no cleverness: remove each bond in turn and search whether its two atoms
    are still connected (the engine finds bridges by low-links in one depth-first search)."""
    n = num_atoms
    adj = bonds[:n, :n] > 0
    degree = adj.sum(axis=1)
    out = np.zeros((n, n), dtype=bool)
    for i, j in zip(*np.nonzero(np.triu(adj))):
        cut = adj.copy()
        cut[i, j] = cut[j, i] = False
        seen, frontier = {int(i)}, [int(i)]
        while frontier:
            frontier = [w for v in frontier for w in np.flatnonzero(cut[v]).tolist() if w not in seen]
            seen.update(frontier)
        out[i, j] = out[j, i] = j in seen or degree[i] == 1 or degree[j] == 1
    return out


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


def rewritten_atoms(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab) -> np.ndarray:
    """``(n,)`` bool: atoms at which RDKit's cleanUp would rewrite the molecule."""
    f = TypeFlags.of(vocab)
    n = num_atoms
    t = atom_types[:n]
    block = bonds[:n, :n].astype(np.int64)
    ev = block.sum(axis=1)
    adj = block > 0
    deg = adj.sum(axis=1)
    dbl = block == 2
    all_o = ~(adj & ~f.oxygen[t][None, :]).any(axis=1)
    halogen = f.halogen[t] & f.odd_total[t, np.minimum(ev, f.odd_total.shape[1] - 1)]
    halogen &= all_o & dbl.any(axis=1)
    dbl_o = (dbl & f.neutral_oxygen[t][None, :]).any(axis=1)
    dbl_cn = (dbl & (f.carbon_or_nitrogen[t] & (deg >= 2))[None, :]).any(axis=1)
    phosphorus = f.phosphorus[t] & (ev == 5) & (deg == 3) & dbl_o & dbl_cn
    return halogen | phosphorus


def forbid_rewriting_edits(
    atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab, mask: np.ndarray
) -> None:
    """Clear, in a ``(B, N, N + T)`` edit mask, the edits whose result RDKit would rewrite.

    Assumes the current state is not rewritten itself (the env's invariant). Only edits at a
    neutral hypervalent halogen, at a neutral P, at a degree-1 C/N double-bonded to such a P, or
    adding a halogen to an oxygen can create a pattern. Molecules hold few such atoms, so they are
    screened with plain Python on their rows and only real candidates cost array operations.
    """
    f = TypeFlags.of(vocab)
    if not f.any:
        return
    n = num_atoms
    t = atom_types[:n]
    grows = n < mask.shape[1]
    oxygen = f.oxygen[t]
    if grows:
        # a new halogen double-bonded to an oxygen: total valence 3, its one neighbour an O
        for x in f.new_halogen_double:
            mask[1, :n, n + x] &= ~oxygen
    types = t.tolist()
    sites = [i for i, k in enumerate(types) if _lists(f).sensitive[k]]
    if not sites:
        return
    block = bonds[:n, :n]
    for r in sites:
        row = block[r].tolist()
        neighbours = [j for j, order in enumerate(row) if order]
        if _lists(f).halogen[types[r]]:
            if all(_lists(f).oxygen[types[j]] for j in neighbours):
                _halogen_additions(f, mask, r, types[r], row, oxygen, n, grows)
        elif 2 in row and (len(neighbours) == 2 or (len(neighbours) == 3 and sum(row) == 5)):
            _phosphorus_additions(f, mask, r, row, neighbours, block, types, t, n, grows)
    if mask.shape[0] == 4:
        _forbid_rewriting_removals(atom_types, bonds, n, vocab, mask, sites)


def _halogen_additions(f: TypeFlags, mask, r, tr, row, oxygen, n, grows) -> None:
    """Halogen ``r`` (type ``tr``) has only O neighbours: a new bond to an O may complete the pattern."""
    base = f.odd_total[tr, sum(row) + _ORDERS] & ((2 in row) | _DOUBLE)  # (3,): per bond order
    if base.any():
        _clear(mask, r, n, grows, base[:, None] & oxygen, base[:, None] & f.oxygen)


def _phosphorus_additions(f: TypeFlags, mask, r, row, neighbours, block, types, t, n, grows) -> None:
    """P ``r`` with a double bond, of degree 2 (one bond from the pattern) or 3 and valence 5."""
    doubles = [j for j in neighbours if row[j] == 2]
    degrees = [sum(1 for order in block[j].tolist() if order) for j in doubles]
    dbl_o = any(_lists(f).neutral_oxygen[types[j]] for j in doubles)
    dbl_cn = any(_lists(f).carbon_or_nitrogen[types[j]] and d >= 2 for j, d in zip(doubles, degrees))
    if len(neighbours) == 3:
        # valence 5, degree 3: if P=O, a degree-1 C/N double-bonded to P must not gain a bond
        if dbl_o:
            for j, d in zip(doubles, degrees):
                if d == 1 and _lists(f).carbon_or_nitrogen[types[j]]:
                    mask[:3, j, :] = False
                    mask[:3, :n, j] = False
        return
    order = 5 - sum(row)  # the one bond order that brings P to valence 5
    T = len(f.oxygen)
    if order == 2 and (dbl_o or dbl_cn):  # the new double bond supplies the missing half
        partner_cn = f.carbon_or_nitrogen[t] & block.any(axis=1)  # degree >= 2 once bonded
        bad = (dbl_o | f.neutral_oxygen[t]) & (dbl_cn | partner_cn)
        bad_new = (dbl_o | f.neutral_oxygen) & dbl_cn
    elif order == 1 and dbl_o and dbl_cn:  # (a degree-2 P with a double bond has valence 3 to 5)
        bad, bad_new = np.ones(n, dtype=bool), np.ones(T, dtype=bool)
    else:
        return
    b = order - 1
    mask[b, r, :n] &= ~bad
    mask[b, :n, r] &= ~bad
    if grows:
        mask[b, r, n : n + T] &= ~bad_new


def _clear(mask, r, n, grows, bad_existing, bad_new) -> None:
    """Clear the additions at atom ``r``: ``bad_existing`` is ``(3, n)``, ``bad_new`` is ``(3, T)``."""
    mask[:3, r, :n] &= ~bad_existing
    mask[:3, :n, r] &= ~bad_existing
    if grows:
        mask[:3, r, n : n + bad_new.shape[1]] &= ~bad_new


def _forbid_rewriting_removals(atom_types, bonds, n, vocab, mask, sites) -> None:
    """Removal lowers valence and degree, so only the endpoint X or P itself can become a pattern."""
    for r in sites:
        for q in np.flatnonzero(mask[3, r, :n]):
            trial = bonds[:n, :n].copy()
            trial[r, q] = trial[q, r] = 0
            if rewritten_atoms(atom_types, trial, n, vocab)[[r, q]].any():
                mask[3, r, q] = mask[3, q, r] = False
