"""Child spans follow ``tracing.semconv`` too: SQL statements and errors of @traced functions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

import sqlalchemy
from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import text
from webtest import TestApp

from pyramid_tracing import get_tracing, otel, traced
from pyramid_tracing import sqlalchemy as traced_sqlalchemy
from tests.helpers.otel_globals import clean_globals

SECRET = "s3cr3t-parameter"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    with clean_globals(traced_sqlalchemy.uninstrument):
        yield


@traced
def risky() -> None:
    raise LookupError("no such row")


def app_for(engine: sqlalchemy.engine.Engine, semconv: str) -> TestApp:
    def view(request: Any) -> Response:
        with engine.connect() as connection:
            connection.execute(text("SELECT :value"), {"value": SECRET}).all()
        with contextlib.suppress(LookupError):
            risky()
        return Response("ok")

    settings = {
        "tracing.tracer": "pyramid_tracing.otel:tracer_from_settings",
        "tracing.otel.exporter": "memory",
        "tracing.otel.service_name": "shop",
        "tracing.instrument": "sqlalchemy",
        "tracing.semconv": semconv,
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        config.add_route("page", "/page")
        config.add_view(view, route_name="page")
        return TestApp(config.make_wsgi_app())


@pytest.mark.parametrize("semconv", ["stable", "both", "opentracing"])
def test_sql_and_traced_spans_use_the_configured_vocabulary(tmp_path: Path, semconv: str) -> None:
    """stable: db.system.name, db.query.text, an exception event; opentracing: db.*, a log."""
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    app = app_for(engine, semconv)
    app.get("/page")
    tracer = get_tracing(app.app.registry).tracer
    spans = {span.name: span for span in otel.memory_exporter(tracer).get_finished_spans()}
    otel.tracer_provider(tracer).shutdown()
    engine.dispose()
    sql = dict(spans["SELECT"].attributes or {})
    failed = spans["risky"]
    assert SECRET not in repr(sql)
    if semconv == "opentracing":
        assert sql["db.statement"] == "SELECT ?"
        assert "db.query.text" not in sql
    else:
        assert sql["db.system.name"] == "sqlite"
        assert sql["db.query.text"] == "SELECT ?"
        assert sql["db.namespace"].endswith("shop.db")
        assert ("db.statement" in sql) is (semconv == "both")
        (event,) = [event for event in failed.events if event.name == "exception"]
        assert (event.attributes or {})["exception.type"] == "LookupError"
        assert failed.status.status_code.name == "ERROR"
        assert failed.status.description == "no such row"
        assert (failed.attributes or {})["error.type"] == "LookupError"
    if semconv != "stable":
        assert any(event.name == "error" for event in failed.events)
