"""Named molecule sets: an embedded default, ZINC250k by download, and any local file."""

from __future__ import annotations

import os
from pathlib import Path

from molgym.data.download import cache_dir, download
from molgym.data.files import read_smiles

__all__ = ["MOSES_PATH", "NCI_PATH", "ZINC250K", "load_smiles", "nci_smiles", "zinc250k_smiles"]

#: RDKit ships the NCI open database's `first_5K.smi` (4,999 molecules): a default that needs no download.
NCI_PATH = Path(os.path.join(__import__("rdkit").RDConfig.RDDataDir, "NCI", "first_5K.smi"))

#: The MOSES training set (1.58M ZINC-derived SMILES), where the project keeps it: ``../shared/data`` beside the
#: checkout (override with ``MOLGYM_MOSES``).
MOSES_PATH = Path(
    os.environ.get("MOLGYM_MOSES", Path(__file__).resolve().parents[3] / "shared" / "data" / "moses_train.csv.gz")
)

#: ZINC250k as used by the chemical VAE, JT-VAE and GCPN (249,455 molecules).
ZINC250K = {
    "url": "https://raw.githubusercontent.com/aspuru-guzik-group/chemical_vae/master/models/zinc_properties/"
    "250k_rndm_zinc_drugs_clean_3.csv",
    "filename": "250k_rndm_zinc_drugs_clean_3.csv",
    "algorithm": "md5",
    "digest": "b59078b2b04c6e9431280e3dc42048d5",
}


def nci_smiles(limit: int | None = None) -> list[str]:
    """The 4,999 NCI molecules shipped with RDKit (embedded default; some fall outside the vocabulary)."""
    return read_smiles(NCI_PATH, limit=limit)


def zinc250k_smiles(
    path: str | Path | None = None,
    cache: str | Path | None = None,
    url: str = ZINC250K["url"],
    digest: str = ZINC250K["digest"],
    limit: int | None = None,
    progress: bool = True,
) -> list[str]:
    """ZINC250k SMILES: from ``path`` if given, else downloaded once into the cache (checksummed)."""
    if path is None:
        target = Path(cache) if cache is not None else cache_dir()
        path = download(url, target / ZINC250K["filename"], ZINC250K["algorithm"], digest, progress=progress)
    return read_smiles(path, column="smiles", limit=limit)


def load_smiles(source: str | Path, limit: int | None = None) -> list[str]:
    """SMILES from a name (``"nci"``, ``"zinc250k"``, ``"moses"``) or a file path (``.smi``, ``.txt``, ``.csv``, ``.gz``)."""
    name = str(source).lower()
    if name == "nci":
        return nci_smiles(limit)
    if name == "zinc250k":
        return zinc250k_smiles(limit=limit)
    if name == "moses":
        if not MOSES_PATH.is_file():
            raise FileNotFoundError(f"'moses' is read from {MOSES_PATH}, which does not exist here; give a file path")
        return read_smiles(MOSES_PATH, limit=limit)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(
            f"{source!r} is neither a known dataset ('nci', 'zinc250k', 'moses') nor an existing file"
        )
    return read_smiles(path, limit=limit)
