"""Turning SMILES into states: every molecule is kept exactly or skipped and counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rdkit import rdBase
from tqdm.auto import tqdm

from molgym.chem import AtomVocab, MoleculeError, MolGraph, parse_state

__all__ = ["EncodedMolecules", "encode_smiles"]


@dataclass
class EncodedMolecules:
    """The molecules that became states, and why the others did not.

    Attributes:
        graphs: the states, in input order.
        smiles: canonical SMILES of ``graphs`` (no stereochemistry).
        skipped: reason -> count (``invalid_smiles``, ``outside_vocabulary``, ``too_large``,
            ``fragments``, ``isotope``, ``unrepresentable``, ``empty``).
        examples: reason -> the first error message seen for it.
        stereo_dropped: kept molecules whose stereochemistry was dropped (a state is a 2D graph).
    """

    graphs: list[MolGraph] = field(default_factory=list)
    smiles: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    stereo_dropped: int = 0

    @property
    def total(self) -> int:
        return len(self.graphs) + sum(self.skipped.values())

    def summary(self) -> str:
        parts = ", ".join(f"{reason} {count}" for reason, count in self.skipped.most_common())
        stereo = f"; stereochemistry dropped from {self.stereo_dropped}" if self.stereo_dropped else ""
        return f"{len(self.graphs)} of {self.total} molecules kept" + (f"; skipped: {parts}" if parts else "") + stereo


def encode_smiles(smiles: Iterable[str], vocab: AtomVocab, max_atoms: int, progress: bool = False) -> EncodedMolecules:
    """Encode molecules as states; the ones that cannot be represented exactly are counted, not
    mangled. Stereochemistry is dropped (states are 2D graphs) and counted in ``stereo_dropped``."""
    out = EncodedMolecules()
    items = list(smiles) if progress else smiles
    with rdBase.BlockLogs():
        for s in tqdm(items, desc="encoding", unit="mol", disable=not progress):
            try:
                graph, stereo = parse_state(s, vocab, max_atoms)
            except MoleculeError as err:
                out.skipped[err.reason] += 1
                out.examples.setdefault(err.reason, str(err))
                continue
            out.stereo_dropped += stereo
            out.graphs.append(graph)
            out.smiles.append(graph.smiles())
    return out
