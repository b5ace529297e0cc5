"""GCPN-style edit actions: their flat index and what makes one legal (computed by :mod:`molgym.chem.engine`).

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
from numba import njit

__all__ = ["ActionLayout"]


@njit(cache=True)
def _legal_counts(masks, out):
    """``out[b]``: how many entries of row ``b`` of ``masks`` (``(B, K)`` uint8) are set."""
    for b in range(masks.shape[0]):
        count = 0
        for k in range(masks.shape[1]):
            count += masks[b, k]
        out[b] = count


@njit(cache=True)
def _nth_legal(masks, nth, out):
    """``out[b]``: the flat index of the ``nth[b]``-th set entry of row ``b`` (counting from 0)."""
    for b in range(masks.shape[0]):
        left = nth[b]
        for k in range(masks.shape[1]):
            if masks[b, k]:
                if left == 0:
                    out[b] = k
                    break
                left -= 1


@njit(cache=True)
def _flat_of_rows(actions, nvec, out):
    """``out[b]``: the flat index of MultiDiscrete row ``b`` of ``actions`` (``(B, 4)`` int64), as
    :meth:`ActionLayout.encode` (stop when its last field is 1). Returns the first row with a field
    outside ``[0, nvec)``, or -1 (then every row is encoded)."""
    N, S, C = nvec[0], nvec[1], nvec[2]
    for b in range(actions.shape[0]):
        for f in range(4):
            if actions[b, f] < 0 or actions[b, f] >= nvec[f]:
                return b
        first, second, bond = actions[b, 0], actions[b, 1], actions[b, 2]
        out[b] = C * N * S if actions[b, 3] == 1 else (bond * N + first) * S + second
    return -1


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
        self._nvec = (N, N + T, B, 2)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActionLayout) and (self.max_atoms, self.num_types, self.allow_removal) == (
            other.max_atoms,
            other.num_types,
            other.allow_removal,
        )

    def __hash__(self) -> int:
        return hash((self.max_atoms, self.num_types, self.allow_removal))

    def __repr__(self) -> str:
        return (
            f"ActionLayout(max_atoms={self.max_atoms}, num_types={self.num_types}, allow_removal={self.allow_removal})"
        )

    def encode(self, first, second, bond):
        """Flat index of an edit (ints, or integer arrays of edits)."""
        return (bond * self.max_atoms + first) * self.num_second_choices + second

    def from_multidiscrete_many(self, actions: np.ndarray) -> np.ndarray:
        """``(B,)`` flat indices of ``(B, 4)`` MultiDiscrete actions; the inverse of
        :meth:`to_multidiscrete_many`. A row out of ``nvec`` is a ``ValueError`` naming it."""
        a = np.ascontiguousarray(actions, dtype=np.int64)
        out = np.empty(len(a), dtype=np.int64)
        bad = _flat_of_rows(a, self.nvec, out)
        if bad >= 0:
            raise self._range_error(bad, a[bad].tolist())
        return out

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
        """Flat index of one action (:meth:`flat_actions` of one env)."""
        return int(self.flat_actions(action)[0])

    def flat_actions(self, actions, num_envs: int | None = None) -> np.ndarray:
        """Checked flat indices of the actions of ``num_envs`` molecules, ``(num_envs,)`` int64: each
        a ``MultiDiscrete`` ``(first, second, bond, stop)`` row or already a flat index.

        ``num_envs=None`` is one env's action: shape ``(4,)`` or ``()`` (returns shape ``(1,)``);
        otherwise shape ``(num_envs, 4)`` or ``(num_envs,)``. A malformed action (wrong shape, not
        integers, out of range) is a ``ValueError`` naming the env and the field.
        """
        a = np.asarray(actions)
        single = num_envs is None
        shapes = ((4,), ()) if single else ((num_envs, 4), (num_envs,))
        if a.shape not in shapes:
            raise ValueError(
                f"action{'' if single else 's'} must have shape {shapes[0]} (MultiDiscrete) or "
                f"{shapes[1]} (flat), got {a.shape}"
            )
        if a.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers, got dtype {a.dtype}")
        if single:  # one action: plain ints check faster than array operations
            values = a.tolist()
            if a.ndim == 0:
                if not 0 <= values < self.size:
                    raise self._range_error(None, values)
                return np.array([values], dtype=np.int64)
            if not all(0 <= v < hi for v, hi in zip(values, self._nvec)):
                raise self._range_error(None, values)
            first, second, bond, stop = values
            return np.array([self.stop if stop else self.encode(first, second, bond)], dtype=np.int64)
        if a.ndim == 1:
            bad = (a < 0) | (a >= self.size)
            if bad.any():
                i = int(np.argmax(bad))
                raise self._range_error(i, int(a[i]))
            return a.astype(np.int64)
        return self.from_multidiscrete_many(a)

    def _range_error(self, env: int | None, action: int | list[int]) -> ValueError:
        """The error for an out-of-range flat index or MultiDiscrete row (of env ``env`` of a batch)."""
        of = "" if env is None else f" of env {env}"
        if isinstance(action, int):
            return ValueError(f"flat action{of} out of range: {action} not in [0, {self.size})")
        fields = ", ".join(
            f"{name}={v} not in [0, {hi})"
            for name, v, hi in zip(("first", "second", "bond", "stop"), action, self._nvec)
            if not 0 <= v < hi
        )
        return ValueError(f"action{of} out of range: {fields}")

    def to_multidiscrete(self, k: int) -> np.ndarray:
        return np.array(self.decode(k), dtype=np.int64)

    def sample(self, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(B, 4)`` actions drawn uniformly from the legal actions of each row of ``masks (B, K)``.

        Each row's legal actions are counted, then the ``r``-th legal action of each row is taken,
        ``r`` uniform below the row's count (one ``rng.integers`` call for the batch).
        """
        masks = np.ascontiguousarray(masks, dtype=bool).view(np.uint8)
        counts = np.empty(len(masks), dtype=np.int64)
        _legal_counts(masks, counts)
        if (counts == 0).any():
            raise ValueError(f"mask row {int(np.argmin(counts))} has no legal action")
        picks = np.empty(len(masks), dtype=np.int64)
        _nth_legal(masks, rng.integers(0, counts), picks)
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
