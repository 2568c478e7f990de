"""Every code block of README.md and docs/ runs as written, or is marked as a fragment.

The conventions (also in CONTRIBUTING.md), read from an HTML comment on the line before a block:

* ``python`` blocks are executed, each in a fresh namespace; ``<!-- snippet: NAME -->`` names
  one, and a block named here in ``EXERCISES`` is also driven through a real Pyramid app.
* ``ini`` blocks are parsed and their ``tracing.*`` settings checked by the add-on's parser;
  the ``myapp.tracing`` functions they name are the blocks that start ``# myapp/tracing.py``.
* ``<!-- fragment: what it leaves out -->`` marks a python or ini block that is not meant to run
  on its own; the reason is required.
* ``console`` blocks are shell sessions and ``text`` blocks are output: shown, not run; the
  extras their ``pip install`` lines name must exist, and ``<!-- output: NAME -->`` text is
  compared with what snippet NAME really prints.

Hosts that do not exist here (``payments.internal``, ``service-b``) are replaced, in the code
that runs, by a stand-in HTTP server on 127.0.0.1; the text keeps the realistic names.
"""

from __future__ import annotations

import asyncio
import atexit
import configparser
import contextlib
import http.server
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.settings import aslist
from webtest import TestApp

from pyramid_tracing import ScopeManager, get_tracing
from pyramid_tracing._settings import TracingSettings

pytest.importorskip("opentelemetry.sdk")

from pyramid_tracing import otel

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})(?P<lang>[^\n`]*)\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.M | re.S,
)
MARKER = re.compile(r"<!-- (?P<kind>snippet|fragment|output): (?P<value>.+?) -->")
# The hosts of the examples, served in the test by the stand-in.
FAKE_HOSTS = re.compile(r"http://(?:[a-z-]+\.internal|service-b)(?=[/\"])")
SHOWN = {"console", "text"}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: str
    line: int
    lang: str
    body: str
    kind: str | None
    value: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks_of(path: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of a markdown page, with the marker on the line before each."""
    text = path.read_text(encoding="utf-8") if text is None else text
    page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        indent = len(match.group("indent"))
        body = "".join(row[indent:] for row in match.group("body").splitlines(keepends=True))
        found.append(
            Block(
                page,
                line,
                match.group("lang").strip(),
                body,
                marker.group("kind") if marker else None,
                marker.group("value") if marker else None,
            )
        )
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]
PYTHON = [block for block in BLOCKS if block.lang == "python" and block.kind != "fragment"]
INI = [block for block in BLOCKS if block.lang == "ini" and block.kind != "fragment"]


def snippet(name: str) -> Block:
    """The first block named ``name``."""
    return next(block for block in BLOCKS if block.kind == "snippet" and block.value == name)


# -- the stand-in for the services the examples call ----------------------------------------


class _StandIn(http.server.BaseHTTPRequestHandler):
    """Answers every GET and POST with a small JSON document; records the request headers."""

    seen: list[dict[str, str]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append({key.lower(): value for key, value in self.headers.items()})
        body = json.dumps({"path": self.path, "price": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class StandIn:
    url: str
    seen: list[dict[str, str]]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    """An HTTP server on 127.0.0.1 that plays every host the examples call."""
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_StandIn,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandIn(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


# -- running a block -------------------------------------------------------------------------


def run_python(block: Block, standin_url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """Execute a python block as a module would run; return its namespace.

    The code is compiled under the page's name with the block's line numbers, so a traceback
    points at the page and line of the documentation.
    """
    source = FAKE_HOSTS.sub(standin_url, block.body)
    code = compile("\n" * block.line + source, block.page, "exec")
    # A registered module: Pyramid's Configurator looks up its caller's module by name.
    name = "snippet_" + re.sub(r"\W", "_", block.id)
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(code, module.__dict__)
    return module.__dict__


def tree_lines(text: str) -> list[str]:
    """Tree output without ids, offsets and durations: what must match between runs.

    What comes before the first tree (Pyramid's pkg_resources warning with setuptools >= 81)
    is left out.
    """
    start = re.search(r"^trace ", text, re.M)
    text = text[start.start() :] if start else text
    text = re.sub(r"trace [0-9a-f]{32}", "trace <id>", text)
    return [re.sub(r"\d+\.\d ms", "<ms>", line).rstrip() for line in text.splitlines()]


@pytest.fixture(autouse=True)
def _global_tracer() -> Iterator[None]:
    previous = opentracing.tracer
    yield
    opentracing.tracer = previous


def app_with(
    views: dict[str, tuple[Callable[..., Any], str]], **settings: Any
) -> tuple[TestApp, MockTracer]:
    """A traced app serving each view at its pattern, with a MockTracer.

    Without render spans (``tracing.instrument`` empty): the snippets' spans are what is checked.
    """
    tracer = MockTracer(scope_manager=ScopeManager())
    base = {"tracing.tracer": tracer, "tracing.instrument": ""}
    with Configurator(settings={**base, **settings}) as config:
        config.include("pyramid_tracing")
        for name, (view, pattern) in views.items():
            config.add_route(name, pattern)
            config.add_view(view, route_name=name, renderer="json")
        return TestApp(config.make_wsgi_app()), tracer


def children(tracer: MockTracer, server: str, count: int) -> list[str]:
    """The names of the children of the server span ``server``, once ``count`` are finished."""
    deadline = time.monotonic() + 5
    while True:
        spans = tracer.finished_spans()
        (root,) = [span for span in spans if span.operation_name == server]
        below = sorted(
            span.operation_name for span in spans if span.parent_id == root.context.span_id
        )
        if len(below) >= count or time.monotonic() > deadline:
            return below
        time.sleep(0.01)


# -- what named snippets must do when driven ------------------------------------------------


def _quickstart(ns: dict[str, Any], standin: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    app = ns["app"]
    try:
        assert TestApp(app).get("/hello/ann").json == {"greeting": "Hello, ann!"}
        err = capsys.readouterr().err
    finally:
        otel.tracer_provider(get_tracing(app.registry).tracer).shutdown()
    (shown,) = [b for b in BLOCKS if b.kind == "output" and b.value == "quickstart"][:1]
    assert [line.split("  +")[0] for line in tree_lines(err)] == [
        line.split("  +")[0] for line in tree_lines(shown.body)
    ]


def _three_lines(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    TestApp(ns["config"].make_wsgi_app()).get("/", status=404)
    assert len(ns["my_tracer"].finished_spans()) == 1


def _decorator(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    with Configurator() as config:
        config.add_route("hello", "/hello/{name}")
        config.add_view(ns["hello"], route_name="hello", renderer="json")
        app = TestApp(config.make_wsgi_app())
    assert app.get("/hello/ann").json == {"hello": "ann"}
    (span,) = ns["tracing"].tracer.finished_spans()
    assert span.tags["matchdict"] == '{"name": "ann"}'


def _traced(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    ns["load_user"](7)
    asyncio.run(ns["quote"]({}))


def _factory(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    assert isinstance(ns["create_tracer"](), MockTracer)


def _context_executor(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"upload": (ns["upload"], "/upload/{id}")})
    app.get("/upload/3")
    assert children(tracer, "upload", 1) == ["resize"]


def _context_propagating(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"upload": (ns["upload"], "/upload/{id}")})
    app.get("/upload/3")
    assert children(tracer, "upload", 2) == ["resize", "resize"]


def _asyncio(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"cart": (ns["cart"], "/cart")})
    assert len(app.get("/cart?sku=a&sku=b").json["items"]) == 2
    assert children(tracer, "cart", 2) == ["inventory.lookup"] * 2


def _requests_session(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"checkout": (ns["checkout"], "/checkout")})
    assert app.get("/checkout").json == {"charged": True}
    assert children(tracer, "checkout", 1) == ["HTTP POST"]
    assert "ot-tracer-traceid" in standin.seen[-1]


def _traced_session(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    assert ns["session"].get(f"{standin.url}/anything", timeout=5).ok


def _httpx(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"prices": (ns["prices"], "/prices")})
    assert len(app.get("/prices?sku=a&sku=b").json["prices"]) == 2
    assert children(tracer, "prices", 2) == ["HTTP GET"] * 2


def _other_client(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with({"checkout": (ns["checkout"], "/checkout")})
    assert app.get("/checkout").json == {"status": 200}
    assert children(tracer, "checkout", 1) == ["payments.charge"]
    assert "ot-tracer-traceid" in standin.seen[-1]


def _memory(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    otel.tracer_provider(get_tracing(ns["app"].registry).tracer).shutdown()
    assert list(ns["spans"]) == []


def _otel_view(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    from opentelemetry import trace

    from tests.helpers.otel_globals import reset_otel_globals

    # The app's provider is the global one, as it is in a process that builds one app.
    provider = otel.tracer_provider(get_tracing(ns["app"].registry).tracer)
    reset_otel_globals()
    trace.set_tracer_provider(provider)
    # The caller's baggage, as the W3C header carries it.
    answer = TestApp(ns["app"]).get("/orders/7", headers={"baggage": "tenant=acme"}).json
    assert answer == {"id": "7", "tenant": "acme"}
    spans = otel.memory_exporter(get_tracing(ns["app"].registry).tracer).get_finished_spans()
    by_name = {span.name: span for span in spans}
    server = by_name["GET /orders/{id}"]
    assert server.attributes is not None
    assert server.attributes["order.id"] == "7"
    assert by_name["load order"].parent is not None
    assert by_name["load order"].parent.span_id == server.context.span_id


def _jaeger(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    tracer = ns["create_tracer"]()
    # close() makes a tornado (asyncio) Future, which needs a current event loop in this
    # thread; an earlier asyncio.run() in the main thread leaves none set.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        assert isinstance(tracer.scope_manager, ScopeManager)
        app, _ = app_with({"home": (lambda request: {}, "/")}, **{"tracing.tracer": tracer})
        app.get("/")
        future = tracer.close()
        deadline = time.monotonic() + 5
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        channel = tracer.reporter._channel
        thread_loop = channel._thread_loop
        thread_loop._io_loop.add_callback(thread_loop._io_loop.stop)
        thread_loop._thread.join(timeout=5)
        # jaeger-client never closes its UDP socket; left to the garbage collector, its
        # ResourceWarning would fail whichever later test happens to be running.
        channel.close()
        atexit.unregister(tracer.close)  # registered by the recipe; closed above


def _cross_service(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    def fan_out_view(request: Any) -> list[int]:
        urls = [f"{standin.url}/a", f"{standin.url}/b"]
        return [reply.status_code for reply in asyncio.run(ns["fan_out"](urls))]

    views = {
        "items": (ns["items"], "/items"),
        "thread": (ns["items_in_a_thread"], "/thread"),
        "fan_out": (fan_out_view, "/fan-out"),
    }
    app, tracer = app_with(views)
    assert app.get("/items").json == {"path": "/items", "price": 1}
    assert app.get("/thread").json == {"path": "/items", "price": 1}
    assert app.get("/fan-out").json == [200, 200]
    assert children(tracer, "items", 1) == ["HTTP GET"]
    assert children(tracer, "thread", 1) == ["HTTP GET"]
    assert children(tracer, "fan_out", 2) == ["HTTP GET", "HTTP GET"]


def _tracer_object(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    TestApp(ns["config"].make_wsgi_app()).get("/", status=404)


def _span_name(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with(
        {"home": (lambda request: {}, "/")}, **{"tracing.operation_name": ns["span_name"]}
    )
    app.get("/")
    assert [span.operation_name for span in tracer.finished_spans()] == ["GET home"]


def _start_span_hook(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    app, tracer = app_with(
        {"home": (lambda request: {}, "/")}, **{"tracing.start_span_hook": ns["start_span_hook"]}
    )
    app.get("/", headers={"X-Tenant": "acme"})
    assert tracer.finished_spans()[0].tags["tenant"] == "acme"


def _finish_span_hook(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    def cached(request: Any) -> dict[str, str]:
        request.response.headers["X-Cache"] = "HIT"
        return {}

    app, tracer = app_with(
        {"home": (cached, "/")}, **{"tracing.finish_span_hook": ns["tag_outcome"]}
    )
    app.get("/")
    assert tracer.finished_spans()[0].tags["cache.hit"] is True


def _sigterm(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    """A queued span: lost to SIGTERM with neither flush; exported by the snippet or by ours."""
    script = (
        snippet("sigterm").body
        + "\nimport os, time\n"
        + "from pyramid_tracing import otel\n"
        + "tracer = otel.tracer_from_settings(**{'tracing.otel.exporter': 'console', "
        + "'tracing.otel.flush_on_sigterm': os.environ['FLUSH']})\n"
        + "if os.environ['HANDLE'] == '1':\n"
        + "    exit_on_sigterm()\n"
        + "tracer.start_span('queued').finish()\n"
        + "os.kill(os.getpid(), signal.SIGTERM)\n"
        + "time.sleep(30)\n"
    )
    results = {
        (handle, flush): subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HANDLE": handle, "FLUSH": flush},
            check=False,
        )
        for handle, flush in (("0", "false"), ("1", "false"), ("0", "true"))
    }
    assert results["0", "false"].returncode == -signal.SIGTERM
    assert '"queued"' not in results["0", "false"].stdout
    assert results["1", "false"].returncode == 0, results["1", "false"].stderr
    assert json.loads(results["1", "false"].stdout)["name"] == "queued"
    # pyramid_tracing.otel's own flush (the default): exported, then SIGTERM's default action.
    assert results["0", "true"].returncode == -signal.SIGTERM
    assert json.loads(results["0", "true"].stdout)["name"] == "queued"


def _zero_code(ns: dict[str, Any], standin: StandIn, capsys: Any) -> None:
    """What it prints; ``Configurator`` restored; on a distro's providers, a span and a metric."""
    from tests.helpers.otel_globals import global_providers

    shown = next(b for b in BLOCKS if b.kind == "output" and b.value == "zero-code")
    assert capsys.readouterr().out == shown.body
    assert not hasattr(Configurator.__init__, "__wrapped__")
    with global_providers() as (spans, reader):
        run_python(snippet("zero-code"), standin.url)
        (server,) = spans.get_finished_spans()
        assert server.name == "GET /orders/{id}"
        assert server.instrumentation_scope.name == "pyramid_tracing"
        names = [
            metric.name
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ]
        assert names == ["http.server.request.duration"]


EXERCISES: dict[str, Callable[[dict[str, Any], StandIn, Any], None]] = {
    "quickstart": _quickstart,
    "three-lines": _three_lines,
    "decorator": _decorator,
    "traced": _traced,
    "factory": _factory,
    "context-executor": _context_executor,
    "context-propagating": _context_propagating,
    "asyncio": _asyncio,
    "requests-session": _requests_session,
    "traced-session": _traced_session,
    "httpx": _httpx,
    "other-client": _other_client,
    "memory": _memory,
    "otel-view": _otel_view,
    "jaeger": _jaeger,
    "cross-service": _cross_service,
    "tracer-object": _tracer_object,
    "span-name": _span_name,
    "start-span-hook": _start_span_hook,
    "finish-span-hook": _finish_span_hook,
    "sigterm": _sigterm,
    "zero-code": _zero_code,
}


# -- the tests --------------------------------------------------------------------------------


def test_the_pages_have_blocks_of_each_kind() -> None:
    """The extraction finds the blocks: dozens of python and ini blocks across the pages."""
    assert len(PYTHON) >= 20
    assert len(INI) >= 15
    assert {block.page for block in PYTHON} >= {"README.md", "docs/quickstart.md"}


def test_every_block_is_run_checked_or_marked() -> None:
    """Each block is python, ini, console or text, or a directive; fragments say why."""
    for block in BLOCKS:
        if block.lang.startswith("{"):
            continue  # a MyST directive (toctree, eval-rst, tip), not code
        assert block.lang in {"python", "ini", *SHOWN}, f"{block.id}: language {block.lang!r}"
        if block.kind == "fragment":
            assert block.lang in {"python", "ini"}, block.id
            assert len(block.value or "") >= 20, f"{block.id}: say what the fragment leaves out"


def test_named_snippets_are_exercised_and_unique() -> None:
    """Every snippet name has an exercise; a name used twice is the same code on both pages."""
    named: dict[str, Block] = {}
    for block in BLOCKS:
        if block.kind != "snippet":
            continue
        assert block.value in EXERCISES, f"{block.id}: no exercise for {block.value!r}"
        if block.value in named:
            assert block.body == named[block.value].body, f"{block.id} differs from its twin"
        named[block.value] = block
    assert set(named) == set(EXERCISES)


@pytest.mark.parametrize("block", PYTHON, ids=[block.id for block in PYTHON])
def test_python_block_runs(
    block: Block, standin: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """The block runs as written; a named one also does what the page says when driven."""
    namespace = run_python(block, standin.url)
    if block.kind == "snippet":
        assert block.value is not None
        EXERCISES[block.value](namespace, standin, capsys)


@pytest.fixture(scope="module")
def myapp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``myapp.tracing``, made of the blocks that say they are that module."""
    root = tmp_path_factory.mktemp("myapp")
    (root / "myapp").mkdir()
    (root / "myapp" / "__init__.py").write_text("")
    parts = [block.body for block in PYTHON if block.body.startswith("# myapp/tracing.py\n")]
    (root / "myapp" / "tracing.py").write_text("\n\n".join(parts))
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == "myapp"]:
            del sys.modules[name]


def ini_settings(block: Block) -> dict[str, str]:
    """The settings of an ini block: its [app:...] section, or the bare keys it lists."""
    parser = configparser.ConfigParser()
    text = block.body
    if not re.search(r"^\[", text, re.M):
        text = "[app:main]\n" + text
    parser.read_string(text, source=block.id)
    (section,) = [name for name in parser.sections() if name.startswith("app:")]
    return dict(parser[section])


@pytest.mark.parametrize("block", INI, ids=[block.id for block in INI])
def test_ini_block_is_valid(block: Block, myapp: None) -> None:
    """The block parses as INI, and its tracing.* settings pass the add-on's parser."""
    settings = ini_settings(block)
    assert "pyramid_tracing" in aslist(settings.get("pyramid.includes", "pyramid_tracing"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # no deprecated ot.* key
        parsed = TracingSettings.from_settings(settings)
    if parsed.tracer is not None:
        with contextlib.suppress(LookupError):
            otel.tracer_provider(parsed.tracer).shutdown()


def test_code_lines_fit_the_page() -> None:
    """No line of code is wider than the 88 characters a code block shows at 1280 px."""
    wide = [
        f"{block.id}+{number}: {len(line)}"
        for block in BLOCKS
        if block.lang in {"python", "ini", "console"}
        for number, line in enumerate(block.body.splitlines(), start=1)
        if len(line) > 88
    ]
    assert wide == []


def test_install_lines_name_published_extras() -> None:
    """Every `pip install 'pyramid_tracing[...]'` line names extras the package has."""
    published = set(importlib.metadata.metadata("pyramid_tracing").get_all("Provides-Extra") or [])
    for block in BLOCKS:
        for extras in re.findall(r"pyramid_tracing\[([^\]]+)\]", block.body):
            assert set(extras.split(",")) <= published, block.id


def test_the_sample_error_messages_are_the_real_ones() -> None:
    """The two error messages the settings reference shows are what the parser says."""
    samples = [block.body.strip() for block in BLOCKS if block.page == "docs/settings.md"]
    samples = [sample for sample in samples if sample.startswith(("Invalid", "Unknown"))]
    messages = []
    for settings in ({"tracing.trace_all": "maybe"}, {"tracing.trace_al": "true"}):
        with pytest.raises(ConfigurationError) as info:
            TracingSettings.from_settings(settings)
        messages.append(str(info.value))
    assert samples[0] == messages[0]
    assert samples[1].endswith("...")
    assert messages[1].startswith(samples[1].removesuffix("..."))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_quickstart_file_serves_and_prints_its_trace(tmp_path: Path) -> None:
    """quickstart.py, run as the page says, serves /hello/ann and prints the trace on stderr."""
    block = snippet("quickstart")
    port = _free_port()
    script = tmp_path / "quickstart.py"
    script.write_text(block.body.replace("127.0.0.1:6543", f"127.0.0.1:{port}"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"Open http://127.0.0.1:{port}/hello/ann")
        deadline = time.monotonic() + 20
        while True:
            try:
                url = f"http://127.0.0.1:{port}/hello/ann"
                with urllib.request.urlopen(url, timeout=5) as reply:
                    assert json.load(reply) == {"greeting": "Hello, ann!"}
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        time.sleep(0.2)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    shown = next(b for b in BLOCKS if b.kind == "output" and b.value == "quickstart")
    assert [line.split("  +")[0] for line in tree_lines(err)] == [
        line.split("  +")[0] for line in tree_lines(shown.body)
    ]


BROKEN_PAGE = """\
Some text.

<!-- snippet: quickstart -->
```python
from pyramid_tracing import traced

app = Configurator()
```
"""


def test_a_broken_block_fails() -> None:
    """The runner is live: a block that uses a name it never defines raises NameError."""
    (block,) = blocks_of(ROOT / "broken.md", BROKEN_PAGE)
    assert (block.kind, block.value, block.line) == ("snippet", "quickstart", 4)
    with pytest.raises(NameError, match="Configurator") as info:
        run_python(block)
    # The traceback names the page and the line of the documentation (lineno is 0-based).
    assert str(info.traceback[-1].path).endswith("broken.md")
    assert info.traceback[-1].lineno + 1 == 7


def test_every_output_marker_names_a_snippet() -> None:
    """Each <!-- output: NAME --> block belongs to a snippet NAME."""
    names = {block.value for block in BLOCKS if block.kind == "snippet"}
    outputs = [block for block in BLOCKS if block.kind == "output"]
    assert outputs
    for block in outputs:
        assert block.value in names, block.id
