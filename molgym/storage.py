"""Files as every molgym command writes and reads them: written whole (a temporary name renamed
into place, so a crash or a kill leaves the old file or the new one, never half of one), read
with errors that name the file and what is wrong with it, and output paths checked before any
work starts.

Errors are ``ValueError`` with one line (the commands report them as bad input, exit status 2).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "write_atomic",
    "write_json",
    "write_csv",
    "read_json",
    "check_output_dir",
    "check_output_file",
]


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends
    without an error, removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # a fixed name: a write cut short is replaced by the next
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


def write_json(path: str | Path, value: Any) -> None:
    """``value`` as indented JSON, written whole."""
    write_atomic(path, json.dumps(value, indent=2) + "\n")


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV with ``\\n`` line ends (not the ``csv`` module's default ``\\r\\n``), written whole."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_atomic(path, buffer.getvalue())


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON in ``path``; a ``ValueError`` naming the file when it is missing, empty or damaged."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} is missing")
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise ValueError(f"{what} {path} is empty (a write was cut short)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{what} {path} is damaged: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None


def _writable_dir(directory: Path, option: str, asked: Path) -> None:
    """``directory`` (which exists) takes new files: tried by creating one, since permission bits
    say nothing for root or on a read-only mount."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        where = "" if directory == asked else f" in {directory}"
        raise ValueError(f"{option} {asked}: cannot write{where} ({err.strerror or err})") from None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_dir(path: str | Path, option: str = "--out", asked: str | Path | None = None) -> Path:
    """``path`` can be the output directory: it is one, or can be made, and files can be written
    in it. Made now (with its parents), before any work. ``asked``: the path the user gave, named
    in errors (a file's, when ``path`` is its folder)."""
    path = Path(path)
    asked = Path(asked) if asked is not None else path
    if path.exists() and not path.is_dir():
        if asked == path:
            raise ValueError(f"{option} {path} is a file, not a directory: choose another {option}")
        raise ValueError(f"{option} {asked}: {path} is a file, not a directory")
    base = _nearest_existing(path.parent if not path.exists() else path)
    if not base.is_dir():
        raise ValueError(f"{option} {asked}: {base} is a file, not a directory")
    _writable_dir(base, option, asked)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{option} {asked}: cannot create {path} ({err.strerror or err})") from None
    return path


def check_output_file(path: str | Path, option: str = "--out", overwrite: bool = False) -> Path:
    """``path`` can be written as a new file (an existing one only with ``overwrite``): not a
    directory, its folder exists or can be made, and takes files. Checked before any work."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a directory: give a file name")
    if path.exists() and not overwrite:
        raise ValueError(f"{option} {path} already exists: choose another {option}, or add --overwrite to replace it")
    check_output_dir(path.parent, option, asked=path)
    return path
