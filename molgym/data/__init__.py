"""Molecule data: file readers, named sets (embedded NCI, ZINC250k download) and encoding into states."""

from molgym.data.datasets import NCI_PATH, ZINC250K, load_smiles, nci_smiles, zinc250k_smiles
from molgym.data.download import cache_dir, download, file_digest
from molgym.data.encode import EncodedMolecules, encode_smiles
from molgym.data.files import read_smiles

__all__ = [
    "NCI_PATH",
    "ZINC250K",
    "EncodedMolecules",
    "cache_dir",
    "download",
    "encode_smiles",
    "file_digest",
    "load_smiles",
    "nci_smiles",
    "read_smiles",
    "zinc250k_smiles",
]
