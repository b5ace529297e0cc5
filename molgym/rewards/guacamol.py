"""The GuacaMol objectives (Brown et al., J. Chem. Inf. Model. 2019) that PMO (Gao et al., NeurIPS
2022) scores agents on, written from their published definitions as small terms.

Building blocks, each a :class:`~molgym.rewards.Term` (a value in ``[0, 1]``):

* :class:`TanimotoTo` -- fingerprint similarity to a target molecule, through a modifier.
  Fingerprints (``FINGERPRINTS``): ``ECFP4`` / ``ECFP6`` (Morgan counts, radius 2 / 3), ``FCFP4``
  (feature-invariant Morgan counts, radius 2), ``AP`` (atom-pair counts, path length <= 10) and
  ``PHCO`` (Gobbi 2D pharmacophores). Similarity is Tanimoto on counts:
  ``sum_i min(a_i, b_i) / (sum_i a_i + sum_i b_i - sum_i min(a_i, b_i))``.
* :class:`Descriptor` -- an RDKit descriptor (logP, TPSA, ring counts, ...) through a modifier.
* :class:`Formula` -- closeness to a molecular formula: a Gaussian (sigma 1) on the count of each
  element of the formula (hydrogens included) and one (sigma 2) on the total atom count, combined
  by the geometric mean.
* :class:`Substructure` -- 1 when a SMARTS matches (0 with ``inverse``), else the other way round.
* :class:`Mean` -- the arithmetic or geometric mean ``(prod_i s_i) ** (1 / n)`` of terms.

Modifiers map a raw value ``x`` to a score: :class:`Gaussian` ``exp(-((x - mu) / sigma)**2 / 2)``;
:class:`MinGaussian` (1 for ``x <= mu``, the Gaussian above), :class:`MaxGaussian` (1 for
``x >= mu``, the Gaussian below); :class:`Clipped` (linear from 0 at ``lower`` to 1 at ``upper``,
clipped to ``[0, 1]``).

``OBJECTIVES`` maps the PMO task names (as TDC spells them) to builders of these objectives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors

from molgym.rewards.base import Context, Term

__all__ = [
    "OBJECTIVES",
    "FINGERPRINTS",
    "Clipped",
    "Descriptor",
    "Formula",
    "Gaussian",
    "MaxGaussian",
    "Mean",
    "MinGaussian",
    "Substructure",
    "TanimotoTo",
    "fingerprint",
]


# Modifiers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gaussian:
    mu: float
    sigma: float

    def __call__(self, x: float) -> float:
        return math.exp(-0.5 * ((x - self.mu) / self.sigma) ** 2)


@dataclass(frozen=True)
class MinGaussian(Gaussian):
    """1 up to ``mu``, then the Gaussian: smaller is fine."""

    def __call__(self, x: float) -> float:
        return super().__call__(max(x, self.mu))


@dataclass(frozen=True)
class MaxGaussian(Gaussian):
    """1 from ``mu`` on, the Gaussian below it: larger is fine."""

    def __call__(self, x: float) -> float:
        return super().__call__(min(x, self.mu))


@dataclass(frozen=True)
class Clipped:
    """``(x - lower) / (upper - lower)`` clipped to ``[0, 1]``."""

    upper: float
    lower: float = 0.0

    def __call__(self, x: float) -> float:
        slope = 1.0 / (self.upper - self.lower)
        return min(max(slope * x + (1.0 - slope * self.upper), 0.0), 1.0)


def _identity(x: float) -> float:
    return x


# Fingerprints ----------------------------------------------------------------------------------
@cache
def _generator(kind: str):
    if kind in ("ECFP4", "ECFP6"):
        return rdFingerprintGenerator.GetMorganGenerator(radius=2 if kind == "ECFP4" else 3)
    if kind == "FCFP4":
        features = rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
        return rdFingerprintGenerator.GetMorganGenerator(radius=2, atomInvariantsGenerator=features)
    if kind == "AP":
        return rdFingerprintGenerator.GetAtomPairGenerator(maxDistance=10)
    raise KeyError(kind)


def _pharmacophores(mol: Chem.Mol):
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)


#: Fingerprint kinds of the GuacaMol objectives.
FINGERPRINTS = ("ECFP4", "ECFP6", "FCFP4", "AP", "PHCO")


def fingerprint(mol: Chem.Mol, kind: str):
    """The ``kind`` fingerprint of ``mol`` (one of :data:`FINGERPRINTS`), for Tanimoto similarity."""
    if kind == "PHCO":
        return _pharmacophores(mol)
    if kind not in FINGERPRINTS:
        raise ValueError(f"unknown fingerprint {kind!r}; known: {', '.join(FINGERPRINTS)}")
    return _generator(kind).GetSparseCountFingerprint(mol)


def _target(smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"the target {smiles!r} is not a valid SMILES")
    return mol


# Terms -----------------------------------------------------------------------------------------
class TanimotoTo(Term):
    """Tanimoto similarity of ``kind`` fingerprints to ``target`` (a SMILES), through ``modifier``."""

    def __init__(
        self,
        target: str,
        kind: str = "ECFP4",
        modifier: Callable[[float], float] | None = None,
        name: str | None = None,
    ):
        self.target, self.kind, self.modifier = target, kind, modifier or _identity
        self.name = name or f"tanimoto_{kind.lower()}"
        self._reference = fingerprint(_target(target), kind)

    def value(self, ctx: Context) -> float:
        return self.modifier(DataStructs.TanimotoSimilarity(fingerprint(ctx.mol, self.kind), self._reference))

    def __repr__(self) -> str:
        return f"TanimotoTo({self.target!r}, {self.kind!r}, {self.modifier!r})"


class Descriptor(Term):
    """An RDKit descriptor ``fn(mol)`` through ``modifier``."""

    def __init__(self, name: str, fn: Callable[[Chem.Mol], float], modifier: Callable[[float], float] | None = None):
        self.name, self.fn, self.modifier = name, fn, modifier or _identity

    def value(self, ctx: Context) -> float:
        return self.modifier(self.fn(ctx.mol))

    def __repr__(self) -> str:
        return f"Descriptor({self.name!r}, {self.modifier!r})"


def count_atoms(mol: Chem.Mol, element: str | None = None) -> int:
    """Atoms of ``element`` (all atoms when ``None``), hydrogens included."""
    with_h = Chem.AddHs(mol) if element in (None, "H") else mol
    if element is None:
        return with_h.GetNumAtoms()
    return sum(1 for atom in with_h.GetAtoms() if atom.GetSymbol() == element)


def parse_formula(formula: str) -> list[tuple[str, int]]:
    """``"C7H8N2O2"`` -> ``[("C", 7), ("H", 8), ("N", 2), ("O", 2)]``."""
    parts = re.findall(r"([A-Z][a-z]*)(\d*)", formula)
    if not parts or "".join(e + n for e, n in parts) != formula:
        raise ValueError(f"{formula!r} is not a molecular formula such as C7H8N2O2")
    return [(element, int(n) if n else 1) for element, n in parts]


class Formula(Term):
    """Closeness to the molecular formula ``formula`` (an isomer of it scores 1)."""

    def __init__(self, formula: str, name: str | None = None):
        self.formula, self.name = formula, name or f"isomer_{formula.lower()}"
        self.counts = parse_formula(formula)
        self.total = sum(n for _, n in self.counts)

    def value(self, ctx: Context) -> float:
        scores = [Gaussian(n, 1.0)(count_atoms(ctx.mol, element)) for element, n in self.counts]
        scores.append(Gaussian(self.total, 2.0)(self.total_atoms(ctx.mol)))
        return _geometric(scores)

    def total_atoms(self, mol: Chem.Mol) -> int:
        """The atom count that the total term compares with the formula's: all atoms, hydrogens included."""
        return count_atoms(mol)

    def __repr__(self) -> str:
        return f"Formula({self.formula!r})"


class Substructure(Term):
    """1 when ``smarts`` matches the molecule, else 0; the other way round with ``inverse``."""

    def __init__(self, smarts: str, inverse: bool = False, name: str = "substructure"):
        self.smarts, self.inverse, self.name = smarts, inverse, name
        self.pattern = Chem.MolFromSmarts(smarts)
        if self.pattern is None:
            raise ValueError(f"{smarts!r} is not a valid SMARTS")

    def value(self, ctx: Context) -> float:
        return float(ctx.mol.HasSubstructMatch(self.pattern) != self.inverse)

    def __repr__(self) -> str:
        return f"Substructure({self.smarts!r}, inverse={self.inverse})"


def _geometric(scores: Sequence[float]) -> float:
    return math.prod(scores) ** (1.0 / len(scores))


class Mean(Term):
    """The geometric (default) or arithmetic mean of ``terms``."""

    def __init__(self, terms: Sequence[Term], geometric: bool = True, name: str = "mean"):
        self.terms, self.geometric, self.name = list(terms), geometric, name

    def value(self, ctx: Context) -> float:
        scores = [term.value(ctx) for term in self.terms]
        return _geometric(scores) if self.geometric else sum(scores) / len(scores)

    def __repr__(self) -> str:
        return f"Mean({self.terms!r}, geometric={self.geometric})"


# The objectives --------------------------------------------------------------------------------
def _logp(mol: Chem.Mol) -> float:
    return Descriptors.MolLogP(mol)


def _tpsa(mol: Chem.Mol) -> float:
    return Descriptors.TPSA(mol)


def _bertz(mol: Chem.Mol) -> float:
    return Descriptors.BertzCT(mol)


def _fluorines(mol: Chem.Mol) -> int:
    return count_atoms(mol, "F")


def _rediscovery(name: str, smiles: str) -> Term:
    return TanimotoTo(smiles, "ECFP4", name=name)


def _similarity(name: str, smiles: str, kind: str) -> Term:
    return TanimotoTo(smiles, kind, Clipped(0.75), name=name)


def _median(name: str, first: str, second: str, kind: str) -> Term:
    return Mean([TanimotoTo(first, kind), TanimotoTo(second, kind)], name=name)


def _osimertinib() -> Term:
    smiles = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
    return Mean(
        [
            TanimotoTo(smiles, "FCFP4", Clipped(0.8)),
            TanimotoTo(smiles, "ECFP6", MinGaussian(0.85, 0.1)),
            Descriptor("tpsa", _tpsa, MaxGaussian(100, 10)),
            Descriptor("logp", _logp, MinGaussian(1, 1)),
        ],
        name="osimertinib_mpo",
    )


def _fexofenadine() -> Term:
    smiles = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
    return Mean(
        [
            TanimotoTo(smiles, "AP", Clipped(0.8)),
            Descriptor("tpsa", _tpsa, MaxGaussian(90, 10)),
            Descriptor("logp", _logp, MinGaussian(4, 1)),
        ],
        name="fexofenadine_mpo",
    )


def _ranolazine() -> Term:
    smiles = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
    return Mean(
        [
            TanimotoTo(smiles, "AP", Clipped(0.7)),
            Descriptor("logp", _logp, MaxGaussian(7, 1)),
            Descriptor("fluorines", _fluorines, Gaussian(1, 1.0)),
            Descriptor("tpsa", _tpsa, MaxGaussian(95, 20)),
        ],
        name="ranolazine_mpo",
    )


def _perindopril() -> Term:
    return Mean(
        [
            TanimotoTo("O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC", "ECFP4"),
            Descriptor("aromatic_rings", rdMolDescriptors.CalcNumAromaticRings, Gaussian(2, 0.5)),
        ],
        name="perindopril_mpo",
    )


def _amlodipine() -> Term:
    return Mean(
        [
            TanimotoTo(r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC", "ECFP4"),
            Descriptor("rings", rdMolDescriptors.CalcNumRings, Gaussian(3, 0.5)),
        ],
        name="amlodipine_mpo",
    )


def _sitagliptin() -> Term:
    smiles = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
    target = _target(smiles)
    return Mean(
        [
            TanimotoTo(smiles, "ECFP4", Gaussian(0, 0.1)),
            Descriptor("logp", _logp, Gaussian(_logp(target), 0.2)),
            Descriptor("tpsa", _tpsa, Gaussian(_tpsa(target), 5)),
            Formula("C16H15F6N5O"),
        ],
        name="sitagliptin_mpo",
    )


def _zaleplon() -> Term:
    return Mean(
        [TanimotoTo("O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1", "ECFP4"), Formula("C19H17N3O2")],
        name="zaleplon_mpo",
    )


def _valsartan() -> Term:
    # the valsartan SMARTS with sitagliptin's logP, TPSA and Bertz complexity
    other = _target("NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F")
    return Mean(
        [
            Substructure("CN(C=O)Cc1ccc(c2ccccc2)cc1"),
            Descriptor("logp", _logp, Gaussian(_logp(other), 0.2)),
            Descriptor("tpsa", _tpsa, Gaussian(_tpsa(other), 5)),
            Descriptor("bertz", _bertz, Gaussian(_bertz(other), 30)),
        ],
        name="valsartan_smarts",
    )


_HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
_HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


def _deco_hop() -> Term:
    return Mean(
        [
            TanimotoTo(_HOP_START, "PHCO", Clipped(0.85)),
            Substructure("CS([#6])(=O)=O", inverse=True),
            Substructure("[#7]-c1ccc2ncsc2c1", inverse=True),
            Substructure(_HOP_SCAFFOLD),
        ],
        geometric=False,
        name="deco_hop",
    )


def _scaffold_hop() -> Term:
    return Mean(
        [
            TanimotoTo(_HOP_START, "PHCO", Clipped(0.75)),
            Substructure("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
            Substructure(_HOP_SCAFFOLD, inverse=True),
        ],
        geometric=False,
        name="scaffold_hop",
    )


#: PMO task name -> builder of its GuacaMol objective.
OBJECTIVES: dict[str, Callable[[], Term]] = {
    "celecoxib_rediscovery": lambda: _rediscovery(
        "celecoxib_rediscovery", "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
    ),
    "troglitazone_rediscovery": lambda: _rediscovery(
        "troglitazone_rediscovery", "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
    ),
    "thiothixene_rediscovery": lambda: _rediscovery(
        "thiothixene_rediscovery", "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
    ),
    "albuterol_similarity": lambda: _similarity("albuterol_similarity", "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "FCFP4"),
    "mestranol_similarity": lambda: _similarity(
        "mestranol_similarity", "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "AP"
    ),
    "isomers_c7h8n2o2": lambda: Formula("C7H8N2O2", name="isomers_c7h8n2o2"),
    "isomers_c9h10n2o2pf2cl": lambda: Formula("C9H10N2O2PF2Cl", name="isomers_c9h10n2o2pf2cl"),
    "median1": lambda: _median("median1", "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O", "ECFP4"),
    "median2": lambda: _median(
        "median2",
        "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C",
        "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
        "ECFP6",
    ),
    "osimertinib_mpo": _osimertinib,
    "fexofenadine_mpo": _fexofenadine,
    "ranolazine_mpo": _ranolazine,
    "perindopril_mpo": _perindopril,
    "amlodipine_mpo": _amlodipine,
    "sitagliptin_mpo": _sitagliptin,
    "zaleplon_mpo": _zaleplon,
    "valsartan_smarts": _valsartan,
    "deco_hop": _deco_hop,
    "scaffold_hop": _scaffold_hop,
}
