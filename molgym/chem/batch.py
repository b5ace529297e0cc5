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
    types: np.ndarray,
    bonds: np.ndarray,
    num_atoms: np.ndarray,
    free: np.ndarray,
    vocab: AtomVocab,
    layout: ActionLayout,
) -> np.ndarray:
    """``(B, C, N, N + T)`` bool edit masks (``C`` bond choices), as :func:`~molgym.chem.edit_mask` for each molecule.

    ``free`` must be :func:`batch_free_valence` of the molecules. The bulk is a few int8 passes
    over ``(B, N, N + T)``; the rewrite rules then touch only their candidate atoms' rows and columns.
    """
    B, N = types.shape
    T, C = layout.num_types, layout.num_bond_choices
    S = N + T
    n = num_atoms.astype(np.int64)
    mask = np.empty((B, C, N, S), dtype=bool)
    # partner valence of column j: an existing atom's free valence (0 on padding), or a new-atom
    # slot's type limit at n <= j < n + T while the molecule has room
    partner = np.zeros((B, S), dtype=np.int8)
    partner[:, :N] = free
    grows = np.flatnonzero(n < N)
    partner[grows[:, None], n[grows, None] + np.arange(T)] = vocab.max_valence
    room = np.minimum(free[:, :, None], partner[:, None, :])  # (B, N, S): the highest order that fits
    room[:, :, :N] *= bonds == 0  # a bonded pair takes no second bond
    room[:, np.arange(N), np.arange(N)] = 0  # no self-loops
    for c in range(3):
        np.greater(room, c, out=mask[:, c])
    if C == 4:
        adj = bonds > 0
        degree = adj.sum(axis=2)
        leaf = (degree == 1)[:, :, None] | (degree == 1)[:, None, :]
        mask[:, 3, :, :N] = adj & (~bridges(bonds, n) | leaf)
        mask[:, 3, :, N:] = False
    f = TypeFlags.of(vocab)
    if f.any:
        _forbid_rewrites(f, mask, types, bonds, n, free, vocab)
    return mask


def _forbid_rewrites(f: TypeFlags, mask, types, bonds, n, free, vocab: AtomVocab) -> None:
    """:func:`molgym.chem.rewrites.forbid_rewriting_edits` for the batch.

    The rules concern halogens, phosphorus and the atoms bonded to them, so their conditions are
    computed on those atoms' bond rows only (``(M, N)`` for ``M`` candidate atoms), and the masks
    are cleared along those atoms' rows (as first atom) and columns (as second atom), with fancy
    indexing over (molecule, atom) pairs.
    """
    B, C, N, S = mask.shape
    T = S - N
    exists = np.arange(N)[None, :] < n[:, None]
    tt = np.where(exists, types, 0).astype(np.int64)
    cols = np.minimum(np.arange(S), N - 1)
    J = np.arange(S)[None, :]
    oxygen = f.oxygen[tt] & exists
    neutral_o = f.neutral_oxygen[tt] & exists
    cn = f.carbon_or_nitrogen[tt] & exists
    ev = np.where(exists, vocab.max_valence[tt] - free, 0).astype(np.int64)  # bond valence

    def partners(mb, atom_flag, type_flag):
        """``(M, S)``: column j of molecule ``mb`` is an existing atom with ``atom_flag``, or a new-atom slot of a type with ``type_flag``."""
        nn = n[mb][:, None]
        slot = (J >= nn) & (J < nn + T) & (nn < N)
        return np.where(J < nn, atom_flag[mb][:, cols], slot & type_flag[np.clip(J - nn, 0, T - 1)])

    def clear(mb, ma, planes: slice, bad):
        """Clear ``bad`` (M, planes, S) along rows ``ma`` of molecules ``mb``, and its mirror."""
        mask[mb, planes, ma, :] &= ~bad
        mirror = bad[..., :N] & exists[mb][:, None, :]
        mask[mb, planes, :N, ma] &= ~mirror

    # a new halogen double-bonded to an oxygen (total valence 3, only O neighbours)
    mb, ma = _pairs(oxygen & (n < N)[:, None])
    for x in f.new_halogen_double:
        mask[mb, 1, ma, n[mb] + x] = False
    # halogens whose neighbours are all O: a new bond to an O can complete the pattern
    hb, ha = _pairs(f.halogen[tt] & exists)
    h_rows = bonds[hb, ha]  # (M, N)
    h_dbl = (h_rows == 2).any(axis=1)
    all_o = ~((h_rows != 0) & ~oxygen[hb]).any(axis=1)
    mb, ma = hb[all_o], ha[all_o]
    if mb.size:
        base = f.odd_total[tt[mb, ma][:, None], ev[mb, ma][:, None] + _ORDERS] & (h_dbl[all_o][:, None] | _DOUBLE)
        clear(mb, ma, slice(0, 3), base[:, :, None] & partners(mb, oxygen, f.oxygen)[:, None, :])
    # phosphorus with a double bond, of degree 2 (one bond from the pattern) or 3 at valence 5
    pb, pa = _pairs(f.phosphorus[tt] & exists)
    p_rows = bonds[pb, pa]  # (M, N)
    p_deg = (p_rows != 0).sum(axis=1)
    keep = ((p_deg == 2) | ((p_deg == 3) & (ev[pb, pa] == 5))) & (p_rows == 2).any(axis=1)
    pb, pa, p_rows, p_deg = pb[keep], pa[keep], p_rows[keep], p_deg[keep]
    if pb.size:
        molecules = np.zeros(B, dtype=bool)
        molecules[pb] = True
        deg = np.zeros((B, N), dtype=np.int64)
        deg[molecules] = (bonds[molecules] != 0).sum(axis=2)
        p_dbl = p_rows == 2
        dbl_o = (p_dbl & neutral_o[pb]).any(axis=1)
        dbl_cn = (p_dbl & cn[pb] & (deg[pb] >= 2)).any(axis=1)
        order = 5 - ev[pb, pa]  # the bond order that brings P to valence 5 (2 or 1 at degree 2)
        two = (p_deg == 2) & (order == 2) & (dbl_o | dbl_cn)
        if two.any():
            mb, ma = pb[two], pa[two]
            neutral_o_partner = partners(mb, neutral_o, f.neutral_oxygen)
            cn_partner = (J < n[mb][:, None]) & cn[mb][:, cols] & (deg[mb][:, cols] >= 1)  # degree >= 2 once bonded
            bad = (dbl_o[two][:, None] | neutral_o_partner) & (dbl_cn[two][:, None] | cn_partner)
            clear(mb, ma, slice(1, 2), bad[:, None, :])
        hit = (p_deg == 2) & (order == 1) & dbl_o & dbl_cn  # any single bond completes it
        if hit.any():
            mb, ma = pb[hit], pa[hit]
            clear(mb, ma, slice(0, 1), partners(mb, exists, np.ones(T, dtype=bool))[:, None, :])
        # at valence 5, degree 3 with P=O: its degree-1 =C / =N must not gain a bond
        primed = (p_deg == 3) & dbl_o
        which, atom = _pairs(p_dbl[primed] & cn[pb[primed]] & (deg[pb[primed]] == 1))
        mb, ma = pb[primed][which], atom
        mask[mb, :3, ma, :] = False
        mask[mb, :3, :N, ma] = False
    if C == 4:
        rows = np.unique(hb)
        if rows.size:
            # removing a bond from a halogen may leave it with only O neighbours and an odd total valence
            adj, dbl = bonds[rows] > 0, bonds[rows] == 2
            b, h, t = bonds[rows], f.halogen[tt[rows]] & exists[rows], tt[rows]
            non_o_bond = adj & ~oxygen[rows][:, None, :]
            left_non_o = non_o_bond.sum(axis=2)[:, :, None] - non_o_bond
            left_doubles = dbl.sum(axis=2)[:, :, None] - dbl
            left_ev = ev[rows][:, :, None] - b
            odd = f.odd_total[t[:, :, None], np.clip(left_ev, 0, f.odd_total.shape[1] - 1)]
            bad = h[:, :, None] & adj & (left_non_o == 0) & (left_doubles > 0) & odd
            mask[rows, 3, :, :N] &= ~(bad | np.swapaxes(bad, 1, 2))


def _pairs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ``True`` entries of a 2-D array (``np.nonzero``, faster on small rows)."""
    return np.divmod(np.flatnonzero(flags), flags.shape[1])


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
