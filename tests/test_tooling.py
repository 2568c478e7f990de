"""The repository passes its offline tooling checks: spelling and pyproject.toml validity."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# What codespell checks; tests/ is left out because tests spell settings wrong on purpose
# (the typo suggestions are under test). The same list is in .pre-commit-config.yaml.
SPELLCHECKED = ["src", "docs", "README.md", "pyproject.toml", "Makefile"]


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is in the dev dependency group (make install)")
    return found


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_codespell_finds_no_typos() -> None:
    """codespell, configured by [tool.codespell] in pyproject.toml, passes on the sources."""
    paths = [path for path in SPELLCHECKED if (ROOT / path).exists()]
    result = _run(_tool("codespell"), *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_codespell_would_catch_a_typo(tmp_path: Path) -> None:
    """The spelling check is live: a misspelt word in a checked file makes codespell fail."""
    sample = tmp_path / "sample.md"
    sample.write_text("The tracer recieves the span.\n", encoding="utf-8")
    result = _run(_tool("codespell"), str(sample))
    assert result.returncode != 0
    assert "recieves ==> receives" in result.stdout


def test_pyproject_is_valid() -> None:
    """validate-pyproject accepts pyproject.toml (PEP 621 metadata and known tool tables)."""
    result = _run(_tool("validate-pyproject"), "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid file: pyproject.toml" in result.stdout
