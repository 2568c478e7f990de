"""A streamed response body inside the request's span: the span ends when the server closes it.

A view may return a response whose body is produced after the view returns: a generator, a
:class:`pyramid.response.FileIter`, a ``wsgi.file_wrapper`` object. The WSGI server iterates
it and then calls its ``close()`` (PEP 3333), on whatever thread it serves the request. The
server span stays open until that ``close()``:

* each chunk is produced inside the request's context copy, so that spans made while
  iterating (SQL on a cursor, an outbound call) are children of the server span, and
  ``@traced`` or the outbound helpers find the request's :class:`~pyramid_tracing.Tracing`;
* an exception raised while iterating is recorded on the server span (whose status is the one
  already sent), then propagates unchanged;
* a client that goes away (``close()`` before the body is exhausted) is not an error
  (OpenTelemetry's semantic conventions 1.41); the span says how many bytes the app produced,
  as ``http.response.body.size``;
* the finish phase (status, hooks, close) runs once, at ``close()``, also when the server
  never iterated the body or closes it twice.

A server's own ``wsgi.file_wrapper`` object is not replaced: the server recognises it by its
type to send the file without Python iterating it (waitress's buffer, gunicorn's
``sendfile``). Its ``close`` is wrapped on the instance instead, so that the span still ends
when the server is done with the file.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from ._failures import failures
from ._state import RequestState, ServerPhases
from .typing import Request, Response

__all__ = ["BODY_SIZE", "MATERIALISED", "StreamedBody", "cover_body"]

#: The body types the server span does not wait for: already produced when the view returns.
MATERIALISED: Final = (list, tuple, type(None))
#: The tag counting the bytes of a streamed body: OpenTelemetry's name (it has no OpenTracing
#: equivalent), for every ``tracing.semconv``; see :class:`StreamedBody`.
BODY_SIZE: Final = "http.response.body.size"
_END: Final[Any] = object()


class StreamedBody:
    """The WSGI iterable that produces a response body inside its request's context and span.

    Built by :func:`cover_body`, never by hand.
    """

    __slots__ = (
        "_close",
        "_counted",
        "_ctx",
        "_finished",
        "_iterable",
        "_iterator",
        "_request",
        "_response",
        "_sent",
        "_spans",
        "_state",
    )

    def __init__(
        self,
        ctx: contextvars.Context,
        spans: ServerPhases,
        state: RequestState,
        request: Request,
        response: Response,
        iterable: Iterable[bytes],
        close: Callable[[], object] | None,
        *,
        counted: bool = True,
    ) -> None:
        self._ctx = ctx
        self._spans = spans
        self._state = state
        self._request: Request | None = request
        self._response: Response | None = response
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None
        self._close: Callable[[], object] | None = close
        # The bytes produced so far; not recorded when the server sends a file itself.
        self._sent = 0
        self._counted = counted
        self._finished = False

    def __iter__(self) -> StreamedBody:
        return self

    def __next__(self) -> bytes:
        iterator = self._iterator
        try:
            if iterator is None:
                # iter() too in the context: an iterable may start its work there.
                iterator = self._iterator = self._ctx.run(iter, self._iterable)
            # A default rather than StopIteration: no exception through ctx.run at the end.
            chunk = self._ctx.run(next, iterator, _END)
        except BaseException as exc:
            self._failed(exc)
            raise
        if chunk is _END:
            raise StopIteration
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        """Close the app's iterable, then finish the server span, once."""
        if self._finished:
            return
        self._finished = True
        close = self._close
        try:
            if close is not None:
                # A generator's finally blocks (closing a cursor, say) run in the span too.
                self._ctx.run(close)
        except BaseException as exc:
            self._failed(exc)
            raise
        finally:
            self._ctx.run(self._finish)

    def _failed(self, exc: BaseException) -> None:
        self._spans.record_body(self._state, exc, None)

    def _finish(self) -> None:
        state = self._state
        request = self._request
        response = self._response
        # Dropped first: the response holds this object (its app_iter, or its file
        # wrapper's close), so the cycle is broken whatever happens below.
        self._request = self._response = self._close = None
        scope = state._scope
        if scope is None or request is None:
            return  # finished already, by cover_body's fallback
        if self._counted:
            self._spans.record_body(state, None, self._sent)
        self._spans.finish(state, request, response, None)


def cover_body(
    ctx: contextvars.Context,
    spans: ServerPhases,
    state: RequestState,
    request: Request,
    response: Response,
) -> Response:
    """Make ``response`` finish the pending server span of ``request`` when its body is closed.

    Called by whoever ran :meth:`ServerSpans.run` in ``ctx`` (the tween, the view decorator)
    when ``run`` left the span open because the body is streamed.

    Args:
        ctx: the context copy the request's span is active in.
        spans: the runner of the request's phases.
        state: the request's state, holding the open scope.
        request: the request.
        response: the response returned by the view, whose body is not a list.

    Returns:
        ``response``, with its ``app_iter`` wrapped (or its file wrapper's ``close``).
    """
    try:
        # The headers go out before the body: the finish at close() is too late for them.
        spans.trace_headers(state, response)
        # Any: the server's file wrapper is typed by nobody.
        app_iter: Any = response.app_iter
        wrapper = request.environ.get("wsgi.file_wrapper")
        # Not narrowed by mypy (to object) when tested apart from the if.
        served_by_server = isinstance(wrapper, type) and isinstance(app_iter, wrapper)
        if served_by_server:
            close = getattr(app_iter, "close", None)
            body = StreamedBody(ctx, spans, state, request, response, (), close, counted=False)
            try:
                # The server knows its own wrapper by its type (and sends the file without
                # Python): keep the object, and learn its end from its close().
                app_iter.close = body.close
                return response
            except (AttributeError, TypeError):
                pass  # a wrapper with slots: wrapped below, without the server's fast path
        # Not response.headers: WebOb builds a new view of the headers at each access.
        length = response.content_length
        response.app_iter = StreamedBody(
            ctx, spans, state, request, response, app_iter, getattr(app_iter, "close", None)
        )
        if length is not None:
            # WebOb's app_iter setter drops the Content-Length (a FileResponse has one).
            response.content_length = length
    except Exception as exc:
        failures.report("covering the response body", exc)
        ctx.run(spans.finish, state, request, response, None)
    return response
