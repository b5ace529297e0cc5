"""States that RDKit's sanitization would rewrite, and the edits that would create them.

Before checking valences, RDKit's ``SanitizeMol`` runs ``MolOps::cleanUp``, which turns some
valence-legal kekulé patterns into charge-separated forms. Such a state is not kept as it is:
either the rewritten form breaks valence (``OI=[O+]C`` becomes ``O[I+][O-]C``, an O- with two
bonds) or the molecule silently changes into one with other atom types. The environment
therefore treats these patterns as illegal, so that every reachable state sanitizes *unchanged*.
With RDKit's valence limits, two rules of ``cleanUp`` can fire on a valence-legal state:

* halogen: a neutral Cl/Br/I with explicit valence 3, 5 or 7, every neighbour an oxygen and at
  least one double bond (each ``X=O`` becomes ``[X+]-[O-]``). The valence that counts is the
  total one, hydrogens included: a state whose iodine has bond valence 2 sanitizes as it is, but
  its SMILES writes that iodine as ``[IH]``, whose hydrogen is explicit when parsed back, and the
  rule then fires. Every state must round-trip through its SMILES, so the rule uses total valence;
* phosphorus: a neutral P with valence 5 and degree 3, a double bond to a neutral O and a double
  bond to a C or N of degree >= 2 (``C=P(=O)X`` becomes ``C=[P+]([O-])X``).

(The nitrogen rule needs a neutral N of valence 5, which RDKit's limits already exclude.)
"""

from __future__ import annotations

import numpy as np

from molgym.chem.vocab import AtomVocab, rdkit_total_valence

__all__ = ["TypeFlags", "rewritten_atoms", "forbid_rewriting_edits"]

_ORDERS = np.array([1, 2, 3], dtype=np.int64)
_ODD = np.array([3, 5, 7])
_DOUBLE = _ORDERS == 2


class TypeFlags:
    """Per-type booleans the rules need, cached on the vocabulary."""

    def __init__(self, vocab: AtomVocab):
        z, q = vocab.atomic_numbers, vocab.charges
        self.halogen = np.isin(z, (17, 35, 53)) & (q == 0) & (vocab.max_valence >= 3)
        self.phosphorus = (z == 15) & (q == 0) & (vocab.max_valence >= 5)
        self.oxygen = z == 8
        self.neutral_oxygen = (z == 8) & (q == 0)
        self.carbon_or_nitrogen = np.isin(z, (6, 7))
        self.sensitive = self.halogen | self.phosphorus
        self.any = bool(self.sensitive.any())
        # plain-Python copies for the per-atom screening loop (numpy scalar indexing is slow there)
        self.halogen_py = self.halogen.tolist()
        self.oxygen_py = self.oxygen.tolist()
        self.sensitive_py = self.sensitive.tolist()
        self.neutral_oxygen_py = self.neutral_oxygen.tolist()
        self.carbon_or_nitrogen_py = self.carbon_or_nitrogen.tolist()
        # total_valence[t, v]: valence with implicit hydrogens of a type-t atom of bond valence v
        # (0 past the type's limit); as RDKit computes it.
        width = int(vocab.max_valence.max()) + 4
        self.total_valence = np.zeros((len(vocab), width), dtype=np.int64)
        for i, (symbol, charge) in enumerate(vocab.types):
            for v in range(int(vocab.max_valence[i]) + 1):
                self.total_valence[i, v] = rdkit_total_valence(symbol, charge, v)
        self.odd_total = np.isin(self.total_valence, _ODD)
        #: halogen types that a double bond alone gives an odd total valence (3 for iodine)
        self.new_halogen_double = np.flatnonzero(self.halogen & self.odd_total[:, 2]).tolist()

    @staticmethod
    def of(vocab: AtomVocab) -> TypeFlags:
        flags = vocab.__dict__.get("_rewrite_flags")
        if flags is None:
            flags = vocab.__dict__["_rewrite_flags"] = TypeFlags(vocab)
        return flags


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


def forbid_rewriting_edits(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab, mask: np.ndarray) -> None:
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
    sites = [i for i, k in enumerate(types) if f.sensitive_py[k]]
    if not sites:
        return
    block = bonds[:n, :n]
    for r in sites:
        row = block[r].tolist()
        neighbours = [j for j, order in enumerate(row) if order]
        if f.halogen_py[types[r]]:
            if all(f.oxygen_py[types[j]] for j in neighbours):
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
    dbl_o = any(f.neutral_oxygen_py[types[j]] for j in doubles)
    dbl_cn = any(f.carbon_or_nitrogen_py[types[j]] and d >= 2 for j, d in zip(doubles, degrees))
    if len(neighbours) == 3:
        # valence 5, degree 3: if P=O, a degree-1 C/N double-bonded to P must not gain a bond
        if dbl_o:
            for j, d in zip(doubles, degrees):
                if d == 1 and f.carbon_or_nitrogen_py[types[j]]:
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
