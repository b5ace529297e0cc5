"""Reading SMILES from ``.smi``/``.txt``, ``.csv`` and their ``.gz`` versions."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

__all__ = ["read_smiles"]


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_smiles(path: str | Path, column: str | None = None, limit: int | None = None) -> list[str]:
    """The SMILES strings of a file, in file order.

    * ``.csv`` / ``.csv.gz``: the column named ``column``, else the one called ``smiles`` (any
      case), else the first column. Quoted fields with embedded newlines (ZINC250k) are handled.
    * anything else (``.smi``, ``.txt``, ``.gz`` of those): the first whitespace-separated token of
      each line; blank lines, ``#`` comments and a ``smiles`` header line are skipped, so
      ``SMILES score`` files read as they are.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a CSV without the column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SMILES file at {path}")
    stem_suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    out: list[str] = []
    with _open_text(path) as handle:
        if stem_suffix.lower() == ".csv":
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return out
            names = [h.strip().lower() for h in header]
            wanted = (column or "smiles").lower()
            if wanted in names:
                index = names.index(wanted)
            elif column is not None:
                raise ValueError(f"{path}: no column {column!r} (columns: {header})")
            else:
                index = 0
            for row in reader:
                if len(row) > index and row[index].strip():
                    out.append(row[index].strip())
                    if limit is not None and len(out) >= limit:
                        break
        else:
            for line in handle:
                token = line.split(maxsplit=1)[0] if line.strip() else ""
                if not token or token.startswith("#") or token.lower() == "smiles":
                    continue
                out.append(token)
                if limit is not None and len(out) >= limit:
                    break
    return out
