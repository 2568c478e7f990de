"""The repository passes its offline tooling checks: spelling, pyproject.toml, file hygiene.

pre-commit runs the same checks from the same venv (.pre-commit-config.yaml, local hooks only).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def _tracked_files() -> list[Path]:
    result = _run("git", "ls-files", "-z")
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in result.stdout.split("\0") if name and (ROOT / name).is_file()]


def test_text_files_have_no_trailing_whitespace_and_one_final_newline() -> None:
    """What pre-commit's trailing-whitespace and end-of-file-fixer hooks enforce, checked here."""
    offenders = []
    for path in _tracked_files():
        data = path.read_bytes()
        if not data or b"\0" in data:
            continue
        name = str(path.relative_to(ROOT))
        if not data.endswith(b"\n") or data.endswith(b"\n\n"):
            offenders.append(f"{name}: end of file")
        for number, line in enumerate(data.split(b"\n"), start=1):
            if line.rstrip(b"\r") != line.rstrip():
                offenders.append(f"{name}:{number}: trailing whitespace")
    assert offenders == []


def test_yaml_and_toml_files_parse() -> None:
    """check-yaml and check-toml (from pre-commit-hooks) accept every tracked YAML/TOML file."""
    files = _tracked_files()
    yaml_files = [str(path) for path in files if path.suffix in {".yaml", ".yml"}]
    toml_files = [str(path) for path in files if path.suffix == ".toml"]
    assert yaml_files
    assert toml_files
    for tool, paths in (("check-yaml", yaml_files), ("check-toml", toml_files)):
        result = _run(_tool(tool), *paths)
        assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_runs_only_local_hooks_from_the_venv() -> None:
    """Every hook is a repo: local hook whose tool is in the project's venv (no git fetch)."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in hooks:
        assert hook["language"] == "system", hook["id"]
        executable = hook["entry"].split()[0]
        assert executable.startswith(".venv/bin/"), hook["id"]
        _tool(executable.removeprefix(".venv/bin/"))
    assert {hook["id"] for hook in hooks} == {
        "trailing-whitespace",
        "end-of-file-fixer",
        "check-yaml",
        "check-toml",
        "ruff-check",
        "ruff-format",
        "codespell",
        "validate-pyproject",
        "mypy",
    }
    (codespell,) = [hook for hook in hooks if hook["id"] == "codespell"]
    pattern = re.compile(codespell["files"])
    assert all(
        pattern.match(f"{path}/" if (ROOT / path).is_dir() else path) for path in SPELLCHECKED
    )
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for command in ("ruff check .", "ruff format --check .", "mypy"):
        assert f"$(BIN)/{command}" in makefile
