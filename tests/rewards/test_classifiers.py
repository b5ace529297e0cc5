"""The classifier tasks (drd2, gsk3b, jnk3): model files from a local path or a checksummed cache, no network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

from molgym.rewards.classifiers import Classifier, ModelUnavailable, _features, classifier_model
from molgym.tasks import make_task


class SumModel:
    """Stands in for a scikit-learn classifier: P(active) grows with the number of features set."""

    def predict_proba(self, x):
        p = 1.0 - 1.0 / (1.0 + float(np.count_nonzero(x)))
        return np.array([[1.0 - p, p]])


def _model_file(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(SumModel()))
    return path


def test_a_local_model_scores_molecules(tmp_path, monkeypatch):
    path = _model_file(tmp_path)
    term = Classifier("gsk3b", path=path)
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    on = int(np.count_nonzero(_features("gsk3b", mol)))
    assert term(mol) == pytest.approx(1 - 1 / (1 + on)) and on > 5
    monkeypatch.setenv("MOLGYM_JNK3_MODEL", str(path))  # the environment variable names a local file too
    assert make_task("jnk3").objective("CCO") > 0
    with pytest.raises(ModelUnavailable, match="does not have SHA-256"):
        classifier_model("drd2", path=path, digest="0" * 64)
    with pytest.raises(ModelUnavailable, match="does not exist"):
        classifier_model("drd2", path=tmp_path / "missing.pkl")


def test_features_are_the_published_fingerprints():
    """DRD2: feature-Morgan counts (radius 3) folded modulo 2048; GSK3B/JNK3: Morgan bits (radius 2, 2048)."""
    with rdBase.BlockLogs():
        for smiles in ("CC(=O)Nc1ccc(O)cc1", "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"):
            mol = Chem.MolFromSmiles(smiles)
            folded = np.zeros(2048, dtype=np.int32)
            for key, count in (
                AllChem.GetMorganFingerprint(mol, 3, useCounts=True, useFeatures=True).GetNonzeroElements().items()
            ):
                folded[key % 2048] += count
            assert np.array_equal(_features("drd2", mol)[0], folded)
            bits = np.zeros(2048)
            bits[list(AllChem.GetMorganFingerprintAsBitVect(mol, 2, nBits=2048).GetOnBits())] = 1
            assert np.array_equal(_features("jnk3", mol)[0], bits)


def test_download_caches_records_and_checks_the_checksum(tmp_path):
    source = _model_file(tmp_path)
    cache = tmp_path / "cache"
    first = classifier_model("drd2", cache=cache, url=source.as_uri(), progress=False)
    assert first.read_bytes() == source.read_bytes()
    assert (cache / "oracles" / "drd2.pkl.sha256").is_file()
    source.unlink()  # cached: no second download
    assert classifier_model("drd2", cache=cache, url=source.as_uri(), progress=False) == first
    first.write_bytes(b"tampered")  # a changed cache file is fetched again, and refused if the source changed too
    source.write_bytes(b"another model")
    with pytest.raises(ModelUnavailable, match="checksum mismatch"):
        classifier_model("drd2", cache=cache, url=source.as_uri(), progress=False)
    assert not first.exists()  # nothing that looks like a model is left behind


def test_offline_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MOLGYM_GSK3B_MODEL", raising=False)
    with pytest.raises(ModelUnavailable) as err:
        classifier_model("gsk3b", cache=tmp_path, url="http://127.0.0.1:9/gsk3b.pkl", progress=False)
    message = str(err.value)
    assert "\n" not in message and "MOLGYM_GSK3B_MODEL" in message and "could not download" in message
    with pytest.raises(ValueError, match="unknown classifier"):
        classifier_model("herg")
