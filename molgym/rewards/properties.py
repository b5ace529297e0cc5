"""Final property terms: QED, SA, logP, penalized logP, molecular weight, range targets,
similarity to the start molecule, constrained improvement and the ZINC filter catalog."""

from __future__ import annotations

from typing import Literal

from rdkit import Chem, DataStructs
from rdkit.Chem import QED as _QED
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from molgym.rewards.base import Context, Term

__all__ = [
    "QED",
    "SA",
    "LogP",
    "MolWt",
    "PenalizedLogP",
    "RangeTarget",
    "Similarity",
    "ConstrainedImprovement",
    "ZincFilter",
    "sa_score",
    "ring_penalty",
    "tanimoto",
]


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility (Ertl & Schuffenhauer 2009): 1 (easy) to 10 (hard), RDKit Contrib model."""
    from rdkit.Contrib.SA_Score import sascorer  # loads the fragment model on first use

    return float(sascorer.calculateScore(mol))


def ring_penalty(mol: Chem.Mol) -> int:
    """Size of the largest ring beyond six atoms (0 if no ring is larger than 6), as in JT-VAE."""
    rings = mol.GetRingInfo().AtomRings()
    largest = max((len(r) for r in rings), default=0)
    return max(largest - 6, 0)


_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def tanimoto(a: Chem.Mol, b: Chem.Mol) -> float:
    """Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits)."""
    return DataStructs.TanimotoSimilarity(_MORGAN.GetFingerprint(a), _MORGAN.GetFingerprint(b))


class QED(Term):
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), in [0, 1]."""

    name = "qed"

    def value(self, ctx: Context) -> float:
        return _QED.qed(ctx.mol)


class SA(Term):
    """Synthetic accessibility score, 1 (easy) to 10 (hard); weight it negatively to reward ease."""

    name = "sa"

    def value(self, ctx: Context) -> float:
        return sa_score(ctx.mol)


class LogP(Term):
    """Crippen logP (Wildman & Crippen 1999)."""

    name = "logp"

    def value(self, ctx: Context) -> float:
        return Crippen.MolLogP(ctx.mol)


class MolWt(Term):
    """Average molecular weight in g/mol, hydrogens included."""

    name = "mw"

    def value(self, ctx: Context) -> float:
        return Descriptors.MolWt(ctx.mol)


# JT-VAE's statistics over ZINC250k, used by GCPN to normalise the three parts of penalized logP.
_LOGP_MEAN, _LOGP_STD = 2.4570953396190123, 1.434324401111988
_SA_MEAN, _SA_STD = -3.0525811293166134, 0.8335207024513095
_CYCLE_MEAN, _CYCLE_STD = -0.0485696876403053, 0.2860212110245455


class PenalizedLogP(Term):
    """Penalized logP: logP minus synthetic accessibility minus the large-ring penalty.

    Args:
        variant: ``"normalized"`` (GCPN / JT-VAE: each part standardised with ZINC250k
            statistics) or ``"unnormalized"`` (``logP - SA - ring_penalty``, the scale of the
            constrained-optimisation literature and of ``zinc_low_plogp_800.txt``).
    """

    def __init__(self, variant: Literal["normalized", "unnormalized"] = "normalized"):
        if variant not in ("normalized", "unnormalized"):
            raise ValueError(f"variant must be 'normalized' or 'unnormalized', got {variant!r}")
        self.variant = variant
        self.name = "plogp" if variant == "normalized" else "plogp_unnormalized"

    def value(self, ctx: Context) -> float:
        return self.of(ctx.mol)

    def of(self, mol: Chem.Mol) -> float:
        logp, sa, cycle = Crippen.MolLogP(mol), sa_score(mol), ring_penalty(mol)
        if self.variant == "unnormalized":
            return logp - sa - cycle
        return (logp - _LOGP_MEAN) / _LOGP_STD + (-sa - _SA_MEAN) / _SA_STD + (-cycle - _CYCLE_MEAN) / _CYCLE_STD

    def __repr__(self) -> str:
        return f"PenalizedLogP({self.variant!r})"


class RangeTarget(Term):
    """Reward for a property inside ``[low, high]`` (GCPN's property-targeting shape).

    The value is 1 inside the window and decays linearly with the distance ``d`` to it outside:
    ``max(1 - d / scale, floor)``, so it keeps pointing back to the window far from it.

    Args:
        prop: the property term (e.g. ``LogP()``, ``MolWt()``).
        low, high: the window.
        scale: distance at which the value reaches 0 (default: the window's width).
        floor: lowest value.
    """

    def __init__(self, prop: Term, low: float, high: float, scale: float | None = None, floor: float = -1.0):
        if not low <= high:
            raise ValueError(f"RangeTarget needs low <= high, got [{low}, {high}]")
        self.prop, self.low, self.high = prop, float(low), float(high)
        self.scale = float(scale) if scale is not None else max(self.high - self.low, 1e-9)
        self.floor = float(floor)
        self.name = f"{prop.name}_target"

    def value(self, ctx: Context) -> float:
        x = self.prop(ctx)
        d = max(self.low - x, 0.0, x - self.high)
        return max(1.0 - d / self.scale, self.floor)

    def __repr__(self) -> str:
        return f"RangeTarget({self.prop!r}, {self.low}, {self.high})"


class Similarity(Term):
    """Tanimoto similarity (Morgan radius 2, 2048 bits) of the molecule to the episode's start."""

    name = "similarity"

    def cache_key(self, ctx: Context):
        return ctx.smiles, ctx.start_smiles

    def value(self, ctx: Context) -> float:
        if ctx.start is None:
            raise ValueError("similarity needs a start molecule")
        return tanimoto(ctx.mol, ctx.start_mol)


class ConstrainedImprovement(Term):
    """Improvement of a property over the start molecule, subject to a similarity threshold.

    With similarity ``s`` to the start and improvement ``delta = p(mol) - p(start)``:
    ``delta`` when ``s >= threshold``; otherwise ``min(delta, 0) - penalty * (threshold - s)``,
    so leaving the neighbourhood of the start molecule never pays.

    Args:
        threshold: the similarity threshold delta (0.0, 0.2, 0.4, 0.6 in the literature).
        prop: the property improved, by default unnormalised penalized logP (JT-VAE, GCPN).
        penalty: slope of the penalty below the threshold.
    """

    def __init__(self, threshold: float = 0.4, prop: Term | None = None, penalty: float = 10.0):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"similarity threshold must be in [0, 1], got {threshold}")
        self.threshold, self.penalty = float(threshold), float(penalty)
        self.prop = prop if prop is not None else PenalizedLogP("unnormalized")
        self.name = f"{self.prop.name}_improvement"

    def cache_key(self, ctx: Context):
        return ctx.smiles, ctx.start_smiles

    def value(self, ctx: Context) -> float:
        if ctx.start is None:
            raise ValueError("constrained improvement needs a start molecule")
        start_ctx = Context(ctx.start)
        delta = self.prop(ctx) - self.prop(start_ctx)
        sim = tanimoto(ctx.mol, ctx.start_mol)
        if sim >= self.threshold:
            return delta
        return min(delta, 0.0) - self.penalty * (self.threshold - sim)

    def __repr__(self) -> str:
        return f"ConstrainedImprovement(threshold={self.threshold})"


class ZincFilter(Term):
    """``-penalty`` if the molecule matches RDKit's ZINC filter catalog, else 0."""

    name = "zinc_filter"

    def __init__(self, penalty: float = 1.0):
        self.penalty = float(penalty)
        self._catalog = None

    def value(self, ctx: Context) -> float:
        if self._catalog is None:
            params = FilterCatalogParams()
            params.AddCatalog(FilterCatalogParams.FilterCatalogs.ZINC)
            self._catalog = FilterCatalog(params)
        return -self.penalty if self._catalog.HasMatch(ctx.mol) else 0.0

    def __getstate__(self):
        state = super().__getstate__()
        state["_catalog"] = None
        return state
