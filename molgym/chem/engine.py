"""The editing engine: the legal-edit mask and the transitions, written once, for a batch of molecules.

A batch of ``B`` molecules of capacity ``N`` is four arrays:

* ``types``: ``(B, N)`` int8, vocabulary ids, ``-1`` past each molecule's atoms;
* ``bonds``: ``(B, N, N)`` int8, symmetric bond orders (0, 1, 2, 3), zero diagonal;
* ``num_atoms``: ``(B,)`` int64;
* ``free``: ``(B, N)`` int8, the bond order each atom can still take (0 past its atoms).

A batch being edited in episodes (:class:`BatchState`) adds its step counters, start molecules and
action masks; :func:`take_steps` and :func:`next_masks` take it whole.

Every rule is a compiled per-molecule kernel (numba), and a batch is a loop of it, so one molecule
(the single env, expert sequences, ``state_ok``) and hundreds (the vector env) share one
implementation. Kernels are cached on disk (``cache=True``): only the first import after install
compiles them.

The rules (``N`` atoms, ``T`` types; edit planes as in :mod:`molgym.chem.actions`):

* **addition** ``(i, j, order)``: ``i`` exists; ``j`` is an existing atom other than ``i`` and not
  bonded to it, or a new-atom slot ``n <= j < n + T`` while ``n < N``; ``order <= min(free_i,
  free_j)`` (a new atom's free valence is its type's limit);
* **removal** (``bond = 3``, with ``allow_removal``): the bond exists and is not a bridge, or one
  of its atoms has degree 1 (that atom is then dropped, the later atoms shifting down; of a lone
  pair, the higher index);
* **no rewrite**: an edit whose result RDKit's ``cleanUp`` would rewrite is illegal
  (:mod:`molgym.chem.rewrites` says which patterns and why). Only edits at a neutral hypervalent
  halogen, at a neutral P, at a degree-1 C/N double-bonded to such a P, or adding a halogen to an
  oxygen can create one, so the kernel screens those atoms only.

``envs_tests/reference_rules.py`` keeps the earlier plain-Python per-molecule rules, which the
differential tests compare against this engine, and everything is refereed by RDKit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
from numba import njit

from molgym.chem.actions import ActionLayout
from molgym.chem.rewrites import TypeFlags
from molgym.chem.vocab import AtomVocab

__all__ = [
    "BatchState",
    "free_valence",
    "edit_masks",
    "next_masks",
    "apply_edits",
    "take_steps",
    "rewritten_atoms",
]


@dataclass
class BatchState:
    """``B`` molecules being edited in episodes (``N = max_atoms``, ``K`` flat actions, the last one
    stop), as the engine reads and updates them in place:

    * ``types`` ``(B, N)`` int8, ``bonds`` ``(B, N, N)`` int8, ``num_atoms`` ``(B,)`` int64, ``free``
      ``(B, N)`` int8: the molecules (the module's layout);
    * ``steps`` ``(B,)`` int64: steps taken in the episode, accepted or not;
    * ``start_index`` ``(B,)`` int64: the start molecule of the episode (its owner's numbering);
    * ``mask`` ``(B, K)`` bool, read-only: the legal actions; :func:`next_masks` replaces it with a
      new array and never writes to one again, so it can be handed out without copying;
    * ``has_edit`` ``(B,)`` bool: whether any edit is legal.
    """

    types: np.ndarray
    bonds: np.ndarray
    num_atoms: np.ndarray
    free: np.ndarray
    steps: np.ndarray
    start_index: np.ndarray
    mask: np.ndarray
    has_edit: np.ndarray

    @classmethod
    def empty(cls, size: int, max_atoms: int, actions: int) -> BatchState:
        """``size`` molecules of no atom, no legal action."""
        B, N = size, max_atoms
        mask = np.zeros((B, actions), dtype=bool)
        mask.flags.writeable = False
        return cls(
            np.full((B, N), -1, dtype=np.int8),
            np.zeros((B, N, N), dtype=np.int8),
            np.zeros(B, dtype=np.int64),
            np.zeros((B, N), dtype=np.int8),
            np.zeros(B, dtype=np.int64),
            np.zeros(B, dtype=np.int64),
            mask,
            np.zeros(B, dtype=bool),
        )

    def as_dict(self) -> dict[str, np.ndarray]:
        """Copies of the arrays by name (a checkpoint's form)."""
        return asdict(self)  # asdict copies every array

    def load(self, saved: dict[str, np.ndarray]) -> None:
        """Take the arrays of :meth:`as_dict` of a batch of the same shapes, in place (the mask as a
        new read-only array); ``ValueError`` naming what differs otherwise."""
        for field in fields(self):
            have, got = getattr(self, field.name), np.asarray(saved[field.name])
            if have.shape != got.shape:
                raise ValueError(f"saved {field.name} has shape {got.shape}, this batch's {have.shape}")
        for field in fields(self):
            if field.name == "mask":
                self.mask = np.array(saved["mask"], dtype=bool)
                self.mask.flags.writeable = False
            else:
                getattr(self, field.name)[...] = saved[field.name]

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, field.name).nbytes for field in fields(self))


# Columns of the per-type table the kernels read (``_type_table``).
_CAP, _HALOGEN, _PHOSPHORUS, _OXYGEN, _NEUTRAL_O, _C_OR_N, _NEW_HALOGEN_DOUBLE = range(7)


def _type_table(vocab: AtomVocab) -> tuple[np.ndarray, np.ndarray]:
    """``(T, 7)`` int64 per-type facts (valence cap and rule flags), and ``odd_total (T, W)`` bool:
    whether a type's total valence (hydrogens included) at bond valence ``v`` is 3, 5 or 7."""
    cached = vocab.__dict__.get("_engine_tables")
    if cached is None:
        f = TypeFlags.of(vocab)
        new_double = np.zeros(len(vocab), dtype=bool)
        new_double[f.new_halogen_double] = True
        columns = (
            vocab.max_valence,
            f.halogen,
            f.phosphorus,
            f.oxygen,
            f.neutral_oxygen,
            f.carbon_or_nitrogen,
            new_double,
        )
        table = np.stack([np.asarray(c, dtype=np.int64) for c in columns], axis=1)
        cached = vocab.__dict__["_engine_tables"] = (np.ascontiguousarray(table), np.ascontiguousarray(f.odd_total))
    return cached


# Per-molecule kernels ---------------------------------------------------------------------------
@njit(cache=True)
def _free_one(types, bonds, n, table, out):
    out[:] = 0
    for i in range(n):
        used = 0
        for j in range(n):
            used += bonds[i, j]
        out[i] = table[types[i], _CAP] - used


@njit(cache=True)
def _degree(bonds, n, a):
    d = 0
    for j in range(n):
        if bonds[a, j] != 0:
            d += 1
    return d


@njit(cache=True)
def _neighbourhood(types, bonds, n, a, table):
    """What the rewrite rules ask of atom ``a``: ``(valence, degree, has_double, all_oxygen,
    double_o, double_cn)``: its bond-order sum and bond count, whether it has a double bond,
    whether every neighbour is an O, and whether it is double-bonded to a neutral O / to a C or N
    of degree >= 2."""
    valence = 0
    degree = 0
    has_double = False
    all_oxygen = True
    double_o = False
    double_cn = False
    for j in range(n):
        order = bonds[a, j]
        if order == 0:
            continue
        degree += 1
        valence += order
        tj = types[j]
        if table[tj, _OXYGEN] == 0:
            all_oxygen = False
        if order == 2:
            has_double = True
            if table[tj, _NEUTRAL_O]:
                double_o = True
            if table[tj, _C_OR_N] and _degree(bonds, n, j) >= 2:
                double_cn = True
    return valence, degree, has_double, all_oxygen, double_o, double_cn


@njit(cache=True)
def _bonded_to_non_oxygen(types, bonds, n, a, table):
    """Whether atom ``a`` has a neighbour that is not an O (then no halogen pattern applies at it)."""
    for j in range(n):
        if bonds[a, j] != 0 and table[types[j], _OXYGEN] == 0:
            return True
    return False


@njit(cache=True)
def _rewritten_at(types, bonds, n, a, table, odd_total):
    """Whether RDKit's cleanUp would rewrite the molecule at atom ``a``."""
    t = types[a]
    if not (table[t, _HALOGEN] or table[t, _PHOSPHORUS]):
        return False
    if table[t, _HALOGEN] and _bonded_to_non_oxygen(types, bonds, n, a, table):
        return False
    valence, degree, has_double, all_oxygen, double_o, double_cn = _neighbourhood(types, bonds, n, a, table)
    if table[t, _HALOGEN]:
        return bool(odd_total[t, min(valence, odd_total.shape[1] - 1)]) and all_oxygen and has_double
    if table[t, _PHOSPHORUS]:
        return valence == 5 and degree == 3 and double_o and double_cn
    return False


@njit(cache=True)
def _bridges(bonds, n, bridge, disc, low, parent, cursor, stack):
    """Mark ``bridge[i, j]`` for the bonds whose removal splits the molecule (iterative DFS, low-links)."""
    bridge[:n, :n] = False
    disc[:n] = -1
    timer = 0
    for root in range(n):
        if disc[root] >= 0:
            continue
        disc[root] = low[root] = timer
        timer += 1
        parent[root] = -1
        cursor[root] = 0
        top = 0
        stack[0] = root
        while top >= 0:
            v = stack[top]
            advanced = False
            while cursor[v] < n:
                w = cursor[v]
                cursor[v] += 1
                if bonds[v, w] == 0 or w == parent[v]:
                    continue
                if disc[w] < 0:
                    disc[w] = low[w] = timer
                    timer += 1
                    parent[w] = v
                    cursor[w] = 0
                    top += 1
                    stack[top] = w
                    advanced = True
                    break
                low[v] = min(low[v], disc[w])
            if not advanced:
                top -= 1
                p = parent[v]
                if p >= 0:
                    low[p] = min(low[p], low[v])
                    if low[v] > disc[p]:
                        bridge[v, p] = bridge[p, v] = True


# _mask_one and _forbid_rewrites are inlined into the batch loop (numba IR inlining): called once per
# molecule with a dozen array arguments they cost ~20% more (0.27 -> 0.21 ms for 256 molecules,
# best of 200 on fixed states; ~8% of a vector env step, alternating runs)
@njit(cache=True, inline="always")
def _mask_one(types, bonds, n, free, table, odd_total, C, mask, bridge, disc, low, parent, cursor, stack):
    """Fill the first ``C * N * (N + T)`` entries of ``mask`` (the edits of one molecule, flat; a
    last stop entry, if the row has one, is left alone) and return whether any edit is legal."""
    N = bonds.shape[0]
    T = table.shape[0]
    S = N + T
    plane = N * S
    mask[: C * plane] = False
    grows = n < N
    count = 0  # edits set
    # additions: order c + 1 fits both free valences (branch-free inner loops, which compile to
    # vector instructions: a row of the plane at a time)
    for i in range(n):
        for c in range(min(free[i], 3)):
            row = c * plane + i * S
            for j in range(n):
                legal = (bonds[i, j] == 0) & (free[j] > c) & (j != i)
                mask[row + j] = legal
                count += legal
            if grows:
                for t in range(T):
                    legal = table[t, _CAP] > c
                    mask[row + n + t] = legal
                    count += legal
    # removals: a bond that is no bridge, or that only strands an atom (dropped)
    if C == 4:
        _bridges(bonds, n, bridge, disc, low, parent, cursor, stack)
        degree = disc  # the bridges' scratch, reused
        for i in range(n):
            degree[i] = _degree(bonds, n, i)
        for i in range(n):
            for j in range(n):
                if bonds[i, j] != 0 and (not bridge[i, j] or degree[i] == 1 or degree[j] == 1):
                    mask[3 * plane + i * S + j] = True
                    count += 1
    return count > _forbid_rewrites(types, bonds, n, free, table, odd_total, C, mask, N, T, S, plane, grows)


@njit(cache=True)
def _clear(mask, k):
    """Clear ``mask[k]``; returns whether it was set."""
    was = mask[k]
    mask[k] = False
    return was


@njit(cache=True, inline="always")
def _forbid_rewrites(types, bonds, n, free, table, odd_total, C, mask, N, T, S, plane, grows):
    """Clear the edits whose result RDKit would rewrite (the state itself is not rewritten); returns
    how many legal edits it cleared."""
    cleared = 0
    # a new halogen double-bonded to an oxygen: total valence 3, its one neighbour an O
    if grows:
        for x in range(T):
            if table[x, _NEW_HALOGEN_DOUBLE]:
                for i in range(n):
                    if table[types[i], _OXYGEN] and free[i] >= 2:  # (else the double bond is not legal anyway)
                        cleared += _clear(mask, plane + i * S + n + x)
    for r in range(n):
        tr = types[r]
        if not (table[tr, _HALOGEN] or table[tr, _PHOSPHORUS]):
            continue
        if table[tr, _HALOGEN] and (free[r] == 0 or _bonded_to_non_oxygen(types, bonds, n, r, table)):
            continue  # (most halogens: no bond to gain, or the patterns need every neighbour an O)
        valence, degree, has_double, all_oxygen, double_o, double_cn = _neighbourhood(types, bonds, n, r, table)
        if table[tr, _HALOGEN]:
            # a new bond of order c + 1 to an O completes the pattern when the total valence is odd
            for c in range(3):
                if not (odd_total[tr, valence + c + 1] and (has_double or c == 1)):
                    continue
                for j in range(n):
                    if table[types[j], _OXYGEN]:
                        cleared += _clear(mask, c * plane + r * S + j)
                        cleared += _clear(mask, c * plane + j * S + r)
                if grows:
                    for t in range(T):
                        if table[t, _OXYGEN]:
                            cleared += _clear(mask, c * plane + r * S + n + t)
            continue
        # phosphorus with a double bond, of degree 2 (one bond from the pattern) or 3 at valence 5
        if not has_double:
            continue
        if degree == 3 and valence == 5:
            if double_o:  # a degree-1 C/N double-bonded to this P must not gain a bond
                for j in range(n):
                    if bonds[r, j] == 2 and table[types[j], _C_OR_N] and _degree(bonds, n, j) == 1:
                        for c in range(3):
                            for k in range(S):
                                cleared += _clear(mask, c * plane + j * S + k)
                            for i in range(n):
                                cleared += _clear(mask, c * plane + i * S + j)
            continue
        if degree != 2:
            continue
        order = 5 - valence  # the bond order that brings P to valence 5
        if order == 2 and (double_o or double_cn):  # the new double bond supplies the missing half
            for j in range(n):
                partner_cn = table[types[j], _C_OR_N] and _degree(bonds, n, j) >= 1  # degree >= 2 once bonded
                if (double_o or table[types[j], _NEUTRAL_O]) and (double_cn or partner_cn):
                    cleared += _clear(mask, plane + r * S + j)
                    cleared += _clear(mask, plane + j * S + r)
            if grows:
                for t in range(T):
                    if (double_o or table[t, _NEUTRAL_O]) and double_cn:
                        cleared += _clear(mask, plane + r * S + n + t)
        elif order == 1 and double_o and double_cn:  # any single bond completes it
            for j in range(n):
                cleared += _clear(mask, r * S + j)
                cleared += _clear(mask, j * S + r)
            if grows:
                for t in range(T):
                    cleared += _clear(mask, r * S + n + t)
    # removals lower valence and degree: only the endpoint halogen or P itself can become a pattern
    if C == 4:
        for r in range(n):
            tr = types[r]
            if not (table[tr, _HALOGEN] or table[tr, _PHOSPHORUS]):
                continue
            for q in range(n):
                if not mask[3 * plane + r * S + q]:
                    continue
                order = bonds[r, q]
                bonds[r, q] = bonds[q, r] = 0
                bad = _rewritten_at(types, bonds, n, r, table, odd_total) or _rewritten_at(
                    types, bonds, n, q, table, odd_total
                )
                bonds[r, q] = bonds[q, r] = order
                if bad:
                    cleared += _clear(mask, 3 * plane + r * S + q)
                    cleared += _clear(mask, 3 * plane + q * S + r)
    return cleared


@njit(cache=True)
def _drop_atom(types, bonds, n, atom):
    """Remove ``atom`` from a molecule of ``n`` atoms, shifting the later atoms down."""
    for i in range(atom, n - 1):
        types[i] = types[i + 1]
        for j in range(n):
            bonds[i, j] = bonds[i + 1, j]
    for i in range(n):
        for j in range(atom, n - 1):
            bonds[i, j] = bonds[i, j + 1]
    types[n - 1] = -1
    for k in range(n):
        bonds[n - 1, k] = 0
        bonds[k, n - 1] = 0


@njit(cache=True)
def _apply_one(types, bonds, n, free, table, first, second, bond):
    """Apply a legal edit in place; returns the new atom count."""
    if bond == 3:
        bonds[first, second] = bonds[second, first] = 0
        first_alone = _degree(bonds, n, first) == 0
        second_alone = _degree(bonds, n, second) == 0
        if first_alone and second_alone:  # the molecule was these two atoms: keep the lower index
            _drop_atom(types, bonds, n, max(first, second))
            n -= 1
        elif second_alone:
            _drop_atom(types, bonds, n, second)
            n -= 1
        elif first_alone:
            _drop_atom(types, bonds, n, first)
            n -= 1
        _free_one(types, bonds, n, table, free)
        return n
    order = bond + 1
    if second >= n:
        kind = second - n
        types[n] = kind
        free[n] = table[kind, _CAP]
        second = n
        n += 1
    bonds[first, second] = bonds[second, first] = order
    free[first] -= order
    free[second] -= order
    return n


# Batch loops ------------------------------------------------------------------------------------
@njit(cache=True)
def _free_many(types, bonds, num_atoms, table, out):
    for b in range(types.shape[0]):
        _free_one(types[b], bonds[b], num_atoms[b], table, out[b])


@njit(cache=True)
def _mask_many(types, bonds, num_atoms, free, stale, table, odd_total, C, source, masks, has_edit, steps, min_steps):
    """Masks of the ``stale`` molecules into ``masks`` (and ``has_edit``); the other rows copied
    from ``source`` unless it is ``masks`` itself (``source`` may be read-only). With ``min_steps
    >= 0`` every row's stop entry is set too: legal after ``min_steps`` steps, or with no legal edit."""
    N = bonds.shape[1]
    stop = masks.shape[1] - 1
    bridge = np.zeros((N, N), dtype=np.bool_)
    scratch = np.empty((5, N), dtype=np.int64)
    copy = source.ctypes.data != masks.ctypes.data
    for b in range(types.shape[0]):
        if stale[b]:
            has_edit[b] = _mask_one(
                types[b],
                bonds[b],
                num_atoms[b],
                free[b],
                table,
                odd_total,
                C,
                masks[b],
                bridge,
                scratch[0],
                scratch[1],
                scratch[2],
                scratch[3],
                scratch[4],
            )
        elif copy:  # a loop: a slice assignment compiles numba's string code for its errors (+4 s)
            for k in range(stop):
                masks[b, k] = source[b, k]
        if min_steps >= 0:
            masks[b, stop] = steps[b] >= min_steps or not has_edit[b]


@njit(cache=True)
def _apply_many(types, bonds, num_atoms, free, table, rows, first, second, bond, grown):
    for r in range(rows.shape[0]):
        b = rows[r]
        before = num_atoms[b]
        num_atoms[b] = _apply_one(types[b], bonds[b], before, free[b], table, first[r], second[r], bond[r])
        grown[r] = num_atoms[b] > before


@njit(cache=True)
def _step_many(
    types, bonds, num_atoms, free, table, masks, k, active, steps, max_steps, S, valid, terminated, truncated, edited
):
    """One step of the ``active`` molecules (see :func:`take_steps`); returns how many were edited."""
    N = types.shape[1]
    stop = masks.shape[1] - 1
    count = 0
    for b in range(types.shape[0]):
        valid[b] = terminated[b] = truncated[b] = False
        if not active[b]:
            continue
        steps[b] += 1
        a = k[b]
        if masks[b, a]:
            valid[b] = True
            if a == stop:
                terminated[b] = True
            else:
                row, second = divmod(a, S)
                bond, first = divmod(row, N)
                before = num_atoms[b]
                num_atoms[b] = _apply_one(types[b], bonds[b], before, free[b], table, first, second, bond)
                terminated[b] = num_atoms[b] > before and num_atoms[b] == N
                edited[count] = b
                count += 1
        truncated[b] = not terminated[b] and steps[b] >= max_steps
    return count


@njit(cache=True)
def _rewritten_many(types, bonds, n, table, odd_total, out):
    for a in range(n):
        out[a] = _rewritten_at(types, bonds, n, a, table, odd_total)


# Public API -------------------------------------------------------------------------------------
def free_valence(types: np.ndarray, bonds: np.ndarray, num_atoms: np.ndarray, vocab: AtomVocab) -> np.ndarray:
    """``(B, N)`` int8 free valence of a batch (0 past each molecule's atoms)."""
    table, _ = _type_table(vocab)
    out = np.empty(types.shape, dtype=np.int8)
    _free_many(types, bonds, np.asarray(num_atoms, dtype=np.int64), table, out)
    return out


def edit_masks(
    types: np.ndarray,
    bonds: np.ndarray,
    num_atoms: np.ndarray,
    free: np.ndarray,
    vocab: AtomVocab,
    layout: ActionLayout,
    rows: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Edit masks of a batch: ``(B, K)`` bool, of which the first ``K - 1 = C * N * (N + T)`` entries
    (reshapeable to ``(C, N, N + T)``) are filled; the last one (stop) is the caller's.

    ``rows`` (default: all) are the molecules to recompute; ``out`` (``(B, K)`` bool, C-contiguous)
    is updated in place when given. Returns ``out`` and, as a second value, ``(B,)`` bool: whether
    each recomputed molecule has a legal edit (False elsewhere).
    """
    table, odd_total = _type_table(vocab)
    B = types.shape[0]
    if out is None:
        out = np.zeros((B, layout.size), dtype=bool)
    stale = np.ones(B, dtype=bool)
    if rows is not None:
        stale[:] = False
        stale[np.asarray(rows, dtype=np.int64)] = True
    any_edit = np.zeros(B, dtype=bool)
    # whole rows, stop entry included, and the source read-only as next_masks passes it: one
    # compiled variant for both, and for a batch of one and of many (a ``(B, K - 1)`` slice is
    # contiguous only when B = 1)
    source = out.view()
    source.flags.writeable = False
    _mask_many(
        types,
        bonds,
        np.asarray(num_atoms, dtype=np.int64),
        free,
        stale,
        table,
        odd_total,
        layout.num_bond_choices,
        source,
        out,
        any_edit,
        np.zeros(B, dtype=np.int64),
        -1,
    )
    return out, any_edit


def next_masks(
    state: BatchState, vocab: AtomVocab, layout: ActionLayout, stale: np.ndarray, min_steps: int
) -> np.ndarray:
    """The masks after a step, as a new read-only ``(B, K)`` array that replaces ``state.mask``: the
    molecules ``stale`` (``(B,)`` bool) get theirs computed (and ``state.has_edit`` updated), the
    others keep their row; every molecule's stop entry is legal once it has taken ``min_steps``
    steps, or when no edit is legal."""
    table, odd_total = _type_table(vocab)
    out = np.empty_like(state.mask)
    _mask_many(
        state.types,
        state.bonds,
        state.num_atoms,
        state.free,
        stale,
        table,
        odd_total,
        layout.num_bond_choices,
        state.mask,
        out,
        state.has_edit,
        state.steps,
        int(min_steps),
    )
    out.flags.writeable = False
    state.mask = out
    return out


def apply_edits(
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
    """Apply legal edits ``(first[r], second[r], bond[r])`` to molecules ``rows[r]`` in place (arrays
    and ``free``); returns ``(R,)`` bool, which of them gained an atom. Legality is the caller's
    business (:func:`edit_masks`)."""
    table, _ = _type_table(vocab)
    grown = np.zeros(len(rows), dtype=bool)
    as64 = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    counts = as64(num_atoms)  # num_atoms itself when it is int64 already
    _apply_many(types, bonds, counts, free, table, as64(rows), as64(first), as64(second), as64(bond), grown)
    if counts is not num_atoms:
        num_atoms[...] = counts
    return grown


def take_steps(
    state: BatchState, vocab: AtomVocab, layout: ActionLayout, k: np.ndarray, active: np.ndarray, max_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One step of a batch, in place: each ``active`` molecule counts a step and takes flat action
    ``k`` (``(B,)`` int64, within ``layout.size``) if its mask entry allows it: stop, or an edit
    applied to its arrays. A molecule terminates on a legal stop or when an edit adds its
    ``max_atoms``-th atom, and is truncated when it reaches ``max_steps`` steps without terminating.
    Returns ``valid``, ``terminated``, ``truncated`` (``(B,)`` bool) and the edited rows (``(E,)``
    int64), whose masks the caller recomputes (:func:`next_masks`)."""
    table, _ = _type_table(vocab)
    B = state.types.shape[0]
    valid, terminated, truncated = np.empty(B, dtype=bool), np.empty(B, dtype=bool), np.empty(B, dtype=bool)
    edited = np.empty(B, dtype=np.int64)
    count = _step_many(
        state.types,
        state.bonds,
        state.num_atoms,
        state.free,
        table,
        state.mask,
        k,
        active,
        state.steps,
        max_steps,
        layout.num_second_choices,
        valid,
        terminated,
        truncated,
        edited,
    )
    return valid, terminated, truncated, edited[:count]


def rewritten_atoms(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab) -> np.ndarray:
    """``(n,)`` bool: atoms of one molecule at which RDKit's cleanUp would rewrite it."""
    table, odd_total = _type_table(vocab)
    out = np.zeros(num_atoms, dtype=bool)
    _rewritten_many(np.asarray(atom_types), np.asarray(bonds), int(num_atoms), table, odd_total, out)
    return out
