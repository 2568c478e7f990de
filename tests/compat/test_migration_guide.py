"""The "What you will see differently" box of docs/migrating.md, claim by claim.

A pyramid_opentracing 1.0 application written as its README says (an INI file with the ``ot.*``
keys and ``pyramid.includes``, a module importing ``PyramidTracing``, pyramid_tm, a view with
a renderer that tags ``registry.settings["ot.tracing"].get_span(request)``) is run in a fresh
interpreter with pyramid_opentracing 1.0.0 itself, then changed as the guide says (the import
name and the ``pyramid.includes`` line, nothing else) and run with pyramid_tracing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import opentracing
import pytest
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_tracing import PyramidTracing, Tracing
from pyramid_tracing._config import setup_tracing
from tests.compat import migration_helpers

OLD_MODULE = '''\
"""A pyramid_opentracing 1.0 application, set up as its README says."""

from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid_opentracing import PyramidTracing

tracer = MockTracer()


def create_tracing(**settings):
    return PyramidTracing(tracer)


def start_span_cb(span, request):
    span.set_tag("customer", "acme")


def order(request):
    tracing = request.registry.settings["ot.tracing"]
    tracing.get_span(request).set_tag("order.id", request.matchdict["id"])
    return {"id": request.matchdict["id"]}


def main(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.add_route("order", "/orders/{id}")
        config.add_view(order, route_name="order", renderer="json")
        return config.make_wsgi_app()
'''

OLD_INI = """\
[app:main]
use = call:oldapp:main
ot.trace_all = true
ot.start_span_cb = oldapp.start_span_cb
ot.traced_attributes =
    host
    method
ot.tracing_callable = oldapp.create_tracing
pyramid.includes =
    pyramid_opentracing
    pyramid_tm
"""

# Serves one request and prints what the box speaks of, as JSON on the last line.
RUN = """\
import json, sys
from pyramid.paster import get_app
from webtest import TestApp
import oldapp

app = get_app(sys.argv[1])
TestApp(app).get("/orders/42")
tracing = app.registry.settings["ot.tracing"]
names = ("tracer", "get_span", "trace", "_apply_tracing", "_finish_tracing")
print(json.dumps({
    "spans": sorted(span.operation_name for span in oldapp.tracer.finished_spans()),
    "tagged": [span.operation_name for span in oldapp.tracer.finished_spans()
               if span.tags.get("order.id") == "42" and span.tags.get("customer") == "acme"],
    "class": type(tracing).__module__ + "." + type(tracing).__qualname__,
    "isinstance": isinstance(tracing, oldapp.PyramidTracing),
    "methods": [name for name in names if callable(getattr(tracing, name, None))
                or name == "tracer" and hasattr(tracing, name)],
}))
"""

WARNING_LINE = re.compile(r"^(?P<file>\S+):\d+: (?P<category>\w+): (?P<message>.*)$", re.M)
SCOPE_WARNING = (
    "UserWarning: The tracer <opentracing.mocktracer.tracer.MockTracer object at 0x…> uses a "
    "thread-local scope manager: the active span will not follow asyncio tasks or copied "
    "contexts. Create the tracer with scope_manager=pyramid_tracing.ScopeManager()."
)
KEY_WARNINGS = [
    "DeprecationWarning: The setting 'ot.trace_all' is deprecated: use 'tracing.trace_all' "
    "instead.",
    "DeprecationWarning: The setting 'ot.traced_attributes' is deprecated: use "
    "'tracing.traced_attributes' instead.",
    "DeprecationWarning: The setting 'ot.start_span_cb' is deprecated: use "
    "'tracing.start_span_hook' instead.",
    "DeprecationWarning: The setting 'ot.tracing_callable' is deprecated: use 'tracing.tracer' "
    "instead.",
]


def guide(text: str) -> str:
    """The migration as the guide gives it: the import name and the pyramid.includes line."""
    return text.replace("from pyramid_opentracing import", "from pyramid_tracing import").replace(
        "    pyramid_opentracing\n", "    pyramid_tracing\n"
    )


def run(tmp_path: Path, module: str, ini: str, *flags: str) -> tuple[dict[str, Any], list[str]]:
    """Run the app in a fresh interpreter; return its report and the warnings it printed.

    Python's warning filters are the default ones (what ``pserve`` or gunicorn print) unless
    ``flags`` add ``-W`` options. Warnings of other packages (webob's use of ``cgi``) are left
    out; addresses become ``0x…``.
    """
    (tmp_path / "oldapp.py").write_text(module)
    (tmp_path / "app.ini").write_text(ini)
    (tmp_path / "run.py").write_text(RUN)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, *flags, "run.py", "app.ini"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [
        re.sub(r"0x[0-9a-f]+", "0x…", f"{match['category']}: {match['message']}")
        for match in WARNING_LINE.finditer(result.stderr)
        if f"{os.sep}webob{os.sep}" not in match["file"]
    ]
    return json.loads(result.stdout.splitlines()[-1]), printed


def test_the_guide_changes_two_lines_only() -> None:
    """The migrated app differs from the old one in the import and the pyramid.includes line."""
    changed = [
        line
        for text in (OLD_MODULE, OLD_INI)
        for line in difflib.unified_diff(text.splitlines(), guide(text).splitlines(), n=0)
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]
    assert changed == [
        "-from pyramid_opentracing import PyramidTracing",
        "+from pyramid_tracing import PyramidTracing",
        "-    pyramid_opentracing",
        "+    pyramid_tracing",
    ]


def test_pyramid_opentracing_made_one_span(tmp_path: Path) -> None:
    """Under pyramid_opentracing 1.0 the request is one span, named by its method, unwarned."""
    report, printed = run(tmp_path, OLD_MODULE, OLD_INI, "-W", "default::DeprecationWarning")
    assert report == {
        "spans": ["GET"],
        "tagged": ["GET"],
        "class": "pyramid_opentracing.tracing.PyramidTracing",
        "isinstance": True,
        "methods": ["tracer", "get_span", "trace", "_apply_tracing", "_finish_tracing"],
    }
    assert printed == []


def test_migrated_app_has_child_spans_and_a_pyramid_tracing(tmp_path: Path) -> None:
    """Migrated: render and commit child spans by default, ot.tracing still a PyramidTracing.

    Under Python's default filters only the thread-local scope manager warning is printed.
    """
    report, printed = run(tmp_path, guide(OLD_MODULE), guide(OLD_INI))
    assert report == {
        "spans": ["order", "render json", "transaction commit"],
        "tagged": ["order"],
        "class": "pyramid_tracing._compat.PyramidTracing",
        "isinstance": True,
        "methods": ["tracer", "get_span", "trace", "_apply_tracing", "_finish_tracing"],
    }
    assert printed == [SCOPE_WARNING]


def test_empty_instrument_gives_one_span_again(tmp_path: Path) -> None:
    """With ``tracing.instrument =`` (empty) added, the request is one span again."""
    report, _ = run(tmp_path, guide(OLD_MODULE), guide(OLD_INI) + "tracing.instrument =\n")
    assert report["spans"] == ["order"]


def test_deprecation_warnings_name_each_old_key(tmp_path: Path) -> None:
    """With DeprecationWarnings shown (pytest, ``-W default``), one per ``ot.*`` key, once."""
    _, printed = run(
        tmp_path, guide(OLD_MODULE), guide(OLD_INI), "-W", "default::DeprecationWarning"
    )
    assert printed == [*KEY_WARNINGS, SCOPE_WARNING]


def test_the_new_keys_and_scope_manager_silence_every_warning(tmp_path: Path) -> None:
    """Renamed keys and a tracer on pyramid_tracing's ScopeManager: nothing is printed."""
    module = guide(OLD_MODULE).replace(
        "tracer = MockTracer()\n",
        "from pyramid_tracing import ScopeManager\n\ntracer = MockTracer(ScopeManager())\n\n\n"
        "def create_tracer(**settings):\n    return tracer\n",
    )
    ini = (
        "[app:main]\n"
        "use = call:oldapp:main\n"
        "tracing.start_span_hook = oldapp.start_span_cb\n"
        "tracing.traced_attributes = host method\n"
        "tracing.tracer = oldapp.create_tracer\n"
        "pyramid.includes =\n    pyramid_tracing\n    pyramid_tm\n"
    )
    report, printed = run(tmp_path, module, ini, "-W", "default::DeprecationWarning")
    assert report["tagged"] == ["order"]
    assert printed == []


def _hello(request: Any) -> Response:
    return Response("hello")


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"ot.tracing": "ready"}, id="ot.tracing"),
        pytest.param(
            {"ot.tracing_callable": "tests.compat.migration_helpers.create_tracing"},
            id="ot.tracing_callable",
        ),
        pytest.param(
            {"ot.tracer_callable": "tests.compat.migration_helpers.base_tracer_func"},
            id="ot.tracer_callable",
        ),
        pytest.param({"ot.base_tracer": "tracer"}, id="ot.base_tracer"),
        pytest.param({"ot.trace_all": "true"}, id="global tracer"),
        pytest.param({"tracing.tracer": "tracer"}, id="tracing.tracer"),
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ot_tracing_is_a_pyramid_tracing_whatever_the_setup(
    settings: dict[str, str], tracer: MockTracer
) -> None:
    """``registry.settings['ot.tracing']`` is a PyramidTracing (and a Tracing) in every setup."""
    migration_helpers.TRACER = tracer
    opentracing.tracer = tracer
    values = {"ready": PyramidTracing(tracer), "tracer": tracer}
    with Configurator() as config:
        config.add_settings({key: values.get(value, value) for key, value in settings.items()})
        config.include("pyramid_tracing")
        config.add_route("hello", "/hello")
        config.add_view(_hello, route_name="hello")
        app = TestApp(config.make_wsgi_app())
    app.get("/hello")
    stored = app.app.registry.settings["ot.tracing"]
    assert type(stored) is PyramidTracing
    assert isinstance(stored, Tracing)
    assert stored.tracer is tracer
    assert app.app.registry.settings["ot.tracer"] is stored
    assert [span.operation_name for span in tracer.finished_spans()] == ["hello"]


def test_a_ready_pyramid_tracing_is_replaced_once(tracer: MockTracer) -> None:
    """``ot.tracing = PyramidTracing(tracer)`` warns once; the stored object is not made again."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Configurator() as config:
            config.add_settings({"ot.tracing": PyramidTracing(tracer)})
            config.include("pyramid_tracing")
            app = config.make_wsgi_app()
    assert [str(warning.message) for warning in caught] == [
        "The setting 'ot.tracing' is deprecated: use 'tracing.tracer' with the tracer."
    ]
    assert setup_tracing(app.registry) is app.registry.settings["ot.tracing"]
