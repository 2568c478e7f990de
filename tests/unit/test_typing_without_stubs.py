"""request_tracing() is typed for an app that has no stubs for Pyramid or opentracing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_request_tracing_members_keep_their_types_without_third_party_stubs() -> None:
    """mypy --strict, every installed package hidden, accepts the typing test's assert_types."""
    pytest.importorskip("mypy")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-site-packages",  # no opentracing, Pyramid, stubs: all of them are Any
            "--ignore-missing-imports",
            "--allow-subclassing-any",
            "--allow-untyped-decorators",
            "--no-warn-return-any",
            "--no-incremental",
            "--follow-imports=silent",  # the package as a user sees it: its own errors aside
            "--config-file=",
            "tests/typing/check_request_tracing.py",
        ],
        cwd=ROOT,
        env={"MYPYPATH": str(ROOT / "src"), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout
