"""Metrics of a run, with the definitions of the PMO benchmark (Gao et al., NeurIPS 2022)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from molgym.chem import canonical_smiles
from molgym.rewards import sa_score

__all__ = [
    "auc_top_k",
    "top_k_curve",
    "mean_top_k",
    "diversity",
    "validity_uniqueness_novelty",
    "filter_pass_rate",
    "run_metrics",
]

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def top_k_curve(scores: Sequence[float], k: int, every: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the ``k`` best scores so far after every ``every`` calls, and after the last call.

    ``scores`` are the oracle's scores in call order. With fewer than ``k`` scores so far, the mean
    is over those there are (as in PMO). Returns ``(calls, values)``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    points = list(range(every, len(scores), every))
    if len(scores) and (not points or points[-1] != len(scores)):
        points.append(len(scores))
    values = [np.sort(scores[:c])[::-1][:k].mean() for c in points]
    return np.array(points, dtype=np.int64), np.array(values)


def auc_top_k(scores: Sequence[float], k: int, budget: int, every: int = 100) -> float:
    """PMO's AUC top-k: the area under the top-k-mean-so-far curve over the calls, divided by the budget.

    The curve is sampled every ``every`` calls (and at the last call) and integrated with the
    trapezoidal rule from (0 calls, 0); if the agent stopped before the budget, the last value is
    carried to the budget. Calls past the budget are ignored.
    """
    if budget < 1:
        raise ValueError("budget must be at least 1")
    scores = list(scores)[:budget]
    if not scores:
        return 0.0
    calls, values = top_k_curve(scores, k, every)
    area, previous_calls, previous_value = 0.0, 0, 0.0
    for c, v in zip(calls, values):
        area += (c - previous_calls) * (v + previous_value) / 2
        previous_calls, previous_value = c, v
    area += (budget - previous_calls) * previous_value
    return area / budget


def mean_top_k(scores: Iterable[float], k: int) -> float:
    """Mean of the ``k`` best scores (of all there are, if fewer)."""
    ranked = sorted(scores, reverse=True)[:k]
    return float(np.mean(ranked)) if ranked else 0.0


def diversity(smiles: Sequence[str]) -> float:
    """1 - mean pairwise Tanimoto similarity (Morgan radius 2, 2048 bits); 0 for fewer than 2 molecules."""
    fps = [_MORGAN.GetFingerprint(m) for m in _mols(smiles)]
    if len(fps) < 2:
        return 0.0
    sims = [DataStructs.TanimotoSimilarity(a, b) for a, b in combinations(fps, 2)]
    return 1.0 - float(np.mean(sims))


def validity_uniqueness_novelty(smiles: Sequence[str], training: set[str] | None = None) -> dict[str, float]:
    """Validity (parsable share of everything given: an agent's proposals as it generated them,
    the invalid ones included), uniqueness (distinct valid / valid) and novelty (distinct valid
    not in ``training``, given as canonical SMILES, / distinct valid)."""
    canon = [canonical_smiles(m) for m in _mols(smiles, keep_none=True) if m is not None]
    distinct = set(canon)
    out = {
        "validity": len(canon) / len(smiles) if smiles else 0.0,
        "uniqueness": len(distinct) / len(canon) if canon else 0.0,
    }
    if training is not None:
        out["novelty"] = len(distinct - training) / len(distinct) if distinct else 0.0
    return out


def filter_pass_rate(smiles: Sequence[str], catalog: str) -> float:
    """Share of the molecules matching nothing in RDKit's ``PAINS`` or ``ZINC`` filter catalog."""
    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, catalog))
    filters = FilterCatalog(params)
    mols = _mols(smiles)
    return sum(not filters.HasMatch(m) for m in mols) / len(mols) if mols else 0.0


def run_metrics(
    log: Sequence[tuple[int, str, float]],
    budget: int,
    proposed: Sequence[str] | None = None,
    training: set[str] | None = None,
) -> dict[str, float]:
    """All the metrics of one run from its oracle log (and, if given, a sample of proposed molecules)."""
    scores = [s for _, _, s in log]
    ranked = [smi for _, smi, _ in sorted(log, key=lambda row: -row[2])]
    top100 = ranked[:100]
    out = {
        "calls": len(log),
        "auc_top1": auc_top_k(scores, 1, budget),
        "auc_top10": auc_top_k(scores, 10, budget),
        "auc_top100": auc_top_k(scores, 100, budget),
        "top1": mean_top_k(scores, 1),
        "top10": mean_top_k(scores, 10),
        "top100": mean_top_k(scores, 100),
        "diversity_top100": diversity(top100),
        "sa_top100": float(np.mean([sa_score(m) for m in _mols(top100)])) if top100 else float("nan"),
        "pains_pass_top100": filter_pass_rate(top100, "PAINS"),
        "zinc_pass_top100": filter_pass_rate(top100, "ZINC"),
    }
    if proposed is not None:
        out.update(validity_uniqueness_novelty(proposed, training))
    return out


def _mols(smiles: Iterable[str], keep_none: bool = False) -> list:
    """RDKit molecules of ``smiles``; ``None`` for what does not parse (and for the empty string,
    which RDKit reads as a molecule without atoms)."""
    with rdBase.BlockLogs():
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None for s in smiles]
    return mols if keep_none else [m for m in mols if m is not None]
