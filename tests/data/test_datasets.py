"""Loaders: file formats, the ZINC250k download (from local files), vocabularies, skip counts."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from molgym.chem import AtomVocab
from molgym.data import (
    ZINC250K,
    encode_smiles,
    load_smiles,
    nci_smiles,
    read_smiles,
    zinc250k_smiles,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ZINC_LIKE = '"smiles","logP","qed","SAS"\n"CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1\n",5.0,0.70,2.08\n"C[NH+]1CCC(C)CC1\n",0.5,0.5,3.0\n'


def test_smi_with_header_scores_and_comments(tmp_path):
    path = tmp_path / "set.smi"
    path.write_text("SMILES score\n# a comment\nCCO 1.5\n\nc1ccccc1\tbenzene\n")
    assert read_smiles(path) == ["CCO", "c1ccccc1"]
    assert read_smiles(path, limit=1) == ["CCO"]


def test_csv_and_gzipped_csv(tmp_path):
    plain = tmp_path / "set.csv"
    plain.write_text("id,SMILES\n1,CCO\n2,CCN\n")
    assert read_smiles(plain) == ["CCO", "CCN"]
    assert read_smiles(plain, column="id") == ["1", "2"]
    with pytest.raises(ValueError, match="no column 'smi'"):
        read_smiles(plain, column="smi")
    packed = tmp_path / "set.csv.gz"
    with gzip.open(packed, "wt") as f:
        f.write("SMILES\nCCO\nCCCl\n")
    assert read_smiles(packed) == ["CCO", "CCCl"]


def test_zinc250k_quoting_with_embedded_newlines(tmp_path):
    path = tmp_path / "zinc.csv"
    path.write_text(ZINC_LIKE)
    assert read_smiles(path) == ["CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1", "C[NH+]1CCC(C)CC1"]


def test_missing_file_and_unknown_name():
    with pytest.raises(FileNotFoundError, match="no SMILES file"):
        read_smiles("/nonexistent/set.smi")
    with pytest.raises(FileNotFoundError, match="neither a known dataset"):
        load_smiles("zinc500k")


def test_embedded_nci_default_needs_no_download():
    smiles = nci_smiles()
    assert len(smiles) == 4999 and load_smiles("nci", limit=3) == smiles[:3]


def test_zinc250k_download_caches_and_checks_the_checksum(tmp_path):
    source = tmp_path / "remote.csv"
    source.write_text(ZINC_LIKE)
    digest = hashlib.md5(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    got = zinc250k_smiles(cache=cache, url=source.as_uri(), digest=digest, progress=False)
    assert got == ["CC(C)(C)c1ccc2occ(CC(=O)Nc3ccccc3F)c2c1", "C[NH+]1CCC(C)CC1"]
    assert (cache / ZINC250K["filename"]).is_file()
    # a second call uses the cache: the source can be gone
    source.unlink()
    assert zinc250k_smiles(cache=cache, url=source.as_uri(), digest=digest, progress=False) == got


def test_zinc250k_checksum_mismatch_leaves_nothing_behind(tmp_path):
    source = tmp_path / "remote.csv"
    source.write_text(ZINC_LIKE)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="checksum mismatch.*expected md5 0000"):
        zinc250k_smiles(cache=cache, url=source.as_uri(), digest="0" * 32, progress=False)
    assert list(cache.iterdir()) == []


def test_zinc250k_unreachable_source_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="could not download"):
        zinc250k_smiles(cache=tmp_path, url=(tmp_path / "absent.csv").as_uri(), progress=False)


def test_zinc250k_from_a_local_path(tmp_path):
    path = tmp_path / "zinc.csv"
    path.write_text(ZINC_LIKE)
    assert len(zinc250k_smiles(path=path)) == 2


def test_encoding_skips_and_counts_what_it_cannot_represent():
    vocab = AtomVocab.default()
    smiles = ["CCO", "C1CC", "C[Se]C", "C" * 12, "CC.O", "[13CH4]", "C[CH2]", "O=[N+]([O-])c1ccccc1", "[H]OC"]
    out = encode_smiles(smiles, vocab, max_atoms=10)
    assert out.smiles == ["CCO", "O=[N+]([O-])c1ccccc1", "CO"]
    assert dict(out.skipped) == {
        "invalid_smiles": 1,
        "outside_vocabulary": 1,
        "too_large": 1,
        "fragments": 1,
        "isotope": 1,
        "unrepresentable": 1,
    }
    assert out.total == len(smiles)
    assert "Se" in out.examples["outside_vocabulary"]
    assert out.summary().startswith("3 of 9 molecules kept")


def test_vocabulary_from_a_dataset():
    vocab = AtomVocab.from_smiles(["C[NH3+]", "[O-]c1ccccc1Cl", "CC(=O)[O-]", "not smiles"])
    assert vocab.names == ["C", "N+", "O", "O-", "Cl"]  # element order of GCPN, then charge
    assert AtomVocab.from_smiles(["C[NH3+]", "CC"], min_count=2).names == ["C"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared data not present")
def test_shared_files_load_through_the_same_api():
    vocab = AtomVocab.default()
    train = read_smiles(SHARED / "moses_train.csv.gz", limit=500)
    test = load_smiles(SHARED / "moses_test.csv.gz", limit=500)
    low = load_smiles(SHARED / "zinc_low_plogp_800.txt")
    assert len(train) == len(test) == 500 and len(low) == 800
    assert len(encode_smiles(train + test, vocab, 38).graphs) == 1000
    assert len(encode_smiles(low, vocab, 38).graphs) == 800
