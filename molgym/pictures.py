"""Pictures of molecules: a titled grid, as ``molgym rollout``, ``compare`` and ``sample`` write them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from molgym.storage import atomic_path

__all__ = ["molecule_grid"]


def molecule_grid(
    smiles: Sequence[str],
    legends: Sequence[str],
    title: str,
    path: str | Path,
    per_row: int = 4,
    size: tuple[int, int] = (250, 200),
) -> None:
    """Draw ``smiles`` in a grid, each with its legend, under ``title`` (what, whose, which property),
    and save it to ``path`` (written whole: a temporary file renamed into place)."""
    from PIL import Image, ImageDraw, ImageFont
    from rdkit import Chem
    from rdkit.Chem import Draw

    if not smiles:
        raise ValueError("no molecule to draw")
    grid = Draw.MolsToGridImage(
        [Chem.MolFromSmiles(s) for s in smiles],
        molsPerRow=min(per_row, len(smiles)),
        subImgSize=size,
        legends=list(legends),
    ).convert("RGB")
    try:  # a scalable font (Pillow >= 10.1); without FreeType only the small bitmap font is there
        font = ImageFont.load_default(size=16)
    except (ImportError, OSError):
        font = ImageFont.load_default()
    header = 34
    page = Image.new("RGB", (grid.width, grid.height + header), "white")
    page.paste(grid, (0, header))
    ImageDraw.Draw(page).text((8, 8), title, fill="black", font=font)
    with atomic_path(path) as tmp:
        page.save(tmp, format="PNG")
