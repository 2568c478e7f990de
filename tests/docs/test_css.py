"""The layout rules of docs/_static/custom.css that were checked in headless Chromium.

At 1280 and 800 px: program output keeps its columns (the quickstart's tree once wrapped, its
last tag falling to column 0), and names in tables break only at spaces (the settings table
once showed ``ot.traced_attrib|utes``). Screenshots are not part of ``make test``; these
checks pin the rules that made them right.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
CSS = DOCS / "_static" / "custom.css"
WRAP = re.compile(r"^\{\.wrap\}\n(?P<fence>`{3,})(?P<lang>\w*)\n", re.M)


def rules() -> dict[str, dict[str, str]]:
    """The stylesheet as {selector: {property: value}}, comments removed."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    found: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = {
            name.strip(): value.strip()
            for name, value in (item.split(":", 1) for item in body.split(";") if item.strip())
        }
        for selector in selectors.split(","):
            found.setdefault(" ".join(selector.split()), {}).update(declarations)
    return found


def test_output_blocks_do_not_wrap_unless_marked() -> None:
    """A ```text block keeps its lines (12 px, so the quickstart's tree fits); only .wrap wraps."""
    css = rules()
    assert css["article div.highlight-text pre"] == {"font-size": "var(--font-size--small--3)"}
    assert css["article div.highlight-text.wrap pre"] == {
        "white-space": "pre-wrap",
        "overflow-wrap": "anywhere",
    }
    wrapping = [
        selector for selector, body in css.items() if body.get("white-space") == "pre-wrap"
    ]
    assert wrapping == ["article div.highlight-text.wrap pre"]


def test_code_in_tables_breaks_only_at_spaces() -> None:
    """Code in a table cell may wrap at its spaces but never inside a name."""
    css = rules()
    assert css["article table.docutils code.literal"] == {
        "white-space": "normal",
        "overflow-wrap": "normal",
        "word-break": "normal",
    }
    anywhere = [selector for selector, body in css.items() if "anywhere" in body.values()]
    assert anywhere == ["article div.highlight-text.wrap pre"]


def test_wrap_marks_text_blocks_and_the_extension_is_on() -> None:
    """Each ``{.wrap}`` precedes a text block; MyST's attrs_block turns it into the class."""
    texts = [page.read_text(encoding="utf-8") for page in sorted(DOCS.glob("*.md"))]
    marked = [match["lang"] for text in texts for match in WRAP.finditer(text)]
    assert len(marked) == sum(text.count("{.wrap}") for text in texts) >= 2
    assert set(marked) == {"text"}
    assert '"attrs_block"' in (DOCS / "conf.py").read_text(encoding="utf-8")
