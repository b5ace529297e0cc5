"""Atom vocabularies: which (element, formal charge) pairs a molecule may contain.

An atom type is an ``(element symbol, formal charge)`` pair. Its valence limit (the largest sum of
bond orders the atom may carry, hydrogens being implicit) is read from RDKit itself, by asking
RDKit's sanitization which explicit valences it accepts, so the environment's valence arithmetic
and RDKit agree by construction (and ``envs_tests`` checks it differentially).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
from rdkit import Chem, rdBase

__all__ = [
    "AtomType",
    "AtomVocab",
    "DEFAULT_TYPES",
    "GCPN_ZINC_TYPES",
    "format_type",
    "rdkit_max_valence",
    "rdkit_total_valence",
]

AtomType = tuple[str, int]

#: The heavy-atom set of GCPN's ZINC experiments (all neutral).
GCPN_ZINC_TYPES: tuple[str, ...] = ("C", "N", "O", "S", "P", "F", "I", "Cl", "Br")
#: Default vocabulary: GCPN's set plus the charged types that real ZINC start molecules carry
#: (ammonium and nitro N+, N-, O+, alkoxide/N-oxide O-, thiolate S-).
DEFAULT_TYPES: tuple[str, ...] = GCPN_ZINC_TYPES + ("N+", "N-", "O+", "O-", "S-")

_TYPE_RE = re.compile(r"^\[?([A-Z][a-z]?)([+-]\d*)?\]?$")
_PROBE_LIMIT = 8


@cache
def _probe(symbol: str, charge: int, bond_valence: int) -> Chem.Mol | None:
    """The atom single-bonded to ``bond_valence`` carbons, sanitized by RDKit; ``None`` if refused."""
    mol = Chem.RWMol()
    centre = Chem.Atom(symbol)
    centre.SetFormalCharge(charge)
    mol.AddAtom(centre)
    for _ in range(bond_valence):
        mol.AddBond(0, mol.AddAtom(Chem.Atom(6)), Chem.BondType.SINGLE)
    with rdBase.BlockLogs():
        try:
            Chem.SanitizeMol(mol)
        except Exception:  # noqa: BLE001 - RDKit raises several exception types here
            return None
    return mol


@cache
def rdkit_max_valence(symbol: str, charge: int) -> int:
    """Largest explicit valence RDKit's sanitization accepts for this atom type.

    Probed by bonding the atom to ``v`` carbons and sanitizing, for increasing ``v``. RDKit accepts
    every valence from 0 up to this limit (implicit hydrogens fill the rest), which the
    differential tests in ``envs_tests/test_chemistry.py`` confirm for double and triple bonds.
    """
    best = -1
    for v in range(_PROBE_LIMIT + 1):
        if _probe(symbol, charge, v) is None:
            break
        best = v
    return best


def rdkit_total_valence(symbol: str, charge: int, bond_valence: int) -> int:
    """Valence RDKit gives the atom, implicit hydrogens included, when its bonds sum to ``bond_valence``."""
    mol = _probe(symbol, charge, bond_valence)
    if mol is None:
        raise ValueError(f"RDKit refuses {format_type((symbol, charge))} with bond valence {bond_valence}")
    return mol.GetAtomWithIdx(0).GetTotalValence()


def _parse_type(spec: str | Sequence) -> AtomType:
    if isinstance(spec, str):
        m = _TYPE_RE.match(spec.strip())
        if not m:
            raise ValueError(f"cannot parse atom type {spec!r}: expected e.g. 'C', 'Cl', 'N+', 'O-'")
        symbol, charge_text = m.groups()
        if not charge_text:
            charge = 0
        elif len(charge_text) == 1:
            charge = 1 if charge_text == "+" else -1
        else:
            charge = int(charge_text)
    else:
        if len(spec) != 2:
            raise ValueError(f"atom type {spec!r} must be (symbol, formal_charge)")
        symbol, charge = str(spec[0]), int(spec[1])
    if not _known_element(symbol):
        raise ValueError(f"unknown element {symbol!r} in atom type {spec!r}")
    return symbol, charge


_ELEMENTS = frozenset(Chem.GetPeriodicTable().GetElementSymbol(z) for z in range(1, 119))


def _known_element(symbol: str) -> bool:
    return symbol in _ELEMENTS


def format_type(atom_type: AtomType) -> str:
    """``("N", 1)`` -> ``"N+"``, ``("O", -1)`` -> ``"O-"``, ``("S", 2)`` -> ``"S+2"``."""
    symbol, charge = atom_type
    if charge == 0:
        return symbol
    sign = "+" if charge > 0 else "-"
    return symbol + sign + (str(abs(charge)) if abs(charge) > 1 else "")


class AtomVocab:
    """An ordered list of atom types; index ``t`` is the type id used in states and actions.

    Args:
        types: type specs such as ``"C"``, ``"Cl"``, ``"N+"``, ``"O-"`` or ``("N", 1)``.

    Attributes:
        types: the ``(symbol, charge)`` pairs, in id order.
        atomic_numbers: ``(T,)`` int array.
        charges: ``(T,)`` int array of formal charges.
        max_valence: ``(T,)`` int8 array, RDKit's valence limit of each type.
    """

    def __init__(self, types: Iterable[str | Sequence] = DEFAULT_TYPES):
        parsed = [_parse_type(t) for t in types]
        if not parsed:
            raise ValueError("an atom vocabulary needs at least one atom type")
        duplicates = [format_type(t) for t, c in Counter(parsed).items() if c > 1]
        if duplicates:
            raise ValueError(f"duplicate atom types in vocabulary: {duplicates}")
        self.types: tuple[AtomType, ...] = tuple(parsed)
        table = Chem.GetPeriodicTable()
        self.atomic_numbers = np.array([table.GetAtomicNumber(s) for s, _ in self.types], dtype=np.int64)
        self.charges = np.array([c for _, c in self.types], dtype=np.int64)
        self.max_valence = np.array([rdkit_max_valence(s, c) for s, c in self.types], dtype=np.int8)
        unusable = [format_type(t) for t, v in zip(self.types, self.max_valence) if v < 1]
        if unusable:
            raise ValueError(f"atom types that RDKit accepts with no bond at all cannot be edited: {unusable}")
        self._index = {(int(z), c): i for i, (z, (_, c)) in enumerate(zip(self.atomic_numbers, self.types))}

    @classmethod
    def default(cls) -> AtomVocab:
        return cls(DEFAULT_TYPES)

    @classmethod
    def from_smiles(cls, smiles: Iterable[str], min_count: int = 1) -> AtomVocab:
        """Every atom type occurring at least ``min_count`` times in the (parsable) molecules.

        Types are ordered by element (GCPN order first) and then by charge, so the result does
        not depend on the order of the data.
        """
        counts: Counter[AtomType] = Counter()
        with rdBase.BlockLogs():
            for s in smiles:
                mol = Chem.MolFromSmiles(s)
                if mol is None:
                    continue
                counts.update((a.GetSymbol(), a.GetFormalCharge()) for a in mol.GetAtoms() if a.GetAtomicNum() > 1)
        kept = [t for t, c in counts.items() if c >= min_count]
        if not kept:
            raise ValueError("no parsable molecule with atoms found: cannot build a vocabulary")
        order = {s: i for i, s in enumerate(GCPN_ZINC_TYPES)}
        table = Chem.GetPeriodicTable()
        kept.sort(key=lambda t: (order.get(t[0], len(order)), table.GetAtomicNumber(t[0]), abs(t[1]), -t[1]))
        return cls(kept)

    @property
    def atom_prototypes(self) -> list[Chem.Atom]:
        """One RDKit atom per type (element and formal charge set), built once."""
        atoms = self.__dict__.get("_prototypes")
        if atoms is None:
            atoms = []
            for symbol, charge in self.types:
                atom = Chem.Atom(symbol)
                atom.SetFormalCharge(charge)
                atoms.append(atom)
            self.__dict__["_prototypes"] = atoms
        return atoms

    def index(self, atomic_number: int, charge: int) -> int:
        """Type id of an atom; ``KeyError`` if it is not in the vocabulary."""
        return self._index[(atomic_number, charge)]

    def get(self, atomic_number: int, charge: int) -> int | None:
        return self._index.get((atomic_number, charge))

    @property
    def names(self) -> list[str]:
        return [format_type(t) for t in self.types]

    def __len__(self) -> int:
        return len(self.types)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtomVocab) and self.types == other.types

    def __hash__(self) -> int:
        return hash(self.types)

    def __repr__(self) -> str:
        return f"AtomVocab({self.names})"

    def __reduce__(self):
        return (AtomVocab, (self.types,))
