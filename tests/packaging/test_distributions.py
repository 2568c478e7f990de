"""The wheel and sdist users install: license, typing marker, metadata, version, extras."""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import os
import re
import sys
import tarfile
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import pyramid_tracing

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
USER_EXTRAS = [
    "httpx",
    "otel",
    "otel-grpc",
    "otel-native",
    "requests",
    "sqlalchemy",
    "zero-code",
]

build = pytest.importorskip("hatchling.build", reason="hatchling is in the dev dependency group")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel, built from the working tree by the project's build backend."""
    out = tmp_path_factory.mktemp("wheel")
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        name = build.build_wheel(str(out))
    finally:
        os.chdir(here)
    return zipfile.ZipFile(out / name)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    """The sdist, built from the working tree by the project's build backend."""
    out = tmp_path_factory.mktemp("sdist")
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        name = build.build_sdist(str(out))
    finally:
        os.chdir(here)
    return tarfile.open(out / name)


def metadata(wheel: zipfile.ZipFile) -> Message:
    (path,) = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(path).decode())


def test_the_wheel_carries_the_license_and_the_typing_marker(wheel: zipfile.ZipFile) -> None:
    """LICENSE (the full Apache-2.0 text) and py.typed are in the wheel."""
    names = wheel.namelist()
    assert "pyramid_tracing/py.typed" in names
    (license_path,) = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(license_path) == (ROOT / "LICENSE").read_bytes()
    assert metadata(wheel)["License-Expression"] == "Apache-2.0"
    assert metadata(wheel)["License-File"] == "LICENSE"


def test_the_license_is_the_full_apache_text() -> None:
    """The repository's LICENSE is the Apache License 2.0, terms and appendix included."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_the_sdist_carries_the_license_and_the_project_files(sdist: tarfile.TarFile) -> None:
    """The sdist has LICENSE, the changelog, the contributing guide and py.typed."""
    names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {"LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "src/pyramid_tracing/py.typed"}
    assert expected <= names


def test_only_the_user_facing_extras_are_published(wheel: zipfile.ZipFile) -> None:
    """Provides-Extra lists the user extras only; no development tool is a requirement."""
    message = metadata(wheel)
    assert sorted(message.get_all("Provides-Extra") or []) == USER_EXTRAS
    requirements = " ".join(message.get_all("Requires-Dist") or [])
    for tool in ("pytest", "mypy", "ruff", "sphinx", "pyramid-opentracing", "psutil", "nox"):
        assert tool not in requirements.lower()
    assert sorted(PYPROJECT["project"]["optional-dependencies"]) == USER_EXTRAS


def test_the_wheel_registers_the_zero_code_instrumentor(wheel: zipfile.ZipFile) -> None:
    """opentelemetry-instrument finds PyramidTracingInstrumentor by its entry point."""
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(name).decode()
    assert "[opentelemetry_instrumentor]" in text
    line = "pyramid_tracing = pyramid_tracing.otel.instrumentor:PyramidTracingInstrumentor"
    assert line in text


def test_development_tools_are_dependency_groups() -> None:
    """dev, bench, docs and demo are PEP 735 groups, and the Makefile installs them by name."""
    groups = PYPROJECT["dependency-groups"]
    assert {"dev", "bench", "docs", "demo"} <= set(groups)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for group in ("dev", "bench", "docs", "demo"):
        assert f"--group {group}" in makefile
    assert "pip>=25.1" in makefile


def test_version_is_one_value_everywhere(wheel: zipfile.ZipFile) -> None:
    """__version__ is a PEP 440 version; the installed and built metadata carry the same one."""
    version = pyramid_tracing.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", version)
    assert importlib.metadata.version("pyramid_tracing") == version
    assert metadata(wheel)["Version"] == version
    assert PYPROJECT["project"]["dynamic"] == ["version"]


def test_the_changelog_has_an_unreleased_section_and_the_released_version() -> None:
    """CHANGELOG.md follows Keep a Changelog: Unreleased first, then 0.1.0."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[:2] == ["Unreleased", "0.1.0"]
    assert "https://keepachangelog.com/" in text


def test_every_install_hint_is_quoted() -> None:
    """Install hints with extras are quoted, so that they work in zsh as pasted."""
    unquoted = re.compile(r"pip install (?!')[\w.-]*\[")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for folder in ("src", "docs", "demo", "examples", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in {".py", ".md", ".ini"}
        for match in unquoted.finditer(path.read_text(encoding="utf-8"))
    ]
    offenders += [match.group(0) for match in unquoted.finditer((ROOT / "README.md").read_text())]
    assert offenders == []


def _lowest_in_noxfile() -> dict[str, str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["LOWEST"]:
            value = ast.literal_eval(node.value)
            assert isinstance(value, dict)
            return value
    raise AssertionError("noxfile.py defines no LOWEST")


def test_the_lowest_session_pins_the_declared_lower_bounds() -> None:
    """noxfile.py's lowest versions are the >= bounds of the dependencies and extras."""
    declared = list(PYPROJECT["project"]["dependencies"])
    for extra in USER_EXTRAS:
        # An extra may build on another ("pyramid_tracing[otel]"): that one is checked itself.
        declared += [
            requirement
            for requirement in PYPROJECT["project"]["optional-dependencies"][extra]
            if not requirement.startswith("pyramid_tracing[")
        ]
    bounds = dict(
        re.fullmatch(r"([\w-]+)>=([\w.]+)", requirement).groups()  # type: ignore[union-attr]
        for requirement in declared
    )
    lowest = _lowest_in_noxfile()
    assert {name: lowest[name] for name in bounds} == bounds
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"
    assert 'PYTHONS = ["3.10", "3.11", "3.12", "3.13"]' in (ROOT / "noxfile.py").read_text()
