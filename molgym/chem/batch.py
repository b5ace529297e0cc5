"""The edit rules of :mod:`molgym.chem.actions` for a batch of molecules, as array operations.

A batch of ``B`` molecules with capacity ``N`` is held as ``types (B, N)`` int8 (``-1`` padding),
``bonds (B, N, N)`` int8, ``num_atoms (B,)`` and ``free (B, N)`` (free valence, 0 padding). The
functions here compute the same masks and transitions as the single-molecule ones, with no
Python loop over molecules; ``envs_tests/test_vector.py`` checks that they agree exactly.
"""

from __future__ import annotations

import numpy as np

from molgym.chem.actions import ActionLayout
from molgym.chem.rewrites import TypeFlags
from molgym.chem.vocab import AtomVocab

__all__ = ["batch_edit_mask", "batch_apply_edits", "batch_free_valence", "bridges"]

_ORDERS = np.array([1, 2, 3], dtype=np.int64)
_ORDER_PLANES = _ORDERS.astype(np.int8)[None, :, None, None]
_DOUBLE = _ORDERS == 2
# On a connected graph the effective resistance across a bridge is exactly 1, and across a bond
# on a ring of k atoms at most 1 - 1/k (k <= N); the threshold sits far from both.
_BRIDGE_RESISTANCE = 1.0 - 1e-3


def batch_free_valence(types: np.ndarray, bonds: np.ndarray, num_atoms: np.ndarray, vocab: AtomVocab) -> np.ndarray:
    """``(B, N)`` int8 free valence (0 past each molecule's atoms)."""
    exists = np.arange(types.shape[1])[None, :] < num_atoms[:, None]
    cap = vocab.max_valence[np.where(exists, types, 0)]
    return np.where(exists, cap - bonds.sum(axis=2, dtype=np.int8), 0).astype(np.int8)


def bridges(bonds: np.ndarray, num_atoms: np.ndarray) -> np.ndarray:
    """``(B, N, N)`` bool: bonds whose removal splits the (connected) molecule.

    Uses effective resistance: with ``L`` the graph Laplacian of the ``n`` atoms, ``M = L + 1/n``
    (plus the identity on padding) is invertible and ``R_ij = M^-1_ii + M^-1_jj - 2 M^-1_ij``.
    """
    B, N, _ = bonds.shape
    adj = (bonds > 0).astype(np.float64)
    exists = np.arange(N)[None, :] < num_atoms[:, None]
    laplacian = -adj
    laplacian[:, np.arange(N), np.arange(N)] = adj.sum(axis=2)
    both = exists[:, :, None] & exists[:, None, :]
    m = laplacian + np.where(both, 1.0 / np.maximum(num_atoms, 1)[:, None, None], 0.0)
    m[:, np.arange(N), np.arange(N)] += ~exists
    inv = np.linalg.inv(m)
    diag = inv[:, np.arange(N), np.arange(N)]
    resistance = diag[:, :, None] + diag[:, None, :] - 2.0 * inv
    return (adj > 0) & (resistance > _BRIDGE_RESISTANCE)


def batch_edit_mask(
    types: np.ndarray, bonds: np.ndarray, num_atoms: np.ndarray, free: np.ndarray, vocab: AtomVocab, layout: ActionLayout
) -> np.ndarray:
    """``(B, C, N, N + T)`` bool edit masks (``C`` bond choices), as :func:`~molgym.chem.edit_mask` for each molecule."""
    B, N = types.shape
    T, C = layout.num_types, layout.num_bond_choices
    S = N + T
    n = num_atoms.astype(np.int64)
    J = np.arange(S)[None, :]
    exists = np.arange(N)[None, :] < n[:, None]  # (B, N)
    tt = np.where(exists, types, 0).astype(np.int64)
    cap = vocab.max_valence
    # partner j: an existing atom (j < n), a new-atom slot (n <= j < n + T, room left), or nothing
    is_atom = J < n[:, None]
    new_slot = (J >= n[:, None]) & (J < n[:, None] + T) & (n[:, None] < N)
    kind = np.clip(J - n[:, None], 0, T - 1)
    partner = np.where(is_atom, free[:, np.minimum(J[0], N - 1)], 0)
    partner = np.where(new_slot, cap[kind], partner)
    room = np.minimum(free[:, :, None], partner[:, None, :])  # (B, N, S)
    closed = bonds != 0
    closed[:, np.arange(N), np.arange(N)] = True
    room[:, :, :N][closed] = 0
    mask = np.zeros((B, C, N, S), dtype=bool)
    mask[:, :3] = room[:, None] >= _ORDER_PLANES
    f = TypeFlags.of(vocab)
    adj = bonds > 0
    if C == 4:
        degree = adj.sum(axis=2)
        leaf = (degree == 1)[:, :, None] | (degree == 1)[:, None, :]
        mask[:, 3, :, :N] = adj & (~bridges(bonds, n) | leaf)
    if f.any:
        _forbid_rewrites(f, mask, tt, bonds, adj, n, exists, is_atom, new_slot, kind)
    return mask


def _forbid_rewrites(f: TypeFlags, mask, tt, bonds, adj, n, exists, is_atom, new_slot, kind) -> None:
    """:func:`molgym.chem.rewrites.forbid_rewriting_edits` for the batch.

    Per-atom conditions are computed for the whole batch; the masks are then cleared only along
    the rows (as first atom) and columns (as second atom) of the few candidate atoms, with fancy
    indexing over (molecule, atom) pairs.
    """
    B, C, N, S = mask.shape
    cols = np.minimum(np.arange(S), N - 1)
    oxygen = f.oxygen[tt] & exists
    neutral_o = f.neutral_oxygen[tt] & exists
    cn = f.carbon_or_nitrogen[tt] & exists
    ev = bonds.sum(axis=2, dtype=np.int64)
    deg = adj.sum(axis=2)
    dbl = bonds == 2
    has_dbl = dbl.any(axis=2)
    halogen = f.halogen[tt] & exists
    phosphorus = f.phosphorus[tt] & exists
    grows = n < N

    def clear(mb, ma, planes: slice, bad):
        """Clear ``bad`` (M, planes, S) along rows ``ma`` of molecules ``mb``, and its mirror."""
        mask[mb, planes, ma, :] &= ~bad
        mirror = bad[..., :N] & exists[mb][:, None, :]
        mask[mb, planes, :N, ma] &= ~mirror

    # a new halogen double-bonded to an oxygen (total valence 3, only O neighbours)
    for x in f.new_halogen_double:
        rows = np.flatnonzero(grows)
        mask[rows[:, None], 1, np.arange(N)[None, :], (n[rows] + x)[:, None]] &= ~oxygen[rows]
    # halogens whose neighbours are all O: a new bond to an O can complete the pattern
    mb, ma = np.nonzero(halogen & ~(adj & ~oxygen[:, None, :]).any(axis=2))
    if mb.size:
        base = f.odd_total[tt[mb, ma][:, None], ev[mb, ma][:, None] + _ORDERS] & (has_dbl[mb, ma][:, None] | _DOUBLE)
        oxygen_partner = np.where(is_atom[mb], oxygen[mb][:, cols], new_slot[mb] & f.oxygen[kind[mb]])
        clear(mb, ma, slice(0, 3), base[:, :, None] & oxygen_partner[:, None, :])
    # phosphorus of degree 2 with a double bond: one bond away from the pattern
    dbl_o = (dbl & neutral_o[:, None, :]).any(axis=2)
    dbl_cn = (dbl & (cn & (deg >= 2))[:, None, :]).any(axis=2)
    p2 = phosphorus & (deg == 2) & has_dbl
    order = 5 - ev
    mb, ma = np.nonzero(p2 & (order == 2) & (dbl_o | dbl_cn))
    if mb.size:
        neutral_o_partner = np.where(is_atom[mb], neutral_o[mb][:, cols], new_slot[mb] & f.neutral_oxygen[kind[mb]])
        cn_partner = is_atom[mb] & cn[mb][:, cols] & (deg[mb][:, cols] >= 1)  # degree >= 2 once bonded
        bad = (dbl_o[mb, ma][:, None] | neutral_o_partner) & (dbl_cn[mb, ma][:, None] | cn_partner)
        clear(mb, ma, slice(1, 2), bad[:, None, :])
    for o in (1, 3):
        mb, ma = np.nonzero(p2 & (order == o) & dbl_o & dbl_cn)
        if mb.size:
            clear(mb, ma, slice(o - 1, o), (is_atom[mb] | new_slot[mb])[:, None, :])
    # phosphorus at valence 5, degree 3 with P=O: its degree-1 =C / =N must not gain a bond
    primed = phosphorus & (deg == 3) & (ev == 5) & dbl_o
    if primed.any():
        mb, ma = np.nonzero(cn & (deg == 1) & (dbl & primed[:, None, :]).any(axis=2))
        mask[mb, :3, ma, :] = False
        mask[mb, :3, :N, ma] = False
    if C == 4:
        rows = np.flatnonzero(halogen.any(axis=1))
        if rows.size:
            # removing a bond from a halogen may leave it with only O neighbours and an odd total valence
            a, b, h, t = adj[rows], bonds[rows], halogen[rows], tt[rows]
            non_o_bond = a & ~oxygen[rows][:, None, :]
            left_non_o = non_o_bond.sum(axis=2)[:, :, None] - non_o_bond
            left_doubles = dbl[rows].sum(axis=2)[:, :, None] - dbl[rows]
            left_ev = ev[rows][:, :, None] - b
            odd = f.odd_total[t[:, :, None], np.clip(left_ev, 0, f.odd_total.shape[1] - 1)]
            bad = h[:, :, None] & a & (left_non_o == 0) & (left_doubles > 0) & odd
            mask[rows, 3, :, :N] &= ~(bad | np.swapaxes(bad, 1, 2))


def batch_apply_edits(
    types: np.ndarray,
    bonds: np.ndarray,
    num_atoms: np.ndarray,
    free: np.ndarray,
    vocab: AtomVocab,
    rows: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    bond: np.ndarray,
) -> np.ndarray:
    """Apply legal edits to molecules ``rows`` in place; returns which of them gained an atom.

    Same transitions as :func:`~molgym.chem.apply_edit`, including the removal rule (an atom left
    with no bond is dropped; of a lone pair, the higher index).
    """
    n = num_atoms[rows]
    add = bond < 3
    grown = add & (second >= n)
    # additions
    r, f_, s, o = rows[add], first[add], second[add].copy(), (bond[add] + 1).astype(np.int8)
    g = grown[add]
    new_pos = n[add][g]
    kinds = s[g] - new_pos
    types[r[g], new_pos] = kinds
    free[r[g], new_pos] = vocab.max_valence[kinds]
    num_atoms[r[g]] += 1
    s[g] = new_pos
    bonds[r, f_, s] = o
    bonds[r, s, f_] = o
    free[r, f_] -= o
    free[r, s] -= o
    # removals
    rm = ~add
    if rm.any():
        r, f_, s = rows[rm], first[rm], second[rm]
        bonds[r, f_, s] = 0
        bonds[r, s, f_] = 0
        f_lone = ~bonds[r, f_].any(axis=1)
        s_lone = ~bonds[r, s].any(axis=1)
        drop = np.where(s_lone, s, f_)
        drop = np.where(f_lone & s_lone, np.maximum(f_, s), drop)
        which = f_lone | s_lone
        _drop_atoms(types, bonds, num_atoms, r[which], drop[which])
        free[r] = batch_free_valence(types[r], bonds[r], num_atoms[r], vocab)
    return grown


def _drop_atoms(types, bonds, num_atoms, rows, atoms) -> None:
    """Remove atom ``atoms[i]`` from molecule ``rows[i]``, shifting the later atoms down."""
    if rows.size == 0:
        return
    N = types.shape[1]
    idx = np.arange(N)[None, :]
    source = np.minimum(idx + (idx >= atoms[:, None]), N - 1)  # (R, N)
    last = num_atoms[rows] - 1
    t = np.take_along_axis(types[rows], source, axis=1)
    b = bonds[rows[:, None, None], source[:, :, None], source[:, None, :]]
    beyond = idx >= last[:, None]
    t[beyond] = -1
    b[beyond[:, :, None] | beyond[:, None, :]] = 0
    types[rows] = t
    bonds[rows] = b
    num_atoms[rows] = last
