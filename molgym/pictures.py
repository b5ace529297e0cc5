"""Pictures of molecules: a titled grid, as ``molgym rollout``, ``compare`` and ``sample`` write them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["molecule_grid"]


def molecule_grid(smiles: Sequence[str], legends: Sequence[str], title: str, path: str | Path,
                  per_row: int = 4, size: tuple[int, int] = (250, 200)) -> None:
    """Draw ``smiles`` in a grid, each with its legend, under ``title`` (what, whose, which property),
    and save it to ``path`` (written whole: a temporary file renamed into place)."""
    from PIL import Image, ImageDraw
    from rdkit import Chem
    from rdkit.Chem import Draw

    if not smiles:
        raise ValueError("no molecule to draw")
    grid = Draw.MolsToGridImage([Chem.MolFromSmiles(s) for s in smiles], molsPerRow=min(per_row, len(smiles)),
                                subImgSize=size, legends=list(legends)).convert("RGB")
    header = 28
    page = Image.new("RGB", (grid.width, grid.height + header), "white")
    page.paste(grid, (0, header))
    ImageDraw.Draw(page).text((8, 8), title, fill="black")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    page.save(tmp, format="PNG")
    tmp.replace(path)
