"""The documentation builds with warnings as errors and covers the whole public surface."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from webtest import TestApp

import pyramid_tracing
import pyramid_tracing.typing
from pyramid_tracing._settings import _OLD_KEYS, OTEL_KEYS, TracingSettings

pytest.importorskip(
    "sphinx", reason="sphinx is not installed (it is in the docs dependency group)"
)
pytest.importorskip(
    "myst_parser", reason="myst-parser is not installed (it is in the docs dependency group)"
)
pytest.importorskip("furo", reason="furo is not installed (it is in the docs dependency group)")

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML documentation, built like `make docs` (warnings are errors) into a temp dir."""
    out = tmp_path_factory.mktemp("html")
    doctrees = tmp_path_factory.mktemp("doctrees")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(doctrees), str(DOCS), str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_docs_build_without_warnings(html: Path) -> None:
    """sphinx-build -W succeeds and writes every page of the table of contents."""
    pages = {path.name for path in html.glob("*.html")}
    expected = {"index", "quickstart", "settings", "cookbook", "migrating", "api"}
    expected |= {page.stem for page in DOCS.glob("*.md")}
    assert {f"{name}.html" for name in expected} <= pages


def test_every_page_is_in_the_table_of_contents(html: Path) -> None:
    """Each markdown page is reachable from the index's toctree (none is orphaned)."""
    index = (html / "index.html").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        if page.stem != "index":
            assert f'href="{page.stem}.html"' in index, page.name


def test_api_reference_documents_every_public_name(html: Path) -> None:
    """Every name of pyramid_tracing.__all__ and pyramid_tracing.typing.__all__ has an entry."""
    api = (html / "api.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(pyramid_tracing\.[\w.]+)"', api))
    expected = {f"pyramid_tracing.{name}" for name in pyramid_tracing.__all__}
    expected |= {f"pyramid_tracing.typing.{name}" for name in pyramid_tracing.typing.__all__}
    assert sorted(expected - anchors) == []


def test_settings_reference_lists_every_key() -> None:
    """Every tracing.* key the parser accepts has its own section in the settings reference."""
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    keys = {f"tracing.{field.name}" for field in TracingSettings.__attrs_attrs__}
    for key in sorted(keys):
        assert f"## `{key}`" in text, key
    for key in sorted(OTEL_KEYS):
        assert f"`{key}`\n: " in text, key


def test_every_old_key_is_mapped_in_the_settings_and_migration_pages() -> None:
    """Each pyramid_opentracing ot.* key the parser reads appears in both pages."""
    settings = (DOCS / "settings.md").read_text(encoding="utf-8")
    migrating = (DOCS / "migrating.md").read_text(encoding="utf-8")
    for old in sorted(_OLD_KEYS):
        # As a code span of its own, or opening one (`ot.trace_all = true`).
        mention = re.compile(rf"`{re.escape(old)}[` ]")
        assert mention.search(settings), old
        assert mention.search(migrating), old


def _section(text: str, heading: str) -> str:
    """The body of the markdown section under ``heading`` (up to the next heading)."""
    body = text.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#{1,3} ", body, maxsplit=1)[0]


def _code_spans(text: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", text))


def test_documented_defaults_match_the_code() -> None:
    """The defaults the settings reference states are those of TracingSettings."""
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    defaults = TracingSettings()

    def default_line(key: str) -> str:
        section = _section(text, f"## `{key}`")
        return section.split("Default:", 1)[1].split("\n\n", 1)[0]

    assert _code_spans(default_line("tracing.sensitive_headers")) == set(
        defaults.sensitive_headers
    )
    assert _code_spans(default_line("tracing.sensitive_query_params")) == set(
        defaults.sensitive_query_params
    )
    assert _code_spans(default_line("tracing.max_tag_length")) == {str(defaults.max_tag_length)}
    assert _code_spans(default_line("tracing.operation_name")) == {defaults.operation_name}
    assert _code_spans(default_line("tracing.trace_all")) == {str(defaults.trace_all).lower()}


def test_quickstart_example_produces_the_spans_it_describes() -> None:
    """The quickstart's application, with the memory exporter, records the spans it describes."""
    from pyramid_tracing import get_tracing, otel

    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    (example,) = [
        block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "serve(" in block
    ]
    example = example.replace('exporter": "tree"', 'exporter": "memory"')
    # A registered module: Pyramid's Configurator looks up its caller's module by name.
    module = types.ModuleType("quickstart_example")
    sys.modules[module.__name__] = module
    try:
        exec(compile(example, "quickstart", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    app = module.app
    TestApp(app).get("/hello/ann", extra_environ={"HTTP_HOST": "127.0.0.1:6543"})
    tracer = get_tracing(app.registry).tracer
    child, rendered, server = otel.memory_exporter(tracer).get_finished_spans()
    otel.tracer_provider(tracer).shutdown()
    names = (server.name, child.name, rendered.name)
    assert names == ("GET /hello/{name}", "build_greeting", "render json")
    assert child.parent is not None
    assert server.context is not None
    assert child.parent.span_id == server.context.span_id
    flat = " ".join(text.split())
    described = flat.split("also carries the tags", 1)[1].split("which a tracing", 1)[0]
    stated = dict(span.split("=", 1) for span in _code_spans(described) if "=" in span)
    assert {key: str(value) for key, value in (server.attributes or {}).items()} == stated


def test_readme_links_point_to_existing_files() -> None:
    """Every relative link of the README names a file or directory of the repository."""
    root = DOCS.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://)([^)#]+)", readme)
    assert targets
    assert [target for target in targets if not (root / target).exists()] == []
