"""`make matrix`: the test suite on every Python the package claims, and on the lowest versions.

One session per interpreter (``tests-3.10`` ... ``tests-3.13``) and ``lowest``: Python 3.10 with
the lowest versions of pyramid, opentracing, attrs and the OpenTelemetry SDK that
pyproject.toml allows. Each session has its own venv under ``.nox/``. Not part of make test.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# The lower bounds of pyproject.toml (dependencies and the user-facing extras): raise them here
# when raising them there; tests/packaging checks that the two agree.
LOWEST = {
    "pyramid": "2.0",
    "opentracing": "2.4",
    "attrs": "23.1",
    "typing-extensions": "4.6",
    "opentelemetry-sdk": "1.20",
    "opentelemetry-api": "1.20",
    "opentelemetry-opentracing-shim": "0.41b0",
    "opentelemetry-exporter-otlp-proto-http": "1.20",
    "requests": "2.28",
    "httpx": "0.24",
    "sqlalchemy": "1.4.54",
    "opentelemetry-exporter-otlp-proto-grpc": "1.20",
    "opentelemetry-instrumentation": "0.41b0",
    "wrapt": "1.14",
}
# Not a bound of ours: pyramid 2.0 imports pkg_resources but does not bound setuptools, whose
# releases from 82 on no longer ship pkg_resources (pyramid 2.1 requires setuptools<82 itself).
LOWEST_EXTRA = ["setuptools<82"]
# The project with its extras; the test tools from the dev dependency group.
PROJECT = [
    "--only-final",
    "protobuf",
    "-e",
    ".[otel,requests,httpx,sqlalchemy,zero-code]",
    "--group",
    "dev",
]

nox.options.sessions = [*(f"tests-{python}" for python in PYTHONS), "lowest"]
# A fresh venv each run: a reused one keeps packages a changed group no longer lists.
nox.options.reuse_existing_virtualenvs = False

# pyenv installs each interpreter under its own directory; its shims only find the selected
# ones. Put every installed 3.x on PATH so that nox finds python3.10 ... python3.13.
_PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
if _PYENV.is_dir():
    found = sorted(str(path / "bin") for path in _PYENV.glob("3.*") if (path / "bin").is_dir())
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


def _install(session: nox.Session, *extra: str) -> None:
    # pip >= 25.1 reads dependency groups (--group).
    session.install("--upgrade", "pip>=25.1")
    session.install(*PROJECT, *extra)


def _pytest(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on one interpreter, with the newest dependencies."""
    _install(session)
    _pytest(session)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """The test suite on the lowest Python and the lowest supported dependency versions."""
    constraints = Path(session.create_tmp()) / "lowest.txt"
    pins = [f"{name}=={version}" for name, version in LOWEST.items()] + LOWEST_EXTRA
    constraints.write_text("".join(f"{pin}\n" for pin in pins))
    _install(session, "--constraint", str(constraints))
    session.run("python", "-m", "pip", "freeze", silent=False)
    _pytest(session)
