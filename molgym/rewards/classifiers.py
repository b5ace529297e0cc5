"""The PMO tasks scored by trained activity classifiers: ``drd2``, ``gsk3b`` and ``jnk3``.

The classifiers are the scikit-learn models that TDC publishes (Harvard Dataverse) and PMO scores
with (DRD2: Olivecrona et al. 2017, an SVM on folded feature-Morgan counts, radius 3; GSK3B and
JNK3: Li et al. 2018 / Jin et al. 2020, random forests on 2048-bit Morgan fingerprints, radius 2).
The score is the classifier's probability of the active class.

A model comes from, in order: ``path=`` (a local file), ``$MOLGYM_<NAME>_MODEL``, or the cache
(``$MOLGYM_CACHE``, else ``~/.cache/molgym``), downloading it there once. Its SHA-256 is checked:
against ``digest=`` when given, else against the one recorded (``<file>.sha256``) when it was first
downloaded, so a cached model that changes is refused. Unpickling needs scikit-learn
(``pip install 'molgym[pmo]'``); offline and without a local file, :class:`ModelUnavailable` says
so in one line, and ``molgym compare`` skips the task with that reason.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molgym.data.download import cache_dir, download, file_digest
from molgym.rewards.base import Context, Term

__all__ = ["CLASSIFIERS", "Classifier", "ModelUnavailable", "classifier_model"]


class ModelUnavailable(RuntimeError):
    """A classifier model can be neither found locally nor downloaded."""


#: name -> Dataverse file of the model (TDC's ``*_current`` pickles, for current scikit-learn).
CLASSIFIERS = {
    "drd2": "https://dataverse.harvard.edu/api/access/datafile/6413411",
    "gsk3b": "https://dataverse.harvard.edu/api/access/datafile/6413412",
    "jnk3": "https://dataverse.harvard.edu/api/access/datafile/6413420",
}


def classifier_model(
    name: str,
    path: str | Path | None = None,
    cache: str | Path | None = None,
    url: str | None = None,
    digest: str | None = None,
    progress: bool = True,
) -> Path:
    """The model file of classifier ``name``: local, cached or downloaded (see the module docstring)."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; known: {', '.join(CLASSIFIERS)}")
    path = path or os.environ.get(f"MOLGYM_{name.upper()}_MODEL")
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ModelUnavailable(f"the {name} model {path} does not exist")
        if digest is not None and file_digest(path, "sha256") != digest:
            raise ModelUnavailable(f"the {name} model {path} does not have SHA-256 {digest}")
        return path
    dest = Path(cache or cache_dir()) / "oracles" / f"{name}.pkl"
    recorded = dest.with_name(dest.name + ".sha256")
    if digest is None and dest.is_file() and recorded.is_file():
        digest = recorded.read_text().strip()
    try:
        download(url or CLASSIFIERS[name], dest, "sha256", digest, progress=progress)
    except (OSError, ValueError) as err:
        raise ModelUnavailable(
            f"the {name} classifier cannot be had: {err} (give a local file with MOLGYM_{name.upper()}_MODEL or path=)"
        ) from None
    if not recorded.is_file():
        recorded.write_text(file_digest(dest, "sha256") + "\n")
    return dest


def _features(name: str, mol: Chem.Mol) -> np.ndarray:
    """The model's input: ``(1, 2048)``."""
    out = np.zeros((1, 2048), dtype=np.int32 if name == "drd2" else np.float64)
    if name == "drd2":  # feature-Morgan counts, radius 3, folded modulo 2048
        for key, count in _DRD2.GetSparseCountFingerprint(mol).GetNonzeroElements().items():
            out[0, key % 2048] += count
    else:
        out[0, list(_BITS.GetFingerprint(mol).GetOnBits())] = 1.0
    return out


_DRD2 = rdFingerprintGenerator.GetMorganGenerator(
    radius=3, atomInvariantsGenerator=rdFingerprintGenerator.GetMorganFeatureAtomInvGen()
)
_BITS = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


class Classifier(Term):
    """The probability of activity that classifier ``name`` gives a molecule; the model is
    resolved by :func:`classifier_model` when the term is made (keyword arguments go there)."""

    def __init__(self, name: str, **where):
        self.name = name
        self.file = classifier_model(name, **where)
        self._model = None

    def value(self, ctx: Context) -> float:
        if self._model is None:
            try:
                with open(self.file, "rb") as f:
                    self._model = pickle.load(f)  # noqa: S301 - the file's checksum was verified
            except ModuleNotFoundError as err:
                raise ModelUnavailable(f"the {self.name} model needs {err.name} (pip install 'molgym[pmo]')") from None
        return float(self._model.predict_proba(_features(self.name, ctx.mol))[0, 1])

    def __getstate__(self):
        state = super().__getstate__()
        state["_model"] = None  # workers load it themselves
        return state

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, file={str(self.file)!r})"
