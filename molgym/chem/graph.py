"""The molecule state: fixed-size integer arrays, kekulized, hydrogens implicit.

A :class:`MolGraph` with capacity ``N`` (``max_atoms``) holds

* ``atom_types``: ``(N,)`` int8, the vocabulary id of atom ``i`` for ``i < num_atoms``, ``-1`` after;
* ``bonds``: ``(N, N)`` int8, symmetric bond-order matrix, 0 (none), 1, 2 or 3, zero diagonal;
* ``num_atoms``: the number of atoms in use (atoms are always ``0 .. num_atoms - 1``).

Aromatic input is kekulized. Stereochemistry is not represented (a state is a 2D graph): it is
dropped, and said so (:func:`parse_state` tells; the envs warn with :class:`StereoDropped`, and
``encode_smiles`` counts it). Isotopes, radicals and hydrogen counts that differ from RDKit's
implicit ones cannot be represented, and such molecules are refused with a ``ValueError`` rather
than silently altered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase

from molgym.chem.actions import ActionLayout
from molgym.chem.engine import apply_edits, edit_masks, free_valence, rewritten_atoms
from molgym.chem.vocab import AtomVocab, format_type

__all__ = [
    "MolGraph",
    "MoleculeError",
    "StereoDropped",
    "shorten",
    "BOND_TYPES",
    "canonical_smiles",
    "graph_to_mol",
    "has_stereo",
    "parse_smiles",
    "parse_state",
    "rdkit_accepts",
    "state_ok",
    "valence_ok",
]

#: RDKit bond type of each bond order.
BOND_TYPES = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
_ORDER_OF = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3}


class MoleculeError(ValueError):
    """A molecule that cannot become a state; ``reason`` is a short machine-readable tag."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class StereoDropped(UserWarning):
    """A molecule's stereochemistry was dropped on its way into a state (states are 2D graphs)."""


def shorten(value, limit: int = 80) -> str:
    """``value`` as a one-line message shows it (a string quoted, anything else as its repr), cut to
    ``limit`` characters with its length said: a SMILES of thousands of characters, or a list of
    800 start molecules, would otherwise fill the terminal."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(text) if isinstance(value, str) else text
    cut = repr(text[:limit]) if isinstance(value, str) else text[:limit]
    return f"{cut}... ({len(text)} characters)"


def has_stereo(mol: Chem.Mol) -> bool:
    """Whether the molecule specifies stereochemistry (a chiral atom, or an E/Z double bond)."""
    directed = (Chem.BondDir.ENDUPRIGHT, Chem.BondDir.ENDDOWNRIGHT)
    return any(a.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED for a in mol.GetAtoms()) or any(
        b.GetBondDir() in directed or b.GetStereo() != Chem.BondStereo.STEREONONE for b in mol.GetBonds()
    )


def parse_state(smiles: str, vocab: AtomVocab, max_atoms: int) -> tuple[MolGraph, bool]:
    """The state of a SMILES, and whether its stereochemistry was dropped on the way."""
    mol = parse_smiles(smiles)
    return MolGraph.from_mol(mol, vocab, max_atoms, name=smiles), has_stereo(mol)


def parse_smiles(smiles: str) -> Chem.Mol:
    """RDKit molecule of a SMILES string; ``ValueError`` (with RDKit's reason) when it is invalid."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise MoleculeError(f"invalid SMILES {shorten(smiles)}: expected a non-empty string", "invalid_smiles")
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles.strip(), sanitize=False)
        if mol is None:
            raise MoleculeError(f"invalid SMILES {shorten(smiles)}: RDKit cannot parse it", "invalid_smiles")
        try:
            Chem.SanitizeMol(mol)
        except Exception as err:  # noqa: BLE001 - RDKit raises several sanitization exception types
            raise MoleculeError(f"invalid SMILES {shorten(smiles)}: {err}", "invalid_smiles") from None
    return mol


def canonical_smiles(mol: Chem.Mol) -> str:
    """RDKit canonical SMILES (aromatic form, no stereochemistry)."""
    return Chem.MolToSmiles(mol, isomericSmiles=False)


def valence_ok(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab) -> bool:
    """The environment's own valence rule: every atom's bond-order sum is within its type's limit
    (no negative free valence, as the engine computes it)."""
    free = free_valence(atom_types[None], bonds[None], np.array([num_atoms], dtype=np.int64), vocab)
    return bool(np.all(free[0, :num_atoms] >= 0))


@dataclass
class MolGraph:
    """A molecule as padded arrays; see the module docstring for the layout."""

    atom_types: np.ndarray
    bonds: np.ndarray
    num_atoms: int
    vocab: AtomVocab

    @property
    def max_atoms(self) -> int:
        return len(self.atom_types)

    def edit_mask(self, layout: ActionLayout) -> np.ndarray:
        """``(C, N, N + T)`` bool: the legal edits of this molecule (the engine's
        :func:`~molgym.chem.engine.edit_masks` of a batch of one)."""
        types, bonds, n = self._as_batch()
        masks, _ = edit_masks(types, bonds, n, free_valence(types, bonds, n, self.vocab), self.vocab, layout)
        return masks[0, :-1].reshape(layout.num_bond_choices, layout.max_atoms, layout.num_second_choices)

    def apply_edit(self, first: int, second: int, bond: int) -> None:
        """Apply a legal edit in place (the engine's :func:`~molgym.chem.engine.apply_edits` of a
        batch of one); ``second`` below ``max_atoms`` is an atom, above it a new atom of type
        ``second - max_atoms``."""
        types, bonds, n = self._as_batch()
        apply_edits(
            types, bonds, n, free_valence(types, bonds, n, self.vocab), self.vocab, [0], [first], [second], [bond]
        )
        self.num_atoms = int(n[0])

    def _as_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This molecule as a batch of one, viewing its arrays (edits write through)."""
        return self.atom_types[None], self.bonds[None], np.array([self.num_atoms], dtype=np.int64)

    @classmethod
    def empty(cls, vocab: AtomVocab, max_atoms: int) -> MolGraph:
        return cls(
            np.full(max_atoms, -1, dtype=np.int8),
            np.zeros((max_atoms, max_atoms), dtype=np.int8),
            0,
            vocab,
        )

    @classmethod
    def from_smiles(cls, smiles: str, vocab: AtomVocab, max_atoms: int) -> MolGraph:
        """Parse, kekulize and encode a SMILES; ``ValueError`` naming the problem if it cannot be."""
        return cls.from_mol(parse_smiles(smiles), vocab, max_atoms, name=smiles)

    @classmethod
    def from_mol(cls, mol: Chem.Mol, vocab: AtomVocab, max_atoms: int, name: str | None = None) -> MolGraph:
        name = name if name is not None else Chem.MolToSmiles(mol)
        if any(atom.GetAtomicNum() == 1 for atom in mol.GetAtoms()):
            mol = Chem.RemoveAllHs(mol)  # hydrogens are implicit in a state
        n = mol.GetNumAtoms()
        if n == 0:
            raise MoleculeError(f"molecule {shorten(name)} has no atoms", "empty")
        if n > max_atoms:
            raise MoleculeError(
                f"molecule {shorten(name)} has {n} heavy atoms, more than max_atoms={max_atoms}", "too_large"
            )
        if len(Chem.GetMolFrags(mol)) > 1:
            raise MoleculeError(
                f"molecule {shorten(name)} has {len(Chem.GetMolFrags(mol))} fragments; one connected molecule is needed",
                "fragments",
            )
        graph = cls.empty(vocab, max_atoms)
        for atom in mol.GetAtoms():
            if atom.GetIsotope():
                raise MoleculeError(
                    f"molecule {shorten(name)}: isotope labels ({atom.GetIsotope()}{atom.GetSymbol()}) are not represented",
                    "isotope",
                )
            t = vocab.get(atom.GetAtomicNum(), atom.GetFormalCharge())
            if t is None:
                kind = format_type((atom.GetSymbol(), atom.GetFormalCharge()))
                raise MoleculeError(
                    f"molecule {shorten(name)}: atom {atom.GetIdx()} of type {kind!r} is not in the vocabulary {vocab.names}",
                    "outside_vocabulary",
                )
            graph.atom_types[atom.GetIdx()] = t
        kekule = Chem.Mol(mol)
        Chem.Kekulize(kekule, clearAromaticFlags=True)
        for bond in kekule.GetBonds():
            order = _ORDER_OF.get(bond.GetBondType())
            if order is None:
                raise MoleculeError(
                    f"molecule {shorten(name)}: bond type {bond.GetBondType()} is not representable", "unrepresentable"
                )
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            graph.bonds[i, j] = graph.bonds[j, i] = order
        graph.num_atoms = n
        # The state has no explicit hydrogens or radicals: refuse what would change on the way back.
        rebuilt = graph.smiles()
        if rebuilt != canonical_smiles(mol):
            raise MoleculeError(
                f"molecule {shorten(name)} cannot be represented exactly (explicit hydrogens or radicals): "
                f"it would become {shorten(rebuilt)}",
                "unrepresentable",
            )
        return graph

    def to_mol(self, sanitize: bool = True) -> Chem.Mol:
        """RDKit molecule (kekulé bonds; aromaticity perceived when sanitized)."""
        return graph_to_mol(self.atom_types, self.bonds, self.num_atoms, self.vocab, sanitize=sanitize)

    def smiles(self) -> str:
        return canonical_smiles(self.to_mol())

    def copy(self) -> MolGraph:
        return MolGraph(self.atom_types.copy(), self.bonds.copy(), self.num_atoms, self.vocab)

    def free_valence(self) -> np.ndarray:
        """``(num_atoms,)`` int: bond order each atom can still take within its valence limit."""
        n = np.array([self.num_atoms], dtype=np.int64)
        return free_valence(self.atom_types[None], self.bonds[None], n, self.vocab)[0, : self.num_atoms]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MolGraph)
            and self.num_atoms == other.num_atoms
            and self.vocab == other.vocab
            and np.array_equal(self.atom_types, other.atom_types)
            and np.array_equal(self.bonds, other.bonds)
        )


def graph_to_mol(
    atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab, sanitize: bool = True
) -> Chem.Mol:
    """Build the RDKit molecule of a state. With ``sanitize`` RDKit's errors propagate."""
    mol = Chem.RWMol()
    prototypes = vocab.atom_prototypes
    for t in atom_types[:num_atoms].tolist():
        mol.AddAtom(prototypes[t])  # RDKit copies the atom
    block = bonds[:num_atoms, :num_atoms]
    ii, jj = np.nonzero(block)
    upper = ii < jj
    ii, jj = ii[upper], jj[upper]
    for i, j, order in zip(ii.tolist(), jj.tolist(), block[ii, jj].tolist()):
        mol.AddBond(i, j, BOND_TYPES[order])
    out = mol.GetMol()
    if sanitize:
        Chem.SanitizeMol(out)
    else:
        out.UpdatePropertyCache(strict=False)
    return out


def rdkit_accepts(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab) -> bool:
    """The referee: RDKit sanitizes the state, keeps it as it is, and reads its SMILES back the same.

    Sanitization first rewrites a few patterns into charge-separated forms (``MolOps::cleanUp``),
    which always changes formal charges; a state so rewritten is not the molecule it claims to be.
    The SMILES check catches hydrogens that are implicit in the state but explicit once written.
    """
    with rdBase.BlockLogs():
        try:
            mol = graph_to_mol(atom_types, bonds, num_atoms, vocab, sanitize=True)
        except Exception:  # noqa: BLE001 - any sanitization failure means "not accepted"
            return False
        charges = [a.GetFormalCharge() for a in mol.GetAtoms()]
        if charges != vocab.charges[atom_types[:num_atoms]].tolist():
            return False
        smiles = canonical_smiles(mol)
        again = Chem.MolFromSmiles(smiles)
    return again is not None and canonical_smiles(again) == smiles


def state_ok(atom_types: np.ndarray, bonds: np.ndarray, num_atoms: int, vocab: AtomVocab) -> bool:
    """The environment's own rule for a legal state: valences within limits, and nothing RDKit rewrites."""
    return (
        valence_ok(atom_types, bonds, num_atoms, vocab)
        and not rewritten_atoms(atom_types, bonds, num_atoms, vocab).any()
    )
