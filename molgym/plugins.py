"""Loading user code named ``module:attribute`` (custom rewards, custom agents)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

__all__ = ["load_object"]


def load_object(spec: str, what: str) -> Any:
    """The attribute ``attribute`` of module ``module`` for ``spec = "module:attribute"``.

    Modules in the current directory are found too, as with ``python -m``. ``ValueError`` names
    ``what`` (e.g. "reward", "agent") and the problem when it cannot be loaded.
    """
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"a {what} is given as module:attribute, got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot load {what} {spec!r}: {err}") from None
