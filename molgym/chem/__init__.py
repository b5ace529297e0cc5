"""Chemistry core: atom vocabularies, the molecule state and the edit actions."""

from molgym.chem.actions import ActionLayout
from molgym.chem.engine import apply_edits, edit_masks, free_valence, rewritten_atoms
from molgym.chem.graph import (
    MoleculeError,
    MolGraph,
    StereoDropped,
    canonical_smiles,
    graph_to_mol,
    has_stereo,
    parse_smiles,
    parse_state,
    rdkit_accepts,
    shorten,
    state_ok,
    valence_ok,
)
from molgym.chem.vocab import DEFAULT_TYPES, GCPN_ZINC_TYPES, AtomVocab, format_type, rdkit_max_valence

__all__ = [
    "DEFAULT_TYPES",
    "GCPN_ZINC_TYPES",
    "ActionLayout",
    "AtomVocab",
    "MolGraph",
    "MoleculeError",
    "StereoDropped",
    "apply_edits",
    "canonical_smiles",
    "edit_masks",
    "format_type",
    "free_valence",
    "graph_to_mol",
    "has_stereo",
    "parse_smiles",
    "parse_state",
    "rdkit_accepts",
    "rdkit_max_valence",
    "rewritten_atoms",
    "shorten",
    "state_ok",
    "valence_ok",
]
