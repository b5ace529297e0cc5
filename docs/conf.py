"""Sphinx configuration of molgym's documentation (Sphinx + furo + MyST, as Gymnasium's).

Why Sphinx rather than MkDocs: autodoc (with napoleon) reads the docstrings as they are written
here (Google-style sections, RST roles), furo is what Gymnasium's users already read, and MyST
keeps every page Markdown, so the pages read as well on GitHub as in the built site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (warnings are errors; the test suite
builds it the same way, offline). Pages are Markdown (MyST); the environment pages, the agents'
settings tables and the benchmark tables are generated from the registry, the docstrings and the
committed ``benchmarks/**/results.json`` by ``docs/_ext/molgym_docs.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "molgym"
author = "molgym developers"
copyright = "2026, molgym developers"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "molgym_docs"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated/agent-*"]  # included by the agent pages
html_theme = "furo"
html_title = "molgym"
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
suppress_warnings = ["myst.header"]
