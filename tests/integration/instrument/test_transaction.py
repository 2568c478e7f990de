"""``tracing.instrument = transaction``: pyramid_tm's commit or abort as a child span."""

from __future__ import annotations

import threading
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import opentracing
import pytest
import requests
import transaction
import zope.sqlalchemy
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import Column, Integer, String, create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import declarative_base, sessionmaker
from webtest import TestApp

from pyramid_tracing import ScopeManager
from pyramid_tracing import sqlalchemy as traced_sqlalchemy
from tests.helpers.serving import serve

from .conftest import Kit, by_name

Base = declarative_base()


class Item(Base):  # type: ignore[misc, valid-type]  # declarative_base() is untyped in 1.4
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String(50), unique=True, nullable=False)


class Boom(Exception):
    """The view's own error."""


def add(request: Any) -> Response:
    request.dbsession.add(Item(name=request.matchdict["name"]))
    return Response("added")


def fail(request: Any) -> Response:
    request.dbsession.add(Item(name=request.matchdict["name"]))
    raise Boom("after adding")


def count(request: Any) -> Response:
    return Response(str(request.dbsession.query(Item).count()))


def make_database(path: Path) -> Any:
    """A sqlite file with the items table and one row, ``dup``."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(Item.__table__.insert(), {"name": "dup"})
    return engine


@pytest.fixture
def database(tmp_path: Path) -> Any:
    """:func:`make_database` in the test's directory."""
    engine = make_database(tmp_path / "items.db")
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def _no_sql_listeners() -> Iterator[None]:
    yield
    traced_sqlalchemy.uninstrument()


def build(
    tracer: opentracing.Tracer,
    engine: Any,
    settings: dict[str, Any] | None = None,
    *,
    tm_first: bool = False,
    configure: Callable[[Configurator], None] | None = None,
) -> TestApp:
    """The usual pyramid_tm + zope.sqlalchemy app (as Pyramid's cookiecutter makes it)."""
    session_factory = sessionmaker(bind=engine)

    def dbsession(request: Any) -> Any:
        session = session_factory()
        zope.sqlalchemy.register(session, transaction_manager=request.tm)
        return session

    all_settings = {"tracing.tracer": tracer, "tracing.semconv": "opentracing", **(settings or {})}
    with Configurator(settings=all_settings) as config:
        if tm_first:
            config.include("pyramid_tm")
        config.include("pyramid_tracing")
        if not tm_first:
            config.include("pyramid_tm")
        config.add_request_method(dbsession, "dbsession", reify=True)
        config.add_route("add", "/add/{name}")
        config.add_view(add, route_name="add")
        config.add_route("fail", "/fail/{name}")
        config.add_view(fail, route_name="fail")
        config.add_route("count", "/count")
        config.add_view(count, route_name="count")
        if configure is not None:
            configure(config)
        app = config.make_wsgi_app()
    return TestApp(app)


WITH_SQL = {"tracing.instrument": "transaction, sqlalchemy"}


def test_a_commit_is_a_child_span_holding_its_statements(kit: Kit, database: Any) -> None:
    """The commit is a span under the server span; the flush's INSERT is under the commit."""
    assert build(kit.tracer, database, WITH_SQL).get("/add/ann").text == "added"
    spans = by_name(kit.records())
    assert set(spans) == {"add", "transaction commit", "INSERT"}
    server, commit, insert = spans["add"], spans["transaction commit"], spans["INSERT"]
    assert commit.parent_id == server.span_id
    assert insert.parent_id == commit.span_id
    assert commit.tags["component"] == "transaction"
    assert "error" not in commit.tags
    assert "error" not in server.tags


def test_a_commit_that_fails_records_the_integrity_error(kit: Kit, database: Any) -> None:
    """A duplicate row fails the commit: its span and the request carry the IntegrityError."""
    app = build(kit.tracer, database, WITH_SQL)
    with pytest.raises(IntegrityError):
        app.get("/add/dup")
    spans = by_name(kit.records())
    assert set(spans) == {"add", "transaction commit", "INSERT"}
    commit = spans["transaction commit"]
    assert commit.tags["error"] is True
    assert commit.errors == ["IntegrityError"]
    assert spans["INSERT"].errors == ["IntegrityError"]
    assert commit.parent_id == spans["add"].span_id
    assert spans["add"].tags["error"] is True


def test_an_exception_aborts_in_a_span_of_its_own(kit: Kit, database: Any) -> None:
    """A view that raises: an abort span (not failed itself) under the failed server span."""
    app = build(kit.tracer, database, WITH_SQL)
    with pytest.raises(Boom):
        app.get("/fail/bo")
    spans = by_name(kit.records())
    assert set(spans) == {"fail", "transaction abort"}
    assert spans["transaction abort"].parent_id == spans["fail"].span_id
    assert "error" not in spans["transaction abort"].tags
    assert spans["fail"].errors == ["Boom"]


@pytest.mark.parametrize("tm_first", [True, False], ids=["tm-included-first", "tm-after"])
def test_the_server_span_covers_the_commit(database: Any, tm_first: bool) -> None:
    """Whichever add-on is included first, the server span starts before and ends after it."""
    tracer = MockTracer(scope_manager=ScopeManager())
    build(tracer, database, tm_first=tm_first).get("/add/cy")
    commit, server = tracer.finished_spans()
    assert (commit.operation_name, server.operation_name) == ("transaction commit", "add")
    assert commit.parent_id == server.context.span_id
    assert server.start_time <= commit.start_time <= commit.finish_time <= server.finish_time


def test_a_commit_in_the_view_is_traced_too(database: Any) -> None:
    """Every transaction of the manager is followed, also one the view commits itself."""
    tracer = MockTracer(scope_manager=ScopeManager())

    def configure_commit(config: Configurator) -> None:
        def view(request: Any) -> Response:
            request.dbsession.add(Item(name="early"))
            request.tm.commit()
            request.tm.begin()
            return Response("ok")

        config.add_route("early", "/early")
        config.add_view(view, route_name="early")

    app = build(tracer, database)
    configurator = Configurator(registry=app.app.registry)
    configure_commit(configurator)
    configurator.commit()
    app.get("/early")
    names = [span.operation_name for span in tracer.finished_spans()]
    assert names == ["transaction commit", "transaction commit", "early"]


def test_not_listed_means_no_span_and_no_synchronizer(database: Any) -> None:
    """Without 'transaction' in tracing.instrument, no span and no synchronizer on the manager."""
    tracer = MockTracer(scope_manager=ScopeManager())
    seen: list[bool] = []

    def add_and_look(request: Any) -> Response:
        seen.append(request.tm.registeredSynchs())
        return add(request)

    settings = {"tracing.instrument": "render", "tm.manager_hook": "pyramid_tm.explicit_manager"}
    app = build(tracer, database, settings)
    configurator = Configurator(registry=app.app.registry)
    configurator.add_route("look", "/look/{name}")
    configurator.add_view(add_and_look, route_name="look")
    configurator.commit()
    app.get("/look/dee")
    assert seen == [False]
    assert [span.operation_name for span in tracer.finished_spans()] == ["look"]


def test_listed_registers_the_synchronizer_on_a_per_request_manager(database: Any) -> None:
    """With tm.manager_hook making a manager per request, each one gets the synchronizer."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings = {"tm.manager_hook": "pyramid_tm.explicit_manager"}
    app = build(tracer, database, settings)
    app.get("/add/e1")
    app.get("/add/e2")
    names = [span.operation_name for span in tracer.finished_spans()]
    assert names == ["transaction commit", "add", "transaction commit", "add"]


class RaisingTracer(MockTracer):
    """A real MockTracer that cannot start a span named ``transaction``."""

    def start_active_span(self, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        if operation_name == "transaction":
            raise RuntimeError("tracer down")
        return super().start_active_span(operation_name, *args, **kwargs)


def test_a_failing_tracer_never_changes_the_commit(
    database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracer error at the commit is logged; the row is committed and the response unchanged."""
    tracer = RaisingTracer(scope_manager=ScopeManager())
    assert build(tracer, database).get("/add/fay").text == "added"
    with database.connect() as connection:
        names = {row[0] for row in connection.exec_driver_sql("SELECT name FROM items")}
    assert names == {"dup", "fay"}
    assert "RuntimeError" in caplog.text
    assert [span.operation_name for span in tracer.finished_spans()] == ["add"]


def test_a_transaction_outside_a_trace_gets_no_span(database: Any) -> None:
    """A commit with no active span (a script after the app served requests) makes no span."""
    tracer = MockTracer(scope_manager=ScopeManager())
    build(tracer, database).get("/add/gus")
    before = len(tracer.finished_spans())
    transaction.manager.begin()
    transaction.manager.commit()
    assert len(tracer.finished_spans()) == before


def test_concurrent_requests_each_get_their_own_spans(database: Any) -> None:
    """Under waitress with 4 threads and 8 clients, each trace holds its own SELECT and commit."""
    tracer = MockTracer(scope_manager=ScopeManager())
    app = build(tracer, database, WITH_SQL).app
    errors: list[BaseException] = []

    with serve(app, threads=4) as url:

        def client() -> None:
            try:
                with requests.Session() as session:
                    for _ in range(5):
                        assert session.get(f"{url}/count", timeout=10).text == "1"
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(timeout=30)
    assert errors == []
    traces: dict[int, list[Any]] = defaultdict(list)
    for span in tracer.finished_spans():
        traces[span.context.trace_id].append(span)
    assert len(traces) == 40
    for spans in traces.values():
        named = {span.operation_name: span for span in spans}
        assert sorted(named) == ["SELECT", "count", "transaction commit"]
        server = named["count"].context.span_id
        assert named["SELECT"].parent_id == server
        assert named["transaction commit"].parent_id == server


EXPLICIT_TWEENS = [
    "pyramid_tracing.tracing_tween_factory",
    "pyramid_tm.tm_tween_factory",
    "pyramid_tracing.transaction_tween_factory",
    "pyramid.tweens.excview_tween_factory",
]


def test_an_explicit_tween_list_with_the_tween_traces_the_commit(database: Any) -> None:
    """pyramid.tweens listing the transaction tween under pyramid_tm's: the commit is a span."""
    tracer = MockTracer(scope_manager=ScopeManager())
    settings = {
        "pyramid.tweens": "\n".join(EXPLICIT_TWEENS),
        "tm.manager_hook": "pyramid_tm.explicit_manager",
    }
    build(tracer, database, settings).get("/add/hal")
    names = [span.operation_name for span in tracer.finished_spans()]
    assert names == ["transaction commit", "add"]


def test_an_explicit_tween_list_without_it_warns(database: Any) -> None:
    """pyramid.tweens with pyramid_tm's tween but not the transaction tween warns at startup."""
    tweens = [name for name in EXPLICIT_TWEENS if "transaction" not in name]
    tracer = MockTracer(scope_manager=ScopeManager())
    # A manager per request: no synchronizer left by another test's app on this thread's one.
    settings = {"pyramid.tweens": tweens, "tm.manager_hook": "pyramid_tm.explicit_manager"}
    with pytest.warns(UserWarning, match="^pyramid.tweens lists") as records:
        app = build(tracer, database, settings)
    assert [str(r.message) for r in records if "pyramid.tweens" in str(r.message)] == [
        "pyramid.tweens lists the tweens explicitly, and spans are lost: "
        "'pyramid_tracing.transaction_tween_factory' is missing: the transaction is not traced. "
        "The order that gives every span for this app puts the tracing tween above pyramid_tm's "
        "and the exception views', and the transaction tween right under pyramid_tm's (or "
        "remove 'transaction' from tracing.instrument):\n\n"
        "pyramid.tweens =\n"
        "    pyramid_tracing.tracing_tween_factory\n"
        "    pyramid_tm.tm_tween_factory\n"
        "    pyramid_tracing.transaction_tween_factory\n"
        "    pyramid.tweens.excview_tween_factory\n"
    ]
    app.get("/add/ida")
    assert [span.operation_name for span in tracer.finished_spans()] == ["add"]


# -- an explicit tween list, as Pyramid's wiki2 tutorial app would write it --------------------


def wiki_page(request: Any) -> dict[str, str]:
    """wiki2's page view: read the pages, add one, render a Jinja2 template."""
    pages = request.dbsession.query(Item).count()
    request.dbsession.add(Item(name=request.matchdict["name"]))
    return {"name": f"{request.matchdict['name']} ({pages} before)"}


def wiki_views(config: Configurator) -> None:
    config.include("pyramid_jinja2")
    config.add_route("page", "/page/{name}")
    config.add_view(
        wiki_page, route_name="page", renderer="tests.integration.instrument:templates/item.jinja2"
    )


WIKI = {
    "tracing.instrument": "render transaction sqlalchemy",
    "tm.manager_hook": "pyramid_tm.explicit_manager",
}


def wiki_spans(tracer: MockTracer, app: TestApp, name: str) -> list[tuple[str, str | None]]:
    """Each span of one request, with its parent's name, sorted."""
    tracer.reset()
    assert app.get(f"/page/{name}").text == f"<p>{name} (1 before)</p>"
    spans = tracer.finished_spans()
    names = {span.context.span_id: span.operation_name for span in spans}
    return sorted((span.operation_name, names.get(span.parent_id)) for span in spans)


def test_the_tween_list_the_warning_gives_traces_every_span(tmp_path: Path) -> None:
    """Pasting the warning's pyramid.tweens list gives the spans of the app without a list."""
    tracer = MockTracer(scope_manager=ScopeManager())

    def fresh(name: str) -> Any:
        return make_database(tmp_path / name)

    default = wiki_spans(
        tracer, build(tracer, fresh("default.db"), WIKI, configure=wiki_views), "a"
    )
    assert default == [
        ("INSERT", "transaction commit"),
        ("SELECT", "page"),
        ("page", None),
        ("render jinja2", "page"),
        ("transaction commit", "page"),
    ]
    # wiki2's development.ini with the tweens written out, and none of ours.
    explicit = {
        **WIKI,
        "pyramid.tweens": "pyramid_tm.tm_tween_factory\npyramid.tweens.excview_tween_factory",
    }
    with pytest.warns(UserWarning, match="^pyramid.tweens lists") as records:
        build(tracer, fresh("explicit.db"), explicit, configure=wiki_views)
    (record,) = [r for r in records if "pyramid.tweens" in str(r.message)]
    assert record.filename == __file__  # the line of the app's configuration
    # The INI lines the warning ends with, pasted as they are.
    pasted = str(record.message).split("pyramid.tweens =", 1)[1]
    assert pasted == (
        "\n    pyramid_tracing.tracing_tween_factory"
        "\n    pyramid_tm.tm_tween_factory"
        "\n    pyramid_tracing.transaction_tween_factory"
        "\n    pyramid.tweens.excview_tween_factory\n"
    )
    fixed = {**WIKI, "pyramid.tweens": pasted}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = build(tracer, fresh("fixed.db"), fixed, configure=wiki_views)
    assert wiki_spans(tracer, app, "b") == default


def test_the_old_advice_under_pyramid_tm_is_caught(database: Any) -> None:
    """The tracing tween listed under pyramid_tm's (the old warning's advice) warns, by name."""
    tracer = MockTracer(scope_manager=ScopeManager())
    tweens = [
        "pyramid_tm.tm_tween_factory",
        "pyramid_tracing.transaction_tween_factory",
        "pyramid_tracing.tracing_tween_factory",
        "pyramid.tweens.excview_tween_factory",
    ]
    with pytest.warns(UserWarning, match="^pyramid.tweens lists") as records:
        build(tracer, database, {**WIKI, "pyramid.tweens": tweens})
    (record,) = [r for r in records if "pyramid.tweens" in str(r.message)]
    assert str(record.message).split(". The order")[0] == (
        "pyramid.tweens lists the tweens explicitly, and spans are lost: "
        "'pyramid_tracing.tracing_tween_factory' is under 'pyramid_tm.tm_tween_factory': the "
        "spans of the commit are lost"
    )
