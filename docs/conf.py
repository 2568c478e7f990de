"""Sphinx configuration for the pyramid_tracing documentation (MyST markdown, furo, autodoc)."""

from __future__ import annotations

import sys
from importlib.metadata import version as _version
from pathlib import Path

# Document the working tree, not an older installed copy.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

project = "pyramid_tracing"
author = "The pyramid_tracing authors"
copyright = "the pyramid_tracing authors"
release = _version("pyramid_tracing")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: ``[text](page.md#a-heading)`` links to headings, ``:::`` fenced directives.
myst_heading_anchors = 3
myst_enable_extensions = ["attrs_block", "colon_fence", "deflist"]

# autodoc + napoleon: Google-style docstrings (Args:/Returns:/Raises:).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types only where the docstring describes the parameter or the return value.
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# No sphinx.ext.intersphinx on purpose: the build must work offline (tests/test_docs.py runs
# it in make test), so no inventory is fetched; references to other projects stay plain text.

html_theme = "furo"
html_title = f"pyramid_tracing {release}"
# Tables that wrap and sample messages that are not cut (docs/_static/custom.css).
html_static_path = ["_static"]
html_css_files = ["custom.css"]
