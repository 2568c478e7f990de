"""The pyramid_opentracing client-server example, redone with pyramid_tracing.

One Pyramid app, served by waitress. The ``/client/*`` views call the ``/server/*`` views of
the same app over real HTTP, through ``request.tracing.session`` (a ``traced_requests_session``)
and, for the fan-out, through ``traced_httpx_async_client`` from three asyncio tasks at once.
Each client request becomes ONE trace: client server span -> client span(s) -> server span.

Run it::

    python examples/client_server/app.py            # listens on http://127.0.0.1:8080
    python examples/client_server/app.py --port 0   # any free port

then open ``/client/simple``, ``/client/log``, ``/client/childspan`` or ``/client/fanout``,
and ``/spans`` to see the recorded spans grouped by trace.

The tracer is OpenTracing's MockTracer, which keeps spans in memory so that ``/spans`` can show
them; pass your own tracer (Jaeger, LightStep...) to ``make_app`` instead.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from typing import Any

import opentracing
import waitress
from opentracing.mocktracer import MockTracer
from pyramid.config import Configurator

import pyramid_tracing
from pyramid_tracing import traced_httpx_async_client

# -- the server side: plain traced views -----------------------------------------------------


def server_simple(request: Any) -> dict[str, Any]:
    return {"message": "This is a simple traced request."}


def server_log(request: Any) -> dict[str, Any]:
    request.tracing.active_span.log_kv({"event": "server log", "message": "Something was logged"})
    return {"message": "Something was logged"}


def server_childspan(request: Any) -> dict[str, Any]:
    with request.tracing.start_active_span("server.child", tags={"work": "lookup"}):
        return {"message": "A child span was created"}


# -- the client side: the same calls over HTTP, traced -----------------------------------------


def _call_server(request: Any, name: str) -> dict[str, Any]:
    url = request.route_url(f"server_{name}")
    response = request.tracing.session.get(url, timeout=10)
    return {"called": url, "status": response.status_code, "server": response.json()}


def client_simple(request: Any) -> dict[str, Any]:
    return _call_server(request, "simple")


def client_log(request: Any) -> dict[str, Any]:
    return _call_server(request, "log")


def client_childspan(request: Any) -> dict[str, Any]:
    return _call_server(request, "childspan")


def client_fanout(request: Any) -> dict[str, Any]:
    """Call the server three times at once from asyncio tasks: three client spans."""
    urls = [request.route_url("server_simple", _query={"n": n}) for n in range(3)]

    async def fan_out() -> list[int]:
        async with traced_httpx_async_client(timeout=10) as client:
            responses = await asyncio.gather(*(client.get(url) for url in urls))
        return [response.status_code for response in responses]

    # The tasks copy this thread's context: each call is a child of this request's span.
    return {"called": urls, "statuses": asyncio.run(fan_out())}


# -- what was recorded -------------------------------------------------------------------------


def spans(request: Any) -> dict[str, Any]:
    """The spans recorded so far (MockTracer only), grouped by trace id."""
    tracer = request.tracing.tracer
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in getattr(tracer, "finished_spans", list)():
        traces[f"{span.context.trace_id:x}"].append(
            {
                "operation": span.operation_name,
                "span_id": f"{span.context.span_id:x}",
                "parent_id": None if span.parent_id is None else f"{span.parent_id:x}",
                "tags": {key: str(value) for key, value in span.tags.items()},
            }
        )
    return {"traces": traces}


def make_app(tracer: opentracing.Tracer | None = None) -> Any:
    """The WSGI app; ``tracer`` defaults to a MockTracer on pyramid_tracing's ScopeManager."""
    if tracer is None:
        tracer = MockTracer(scope_manager=pyramid_tracing.ScopeManager())
    settings = {
        "tracing.tracer": tracer,
        "tracing.traced_attributes": "path",
        "tracing.exclude_paths": "^/spans$",
    }
    with Configurator(settings=settings) as config:
        config.include("pyramid_tracing")
        views = [
            ("server_simple", "/server/simple", server_simple),
            ("server_log", "/server/log", server_log),
            ("server_childspan", "/server/childspan", server_childspan),
            ("client_simple", "/client/simple", client_simple),
            ("client_log", "/client/log", client_log),
            ("client_childspan", "/client/childspan", client_childspan),
            ("client_fanout", "/client/fanout", client_fanout),
            ("spans", "/spans", spans),
        ]
        for name, pattern, view in views:
            config.add_route(name, pattern)
            config.add_view(view, route_name=name, renderer="json")
        return config.make_wsgi_app()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    args = parser.parse_args(argv)
    # A client view holds one thread while the server views it calls use others: the fan-out
    # needs four at once.
    server: Any = waitress.create_server(make_app(), host=args.host, port=args.port, threads=8)
    base = f"http://{args.host}:{server.effective_port}"
    print(f"Listening on {base} (try {base}/client/simple, then {base}/spans)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
