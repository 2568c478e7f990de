"""``tracing.instrument``: child spans inside requests for rendering and the transaction.

Each feature is wired once, at configuration time, and only when listed: a renderer factory
is wrapped, or a tween is kept in the chain, only for an application that asked for it. Every
span is a child of the tracer's active span (none is made outside a trace), and a tracer error
is reported through :data:`~pyramid_tracing._failures.failures`, never raised.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from opentracing.ext import tags as ext_tags
from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IRendererFactory, ITweens
from pyramid.tweens import EXCVIEW, INGRESS

from ._failures import failures
from ._tracing import Tracing, current_tracing, get_tracing
from ._tween_order import TRANSACTION_TWEEN
from .typing import Request, Response

__all__ = [
    "TRANSACTION_TWEEN",
    "finish_child",
    "include_instrumentation",
    "start_child",
    "transaction_tween_factory",
    "wrap_renderers",
]

#: The dotted name of the tween that follows pyramid_tm's transactions.
_PYRAMID_TM_TWEEN: Final = "pyramid_tm.tm_tween_factory"
_SYNCH_ATTR: Final = "_pyramid_tracing_transaction_spans"

# After every add-on's own deferred renderer setup (pyramid_jinja2 uses order 999), so that the
# renderers they register in their actions are wrapped too.
_RENDER_ACTION_ORDER: Final = 1_000_000

# transaction's Status values (plain strings on a class that is not exported); stable since
# the ZODB days, and what ITransaction.status documents.
_COMMITTING: Final = "Committing"
_COMMITTED: Final = "Committed"
_COMMIT_FAILED: Final = "Commit failed"

_TRANSACTION_TAGS: Final = {ext_tags.COMPONENT: "transaction"}
# The key of a transaction's span in its extension data (Transaction.data/set_data), shared
# by the synchronizers of every app: one span per transaction, whichever apps share a manager.
_TXN_KEY: Final = object()

Handler = Callable[[Request], Response]


def include_instrumentation(config: Any) -> None:
    """Wire ``tracing.instrument`` into ``config`` (called by ``includeme``).

    The transaction tween is always added (it returns the bare handler unless it is needed);
    the renderers are wrapped in a deferred action, once the settings and every renderer of
    the configuration are known.
    """
    config.add_tween(TRANSACTION_TWEEN, under=(_PYRAMID_TM_TWEEN, INGRESS), over=EXCVIEW)
    registry = config.registry
    config.action(
        ("pyramid_tracing", "instrument"),
        _setup,
        args=(registry,),
        order=_RENDER_ACTION_ORDER,
    )


def _setup(registry: Any) -> None:
    tracing = get_tracing(registry)
    instrument = tracing.settings.instrument
    if "render" in instrument:
        wrap_renderers(registry, tracing)
    if "sqlalchemy" in instrument:
        try:
            from . import sqlalchemy
        except ImportError as exc:
            msg = (
                f"Invalid value for setting 'tracing.instrument': {instrument!r}. 'sqlalchemy' "
                f"needs SQLAlchemy ({exc}): install 'pyramid_tracing[sqlalchemy]'."
            )
            raise ConfigurationError(msg) from exc
        sqlalchemy.instrument()


def start_child(tracing: Tracing, name: str, tags: Mapping[str, object]) -> Any:
    """Start and activate a child of the active span; ``None`` outside a trace.

    A tracer that fails is reported and ``None`` returned: the caller goes on without a span.
    """
    try:
        return tracing._backend.start_child(name, tags, active=True, root=False)
    except Exception as exc:
        failures.report(f"starting the {name!r} span", exc)
        return None


def finish_child(tracing: Tracing, scope: Any, exception: BaseException | None = None) -> None:
    """Mark ``scope``'s span failed with ``exception`` (if any) and close it; never raises."""
    if exception is not None:
        backend = tracing._backend
        try:
            if backend.recording(scope):  # an unsampled span would drop the error's log
                backend.record_error(scope, exception)
        except Exception as exc:
            failures.report("tagging an instrumentation span with its error", exc)
    try:
        scope.close()
    except Exception as exc:
        failures.report("finishing an instrumentation span", exc)


# -- render -----------------------------------------------------------------------------------


def wrap_renderers(registry: Any, tracing: Tracing) -> None:
    """Wrap every registered renderer factory so that each render is a child span."""
    for name, factory in list(registry.getUtilitiesFor(IRendererFactory)):
        if not isinstance(factory, _TracedRendererFactory):
            traced = _TracedRendererFactory(factory, name, tracing)
            registry.registerUtility(traced, IRendererFactory, name=name)


class _TracedRendererFactory:
    """A renderer factory whose renderers trace each call.

    Pyramid calls the factory once per render (each view render clones its RendererHelper),
    so this wrapper only pairs the renderer with precomputed names and tags.
    """

    __slots__ = ("_factory", "_kind", "_operation", "_tracing")

    def __init__(self, factory: Callable[[Any], Any], name: str, tracing: Tracing) -> None:
        self._factory = factory
        self._tracing = tracing
        self._kind = name.lstrip(".") or "default"
        self._operation = f"render {self._kind}"

    def __call__(self, info: Any) -> _TracedRenderer:
        tags: dict[str, object] = {ext_tags.COMPONENT: "pyramid", "pyramid.renderer": self._kind}
        template = getattr(info, "name", None)
        if isinstance(template, str) and template and template != getattr(info, "type", None):
            tags["pyramid.template"] = self._tracing.policy.truncate(template)
        return _TracedRenderer(self._factory(info), self._operation, tags, self._tracing)

    def __repr__(self) -> str:
        return f"<traced renderer factory {self._factory!r}>"

    def __getattr__(self, name: str) -> Any:
        # The factory's own attributes (pyramid_jinja2's factory.environment) stay reachable.
        return getattr(object.__getattribute__(self, "_factory"), name)


class _TracedRenderer:
    """A renderer called inside a child span; every other attribute is the renderer's own.

    The delegation keeps add-on APIs working, such as ``get_renderer(...).implementation()``
    (pyramid_chameleon's macros).
    """

    __slots__ = ("_operation", "_renderer", "_tags", "_tracing")

    def __init__(
        self, renderer: Any, operation: str, tags: Mapping[str, object], tracing: Tracing
    ) -> None:
        self._renderer = renderer
        self._operation = operation
        self._tags = tags
        self._tracing = tracing

    def __call__(self, value: Any, system: Any) -> Any:
        tracing = current_tracing() or self._tracing
        scope = start_child(tracing, self._operation, self._tags)
        if scope is None:
            return self._renderer(value, system)
        try:
            result = self._renderer(value, system)
        except BaseException as exc:
            finish_child(tracing, scope, exc)
            raise
        finish_child(tracing, scope)
        return result

    def __getattr__(self, name: str) -> Any:
        # object.__getattribute__: a missing slot raises AttributeError, never recurses.
        return getattr(object.__getattribute__(self, "_renderer"), name)


# -- transaction ------------------------------------------------------------------------------


class _TransactionSpans:
    """A ``transaction`` synchronizer: one child span per commit or abort.

    A synchronizer rather than commit hooks: one registration on the manager covers every
    transaction it runs (also those a view commits itself), ``beforeCompletion`` and
    ``afterCompletion`` bracket both a commit (its resource managers' flush and COMMIT) and an
    abort, and a failed commit calls ``afterCompletion`` inside its ``except`` clause, where the
    error is at hand. Commit hooks would take four registrations per transaction, and the
    after-commit hook only learns a boolean.
    """

    __slots__ = ("__weakref__", "_tracing")

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    def newTransaction(self, txn: Any) -> None:
        """Nothing to do when a transaction begins."""

    def beforeCompletion(self, txn: Any) -> None:
        """Start the span of the commit or abort about to run."""
        if txn.status == _COMMIT_FAILED:
            # The abort that follows a failed commit: the commit's span already tells it.
            return
        tracing = current_tracing() or self._tracing
        if "transaction" not in tracing.settings.instrument:
            return
        if tracing._backend.active_recorded() is None:
            return  # outside a trace, or in a dropped one: no span to start
        try:
            txn.data(_TXN_KEY)
        except KeyError:
            pass
        else:
            # Another app's synchronizer on the same (thread's) manager took this one.
            return
        # Named when it ends: whether this is a commit or an abort is not known yet.
        scope = start_child(tracing, "transaction", _TRANSACTION_TAGS)
        if scope is not None:
            txn.set_data(_TXN_KEY, (scope, tracing))

    def afterCompletion(self, txn: Any) -> None:
        """Name the span after what happened, record a failed commit's error, finish it."""
        try:
            found = txn.data(_TXN_KEY)
        except KeyError:
            return
        if found is None:
            return
        txn.set_data(_TXN_KEY, None)
        scope, tracing = found
        status = txn.status
        # A commit that fails calls this before its status becomes "Commit failed".
        failed = status in (_COMMITTING, _COMMIT_FAILED)
        name = "transaction commit" if failed or status == _COMMITTED else "transaction abort"
        try:
            tracing._backend.rename(scope, name)
        except Exception as exc:
            failures.report("naming the transaction span", exc)
        exception = sys.exc_info()[1] if failed else None
        finish_child(tracing, scope, exception)


def _has_pyramid_tm(registry: Any) -> bool:
    tweens = registry.queryUtility(ITweens)
    if tweens is None:
        return False
    chain = tweens.explicit or tweens.implicit()
    return any(name == _PYRAMID_TM_TWEEN for name, _ in chain)


def transaction_tween_factory(handler: Handler, registry: Any) -> Handler:
    """The tween under pyramid_tm's that follows the request's transaction.

    ``config.include('pyramid_tracing')`` places it; an explicit ``pyramid.tweens`` list names
    it ``pyramid_tracing.transaction_tween_factory``, right under
    ``pyramid_tm.tm_tween_factory``. It is ``handler`` itself (no cost per request) unless
    ``tracing.instrument`` lists ``transaction`` and pyramid_tm's tween is in the chain.

    Args:
        handler: the next tween (or Pyramid's main handler).
        registry: the application's registry.

    Returns:
        The tween, or ``handler`` when there is nothing to follow.

    .. versionadded:: 0.2.0
    """
    tracing = get_tracing(registry)
    if "transaction" not in tracing.settings.instrument or not _has_pyramid_tm(registry):
        return handler
    # Transaction managers hold synchronizers weakly: this closure keeps it alive. One per
    # registry, even if the app is made twice.
    synch = registry.__dict__.setdefault(_SYNCH_ATTR, _TransactionSpans(tracing))

    backend = tracing._backend

    def transaction_tween(request: Request) -> Response:
        manager = request.environ.get("tm.manager")
        # A dropped request (the sampler's) gets no transaction span: nothing to follow.
        if manager is not None and backend.active_recorded() is not None:
            try:
                # Per request: the default manager is per thread, tm.manager_hook may make one
                # per request. A set: registering again is a no-op.
                manager.registerSynch(synch)
            except Exception as exc:
                failures.report("registering the transaction synchronizer", exc)
        return handler(request)

    return transaction_tween
