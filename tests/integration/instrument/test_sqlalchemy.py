"""``tracing.instrument = sqlalchemy``: one client span per statement, for every engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import opentracing
import pytest
import sqlalchemy
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from pyramid_tracing import ScopeManager, traced
from pyramid_tracing import sqlalchemy as traced_sqlalchemy

from .conftest import Kit, Record, make_app

SQL = {"tracing.instrument": "sqlalchemy"}
metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
)
SECRET = "s3cr3t-value-never-recorded"


@pytest.fixture(autouse=True)
def _no_listeners() -> Iterator[None]:
    traced_sqlalchemy.uninstrument()
    yield
    traced_sqlalchemy.uninstrument()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sqlalchemy.engine.Engine]:
    """A sqlite file with the users table, made before any app."""
    made = create_engine(f"sqlite:///{tmp_path / 'users.db'}")
    metadata.create_all(made)
    yield made
    made.dispose()


def routes(engine: Any) -> Any:
    def query(request: Any) -> Response:
        with engine.begin() as connection:
            connection.execute(insert(users), {"name": SECRET})
            rows = connection.execute(select(users.c.name).where(users.c.name == SECRET)).all()
        return Response(str(len(rows)))

    def many(request: Any) -> Response:
        with engine.begin() as connection:
            connection.execute(insert(users), [{"name": f"n{i}"} for i in range(5)])
        return Response("ok")

    def count(request: Any) -> Response:
        number = int(request.matchdict["n"])
        with engine.connect() as connection:
            for _ in range(number):
                connection.execute(select(users.c.id).limit(1)).all()
        return Response(str(number))

    def bad(request: Any) -> Response:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT nope FROM missing")
        return Response("unreachable")

    def configure(config: Configurator) -> None:
        for name, view, pattern in (
            ("query", query, "/query"),
            ("many", many, "/many"),
            ("count", count, "/count/{n}"),
            ("bad", bad, "/bad"),
        ):
            config.add_route(name, pattern)
            config.add_view(view, route_name=name)

    return configure


def sql_spans(records: list[Record]) -> list[Record]:
    return [record for record in records if record.tags.get("component") == "sqlalchemy"]


def test_each_statement_is_a_client_span(kit: Kit, engine: Any, tmp_path: Path) -> None:
    """INSERT and SELECT each get a client span under the server span, with the db.* tags."""
    app = make_app(kit.tracer, routes(engine), SQL)
    assert app.get("/query").text == "1"
    records = kit.records()
    server = next(record for record in records if record.name == "query")
    spans = sql_spans(records)
    assert [span.name for span in spans] == ["INSERT", "SELECT"]
    insert_span, select_span = spans
    assert insert_span.tags["db.statement"] == "INSERT INTO users (name) VALUES (?)"
    assert select_span.tags["db.statement"] == (
        "SELECT users.name \nFROM users \nWHERE users.name = ?"
    )
    for span in spans:
        assert span.parent_id == server.span_id
        assert span.trace_id == server.trace_id
        assert span.tags["span.kind"] == "client"
        assert span.tags["db.type"] == "sql"
        assert span.tags["db.system"] == "sqlite"
        assert span.tags["db.instance"] == str(tmp_path / "users.db")
        assert "peer.hostname" not in span.tags
        assert "error" not in span.tags


def test_bound_parameters_are_never_recorded(kit: Kit, engine: Any) -> None:
    """No tag of any span holds a bound parameter's value."""
    make_app(kit.tracer, routes(engine), SQL).get("/query")
    for record in kit.records():
        assert not any(SECRET in str(value) for value in record.tags.values()), record


def test_an_engine_made_after_the_app_is_traced(tracer: MockTracer, tmp_path: Path) -> None:
    """Listening on the Engine class covers an engine created after the include and commit."""
    holder: dict[str, Any] = {}

    def configure(config: Configurator) -> None:
        def view(request: Any) -> Response:
            with holder["engine"].connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return Response("ok")

        config.add_route("late", "/late")
        config.add_view(view, route_name="late")

    app = make_app(tracer, configure, SQL)
    holder["engine"] = create_engine(f"sqlite:///{tmp_path / 'late.db'}")
    app.get("/late")
    holder["engine"].dispose()
    select_span, server = tracer.finished_spans()
    assert select_span.operation_name == "SELECT"
    assert select_span.tags["db.statement"] == "SELECT 1"
    assert select_span.parent_id == server.context.span_id


def test_executemany_is_one_span(tracer: MockTracer, engine: Any) -> None:
    """An INSERT of five rows in one execute() is one statement, so one span."""
    make_app(tracer, routes(engine), SQL).get("/many")
    assert [span.operation_name for span in tracer.finished_spans()] == ["INSERT", "many"]


def test_five_hundred_statements_give_five_hundred_spans(tracer: MockTracer, engine: Any) -> None:
    """Every statement is a span: 500 SELECTs in one request, 500 spans under its span."""
    make_app(tracer, routes(engine), SQL).get("/count/500")
    *statements, server = tracer.finished_spans()
    assert len(statements) == 500
    assert {span.parent_id for span in statements} == {server.context.span_id}


def test_a_failing_statement_marks_its_span_failed(kit: Kit, engine: Any) -> None:
    """A statement that raises: error tag and OperationalError log on its span; it propagates."""
    app = make_app(kit.tracer, routes(engine), SQL)
    with pytest.raises(OperationalError):
        app.get("/bad")
    [span] = sql_spans(kit.records())
    assert span.tags["db.statement"] == "SELECT nope FROM missing"
    assert span.tags["error"] is True
    assert span.errors == ["OperationalError"]


def test_the_statement_is_cut_to_max_tag_length(tracer: MockTracer, engine: Any) -> None:
    """tracing.max_tag_length cuts db.statement, ending with the truncation marker."""
    make_app(tracer, routes(engine), {**SQL, "tracing.max_tag_length": "20"}).get("/query")
    insert_span = tracer.finished_spans()[0]
    assert insert_span.tags["db.statement"] == "INSERT...[truncated]"


def test_asyncio_engine_statements_are_children_of_the_request(kit: Kit, tmp_path: Path) -> None:
    """An aiosqlite engine run from the view: its statements nest under the server span."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'async.db'}"

    async def work() -> int:
        async_engine = create_async_engine(url)
        try:
            async with async_engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
                await connection.execute(insert(users), {"name": "x"})
                result = await connection.execute(select(users.c.id))
                return len(result.all())
        finally:
            await async_engine.dispose()

    def configure(config: Configurator) -> None:
        config.add_route("aio", "/aio")
        config.add_view(lambda request: Response(str(asyncio.run(work()))), route_name="aio")

    assert make_app(kit.tracer, configure, SQL).get("/aio").text == "1"
    records = kit.records()
    server = next(record for record in records if record.name == "aio")
    spans = sql_spans(records)
    assert [span.name for span in spans][-2:] == ["INSERT", "SELECT"]
    assert {span.parent_id for span in spans} == {server.span_id}


def test_not_listed_installs_nothing_and_records_nothing(tracer: MockTracer, engine: Any) -> None:
    """With the default tracing.instrument, no listener is on Engine and no statement is a span."""
    app = make_app(tracer, routes(engine))
    assert not traced_sqlalchemy.is_instrumented()
    assert not sqlalchemy.event.contains(
        sqlalchemy.engine.Engine,
        "before_cursor_execute",
        traced_sqlalchemy._before_cursor_execute,
    )
    app.get("/query")
    assert [span.operation_name for span in tracer.finished_spans()] == ["query"]


def test_an_app_that_does_not_list_it_gets_no_spans(engine: Any) -> None:
    """Listeners installed by one app trace nothing for another app that does not list it."""
    with_sql = MockTracer(scope_manager=ScopeManager())
    without = MockTracer(scope_manager=ScopeManager())
    make_app(with_sql, routes(engine), SQL)
    assert traced_sqlalchemy.is_instrumented()
    make_app(without, routes(engine)).get("/query")
    assert [span.operation_name for span in without.finished_spans()] == ["query"]


def test_statements_outside_a_trace_get_no_span(tracer: MockTracer, engine: Any) -> None:
    """A statement with no active span (startup, a script) starts no trace of its own."""
    make_app(tracer, routes(engine), SQL)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
    assert tracer.finished_spans() == []


def test_outside_a_request_the_global_tracer_is_used(tracer: MockTracer, engine: Any) -> None:
    """In a @traced job outside any request, statements are children of the job's span."""
    traced_sqlalchemy.instrument()
    opentracing.set_global_tracer(tracer)

    @traced
    def job() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 2")

    job()
    select_span, job_span = tracer.finished_spans()
    assert select_span.tags["db.statement"] == "SELECT 2"
    assert select_span.parent_id == job_span.context.span_id


class RaisingTracer(MockTracer):
    """A real MockTracer that cannot start a span without activating it (statement spans)."""

    def start_span(self, operation_name: str | None = None, **kwargs: Any) -> Any:
        if kwargs.get("tags", {}).get("component") == "sqlalchemy":
            raise RuntimeError("tracer down")
        return super().start_span(operation_name, **kwargs)


class FinishRaisingTracer(MockTracer):
    """A real MockTracer whose statement spans raise when they finish."""

    def start_span(self, operation_name: str | None = None, **kwargs: Any) -> Any:
        span = super().start_span(operation_name, **kwargs)
        if kwargs.get("tags", {}).get("component") == "sqlalchemy":

            def finish(finish_time: float | None = None) -> None:
                raise RuntimeError("cannot finish")

            span.finish = finish
        return span


@pytest.mark.parametrize("tracer_class", [RaisingTracer, FinishRaisingTracer])
def test_a_failing_tracer_never_changes_the_query(
    tracer_class: type[MockTracer], engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracer raising as a statement span starts or finishes: same rows, the failure logged."""
    tracer = tracer_class(scope_manager=ScopeManager())
    assert make_app(tracer, routes(engine), SQL).get("/query").text == "1"
    assert "RuntimeError" in caplog.text
    assert [span.operation_name for span in tracer.finished_spans()] == ["query"]
