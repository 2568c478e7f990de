"""An OpenTracing ScopeManager on :mod:`contextvars`."""

from __future__ import annotations

import contextvars
import itertools

import opentracing
from opentracing import Span

__all__ = ["ScopeManager"]

# ContextVar names only need to be unique for debugging output.
_instance_ids = itertools.count()


class ScopeManager(opentracing.ScopeManager):
    """An OpenTracing ScopeManager that keeps the active scope in a ContextVar.

    The active span follows the :mod:`contextvars` context, so it propagates to asyncio tasks,
    to ``asyncio.to_thread`` and to any thread run with a copied context
    (``contextvars.copy_context().run``), but not to a bare thread.

    Unlike :class:`opentracing.scope_managers.contextvars.ContextVarsScopeManager`:

    * every instance has its own ContextVar, so two tracers never share their active span;
    * closing a scope that is not the active one (out of order) still finishes its span when
      ``finish_on_close`` is set, and the active scope afterwards is the nearest scope of the
      chain that is still open;
    * closing a scope from another context (another task or thread) never raises.
    """

    __slots__ = ("_var",)

    def __init__(self) -> None:
        # One ContextVar per instance: two tracers must not see each other's spans.
        self._var: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
            f"pyramid_tracing.scope.{next(_instance_ids)}", default=None
        )

    def activate(self, span: Span, finish_on_close: bool) -> _Scope:
        """Make ``span`` the active span of the current context.

        Args:
            span: the span to activate.
            finish_on_close: whether closing the returned scope finishes ``span``.

        Returns:
            The scope; closing it restores the scope that was active before.
        """
        var = self._var
        scope = _Scope(self, span, finish_on_close, _nearest_open(var.get()))
        var.set(scope)
        return scope

    @property
    def active(self) -> _Scope | None:
        """The active scope of the current context, or ``None``."""
        scope = self._var.get()
        if scope is None or not scope.closed:
            return scope
        # Closed from another context, so still in this context's var: skip to an open one.
        return _nearest_open(scope.parent)

    def _deactivate(self, scope: _Scope) -> None:
        var = self._var
        if var.get() is scope:
            # Not Token.reset(): a token cannot be used from another context, and a scope may
            # legitimately be closed from a task or thread other than the one that opened it.
            var.set(_nearest_open(scope.parent))


def _nearest_open(scope: _Scope | None) -> _Scope | None:
    while scope is not None and scope.closed:
        scope = scope.parent
    return scope


class _Scope(opentracing.Scope):
    """A scope that remembers the scope that was active when it was opened."""

    __slots__ = ("_finish_on_close", "_owner", "closed", "parent")

    def __init__(
        self,
        manager: ScopeManager,
        span: Span,
        finish_on_close: bool,
        parent: _Scope | None,
    ) -> None:
        super().__init__(manager, span)
        self._owner = manager
        self._finish_on_close = finish_on_close
        self.parent = parent
        self.closed = False

    def close(self) -> None:
        """Deactivate the scope and, with ``finish_on_close``, finish its span.

        Closing twice is a no-op.
        """
        if self.closed:
            return
        self.closed = True
        # Deactivate first, so that a span whose finish() raises never stays active.
        self._owner._deactivate(self)
        if self._finish_on_close:
            self.span.finish()
