"""Graph GA's operators (Jensen, Chem. Sci. 2019, 10, 3567): crossover and mutation of molecular
graphs, written as edits of kekulized RDKit molecules.

* **Crossover** joins a piece of each parent. Half the time it cuts each parent at a random
  acyclic single bond and joins one piece of each by a single bond; otherwise it cuts a ring of
  each parent at two bonds (either four ring atoms ``a-b-c-d``, cut at ``a-b`` and ``c-d``, or a
  ring atom ``b`` with three or more neighbours, cut at ``a-b`` and ``b-c``) and closes the two
  halves into new rings with single or double bonds.
* **Mutation** is one of seven edits: insert an atom into a bond, change a bond's order, delete a
  ring bond, close a ring of 3-6 atoms along a chain, delete an atom (its neighbours joined in a
  chain), change an atom's element, append an atom.

Every product is kept only if RDKit sanitizes it, it is one fragment without radicals, no ring is
larger than six atoms, no three-atom ring or four-atom ring holds a double bond and no ring atom
carries two double bonds, and its heavy atoms are at most a size drawn from
``N(39.15, 3.50)`` (Jensen's ZINC statistics): an operator that finds no such product in ten
tries returns ``None``.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem, rdBase

__all__ = ["crossover", "mutate", "offspring", "acceptable", "MUTATIONS"]

SINGLE, DOUBLE, TRIPLE = Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE
ORDERS = (SINGLE, DOUBLE, TRIPLE)
#: Heavy-atom size limit: mean and standard deviation (Jensen's figures for ZINC).
SIZE_MEAN, SIZE_STD = 39.15, 3.50
TRIES = 10

_FOUR_RING_ATOMS = Chem.MolFromSmarts("[R]@[R]@[R]@[R]")
_BRANCHED_RING_ATOM = Chem.MolFromSmarts("[R]@[R;!D2]@[R]")
_RING_ALLENE = Chem.MolFromSmarts("[R]=[R]=[R]")
_DOUBLE_IN_SMALL_RING = Chem.MolFromSmarts("[r3,r4]=[r3,r4]")


def acceptable(mol: Chem.Mol, rng: np.random.Generator) -> Chem.Mol | None:
    """A sanitized copy of ``mol`` if it passes every rule above, else ``None``."""
    mol = Chem.Mol(mol)
    try:
        with rdBase.BlockLogs():  # most edits are refused; RDKit would print why, each time
            Chem.SanitizeMol(mol)
    except (ValueError, RuntimeError):  # sanitization errors are ValueErrors, precondition failures RuntimeErrors
        return None
    if mol.GetNumAtoms() == 0 or mol.GetNumAtoms() > SIZE_MEAN + SIZE_STD * rng.standard_normal():
        return None
    if len(Chem.GetMolFrags(mol)) != 1 or any(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms()):
        return None
    rings = mol.GetRingInfo().AtomRings()
    if rings and (
        max(map(len, rings)) > 6 or mol.HasSubstructMatch(_RING_ALLENE) or mol.HasSubstructMatch(_DOUBLE_IN_SMALL_RING)
    ):
        return None
    with rdBase.BlockLogs():
        if Chem.MolFromSmiles(Chem.MolToSmiles(mol)) is None:  # what the oracle will parse
            return None
    return mol


def _kekulized(mol: Chem.Mol) -> Chem.RWMol:
    out = Chem.RWMol(mol)
    Chem.Kekulize(out, clearAromaticFlags=True)
    return out


# crossover -------------------------------------------------------------------------------------
def _pieces(mol: Chem.Mol, bonds: list[int]) -> list[Chem.Mol] | None:
    """``mol`` cut at ``bonds`` into exactly two pieces, each cut end marked by a dummy atom."""
    cut = Chem.FragmentOnBonds(mol, bonds, addDummies=True, dummyLabels=[(1, 1)] * len(bonds))
    pieces = Chem.GetMolFrags(cut, asMols=True, sanitizeFrags=False)
    return list(pieces) if len(pieces) == 2 else None


def _cut_chain(mol: Chem.Mol, rng: np.random.Generator) -> list[Chem.Mol] | None:
    bonds = [b.GetIdx() for b in mol.GetBonds() if not b.IsInRing() and b.GetBondType() == SINGLE]
    return _pieces(mol, [int(rng.choice(bonds))]) if bonds else None


def _cut_ring(mol: Chem.Mol, rng: np.random.Generator) -> list[Chem.Mol] | None:
    four = rng.random() < 0.5
    matches = mol.GetSubstructMatches(_FOUR_RING_ATOMS if four else _BRANCHED_RING_ATOM)
    if not matches:
        return None
    atoms = matches[rng.integers(len(matches))]
    ends = [(atoms[0], atoms[1]), (atoms[2], atoms[3])] if four else [(atoms[0], atoms[1]), (atoms[1], atoms[2])]
    return _pieces(mol, [mol.GetBondBetweenAtoms(a, b).GetIdx() for a, b in ends])


def _join(a: Chem.Mol, b: Chem.Mol, orders: tuple[Chem.BondType, ...], swap: bool = False) -> Chem.RWMol | None:
    """Bond the atoms that carried ``a``'s dummies to those that carried ``b``'s, in order (``b``'s
    reversed with ``swap``), with ``orders``; the dummies removed."""
    joined = Chem.RWMol(Chem.CombineMols(a, b))
    dummies = [atom.GetIdx() for atom in joined.GetAtoms() if atom.GetAtomicNum() == 0]
    in_a = [d for d in dummies if d < a.GetNumAtoms()]
    in_b = [d for d in dummies if d >= a.GetNumAtoms()]
    if not (len(in_a) == len(in_b) == len(orders)):
        return None
    if swap:
        in_b.reverse()
    for da, db, order in zip(in_a, in_b, orders):
        x, y = (joined.GetAtomWithIdx(d).GetNeighbors()[0].GetIdx() for d in (da, db))
        if joined.GetBondBetweenAtoms(x, y) is not None:
            return None
        joined.AddBond(x, y, order)
    for d in sorted(dummies, reverse=True):
        joined.RemoveAtom(d)
    return joined


def crossover(parent_a: Chem.Mol, parent_b: Chem.Mol, rng: np.random.Generator) -> Chem.Mol | None:
    """A child joining a piece of each parent (ring or chain crossover, half the time each), or
    ``None`` when ten tries find no acceptable one."""
    a, b = _kekulized(parent_a), _kekulized(parent_b)
    for _ in range(TRIES):
        ring = rng.random() < 0.5
        cut = _cut_ring if ring else _cut_chain
        pieces_a, pieces_b = cut(a, rng), cut(b, rng)
        if pieces_a is None or pieces_b is None:
            continue
        piece_a, piece_b = pieces_a[rng.integers(2)], pieces_b[rng.integers(2)]
        if ring:  # both pairings, every single/double closure, in random order
            options = [(o1, o2, swap) for o1 in (SINGLE, DOUBLE) for o2 in (SINGLE, DOUBLE) for swap in (False, True)]
            for k in rng.permutation(len(options)):
                o1, o2, swap = options[k]
                child = _join(piece_a, piece_b, (o1, o2), swap)
                child = acceptable(child, rng) if child is not None else None
                if child is not None:
                    return child
        else:
            child = _join(piece_a, piece_b, (SINGLE,))
            child = acceptable(child, rng) if child is not None else None
            if child is not None:
                return child
    return None


# mutation --------------------------------------------------------------------------------------
def _element(mol: Chem.RWMol, symbol: str) -> int:
    return mol.AddAtom(Chem.Atom(symbol))


def _insert_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    if mol.GetNumBonds() == 0:
        return False
    bond = mol.GetBondWithIdx(int(rng.integers(mol.GetNumBonds())))
    x, y = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    order = ORDERS[rng.choice(3, p=[0.8, 0.1, 0.1])]
    mol.RemoveBond(x, y)
    z = _element(mol, str(rng.choice(["C", "N", "O"])))
    mol.AddBond(x, z, order)
    mol.AddBond(z, y, SINGLE)
    return True


def _change_bond_order(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    if mol.GetNumBonds() == 0:
        return False
    bond = mol.GetBondWithIdx(int(rng.integers(mol.GetNumBonds())))
    others = [o for o in ORDERS if o != bond.GetBondType()]
    bond.SetBondType(others[rng.integers(len(others))])
    return True


def _delete_ring_bond(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    bonds = [b for b in mol.GetBonds() if b.IsInRing()]
    if not bonds:
        return False
    bond = bonds[rng.integers(len(bonds))]
    mol.RemoveBond(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
    return True


def _add_ring(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    """Bond two chain atoms (each with a hydrogen) 2-5 bonds apart along non-ring atoms: a 3-6 ring."""
    mol.UpdatePropertyCache(strict=False)
    chain = [a.GetIdx() for a in mol.GetAtoms() if not a.IsInRing()]
    ends = [i for i in chain if mol.GetAtomWithIdx(i).GetTotalNumHs() > 0]
    pairs = [
        (x, y)
        for i, x in enumerate(ends)
        for y in ends[i + 1 :]
        if 3 <= len(path := Chem.GetShortestPath(mol, x, y)) <= 6 and all(p in chain for p in path)
    ]
    if not pairs:
        return False
    x, y = pairs[rng.integers(len(pairs))]
    mol.AddBond(x, y, SINGLE)
    return True


def _delete_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    """Remove an atom; its neighbours (at most four) are joined in a chain by single bonds."""
    if mol.GetNumAtoms() < 2:
        return False
    atom = mol.GetAtomWithIdx(int(rng.integers(mol.GetNumAtoms())))
    neighbours = [n.GetIdx() for n in atom.GetNeighbors()]
    order = [neighbours[k] for k in rng.permutation(len(neighbours))]
    for x, y in zip(order, order[1:]):
        if mol.GetBondBetweenAtoms(x, y) is None:
            mol.AddBond(x, y, SINGLE)
    mol.RemoveAtom(atom.GetIdx())
    return True


def _change_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    atom = mol.GetAtomWithIdx(int(rng.integers(mol.GetNumAtoms())))
    choices = [s for s in ("C", "N", "O", "F", "S", "Cl", "Br") if s != atom.GetSymbol()]
    atom.SetAtomicNum(Chem.GetPeriodicTable().GetAtomicNumber(str(rng.choice(choices))))
    atom.SetFormalCharge(0)
    atom.SetNumExplicitHs(0)
    atom.SetNoImplicit(False)
    return True


def _append_atom(mol: Chem.RWMol, rng: np.random.Generator) -> bool:
    mol.UpdatePropertyCache(strict=False)
    hosts = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]
    if not hosts:
        return False
    host = hosts[rng.integers(len(hosts))]
    kind = rng.choice(3, p=[0.8, 0.1, 0.1])
    symbol = rng.choice([["C", "N", "O", "F", "S", "Cl", "Br"], ["C", "N", "O"], ["C", "N"]][kind])
    mol.AddBond(host, _element(mol, str(symbol)), ORDERS[kind])
    return True


#: The mutations and their probabilities (Jensen's).
MUTATIONS = {
    _insert_atom: 0.15,
    _change_bond_order: 0.14,
    _delete_ring_bond: 0.14,
    _add_ring: 0.14,
    _delete_atom: 0.14,
    _change_atom: 0.14,
    _append_atom: 0.15,
}


def mutate(mol: Chem.Mol, rate: float, rng: np.random.Generator) -> Chem.Mol | None:
    """``mol`` unchanged with probability ``1 - rate``; else one random edit of it (``None`` when
    ten tries find no acceptable one)."""
    if rng.random() >= rate:
        return mol
    edits, weights = list(MUTATIONS), np.array(list(MUTATIONS.values()))
    for _ in range(TRIES):
        edited = _kekulized(mol)
        if edits[rng.choice(len(edits), p=weights / weights.sum())](edited, rng):
            child = acceptable(edited, rng)
            if child is not None:
                return child
    return None


def offspring(
    parents: list[tuple[str, float]], count: int, mutation_rate: float, rng: np.random.Generator
) -> list[str]:
    """``count`` children of ``parents`` ((SMILES, score) pairs; fewer children when the operators
    fail), as canonical SMILES: each child's parents drawn with probability proportional to their
    scores (negative ones as 0), crossed over, then mutated with probability ``mutation_rate``."""
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(smiles) for smiles, _ in parents]
    weights = np.array([max(score, 0.0) for _, score in parents]) + 1e-6
    weights /= weights.sum()
    children = []
    for _ in range(count):
        a, b = rng.choice(len(mols), size=2, p=weights)
        child = crossover(mols[a], mols[b], rng)
        if child is not None:
            child = mutate(child, mutation_rate, rng)
        if child is not None:
            children.append(Chem.MolToSmiles(child))
    return children
