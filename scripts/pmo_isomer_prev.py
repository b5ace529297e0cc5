"""The two PMO tasks with an isomer term scored as TDC's earlier isomer oracle did, as custom rewards
for ``molgym compare --task custom``, to test whether that definition explains PMO's published
figures on them.

GuacaMol (and molgym, :class:`molgym.rewards.guacamol.Formula`) scores closeness to a molecular
formula as the geometric mean of a Gaussian per element (sigma 1) and one on the total atom count
with hydrogens (sigma 2). TDC's earlier version (kept in TDC as ``Isomer_scoring_prev``, also inside
``zaleplon_mpo_prev``) took that total from the SMILES *text* read as if it were a formula: every
token of an upper-case letter and following lower-case letters counts the number written after
it, or 1. Hydrogens are not written, aromatic atoms are lower case, and ring-closure digits count
as multiplicities, so a true isomer of C9H10N2O2PF2Cl scores far below 1 and the best molecules
are those whose canonical SMILES happens to read as 27 atoms.

    molgym compare --task custom --reward scripts.pmo_isomer_prev:isomers_c9h10n2o2pf2cl \\
        --agents graph_ga --budget 10000 --seeds 3 --workers 1 --out runs/isomers_prev
"""

from __future__ import annotations

import re

from rdkit import Chem

from molgym.rewards import Context, Term
from molgym.rewards.guacamol import OBJECTIVES, Formula, Mean

_TOKEN = re.compile(r"([A-Z][a-z]*)(\d*)")


def smiles_text_atoms(smiles: str) -> int:
    """The total atom count of TDC's earlier isomer score: ``smiles`` read as a formula."""
    return sum(int(count) if count else 1 for _, count in _TOKEN.findall(smiles))


class FormulaFromSmilesText(Formula):
    """:class:`Formula` with the total atom count read from the canonical SMILES text."""

    def total_atoms(self, mol: Chem.Mol) -> int:
        return smiles_text_atoms(Chem.MolToSmiles(mol))


def _scored_the_earlier_way(task: str) -> Term:
    """molgym's objective of ``task`` with each :class:`Formula` in it reading the SMILES text."""
    earlier = lambda term: FormulaFromSmilesText(term.formula, term.name) if isinstance(term, Formula) else term  # noqa: E731
    objective = OBJECTIVES[task]()
    if isinstance(objective, Mean):
        objective.terms = [earlier(term) for term in objective.terms]
    return earlier(objective)


_ISOMERS = _scored_the_earlier_way("isomers_c9h10n2o2pf2cl")
_ZALEPLON = _scored_the_earlier_way("zaleplon_mpo")


def isomers_c9h10n2o2pf2cl(mol: Chem.Mol) -> float:
    return _ISOMERS.value(Context.of_mol(mol))


def zaleplon_mpo(mol: Chem.Mol) -> float:
    return _ZALEPLON.value(Context.of_mol(mol))
