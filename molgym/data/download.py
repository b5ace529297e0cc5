"""Downloading files into a cache directory, with a checksum."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["cache_dir", "download", "file_digest"]


def cache_dir() -> Path:
    """``$MOLGYM_CACHE``, else ``~/.cache/molgym``."""
    return Path(os.environ.get("MOLGYM_CACHE", Path.home() / ".cache" / "molgym"))


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, algorithm: str, digest: str | None, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` unless a file with the right checksum is already there (any file
    there, when ``digest`` is None: the caller records and checks the checksum itself).

    The file is written to ``dest.part`` and moved into place only once its checksum matches, so
    an interrupted or corrupted download never leaves a file that looks complete. A mismatch
    raises ``ValueError`` with both checksums.
    """
    dest = Path(dest)
    if dest.is_file():
        if digest is None or file_digest(dest, algorithm) == digest:
            return dest
        dest.unlink()  # stale or corrupted: fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except OSError as err:
        part.unlink(missing_ok=True)
        raise OSError(f"could not download {url}: {err}") from err
    got = file_digest(part, algorithm)
    if digest is not None and got != digest:
        part.unlink()
        raise ValueError(f"checksum mismatch for {url}: expected {algorithm} {digest}, got {got}")
    part.replace(dest)
    return dest
