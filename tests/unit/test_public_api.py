"""The public surface: what `pyramid_tracing` exports, and that all of it is documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types

import pytest

import pyramid_tracing
import pyramid_tracing.typing

# The names the issues promise (pyramid_opentracing's included): removing one breaks users.
PROMISED = {
    "ContextExecutor",
    "PyramidTracer",
    "PyramidTracing",
    "RequestTracing",
    "ScopeManager",
    "Tracing",
    "TracingSettings",
    "context_propagating",
    "current_tracing",
    "get_tracing",
    "includeme",
    "opentracing_tween_factory",
    "traced",
    "traced_httpx_async_client",
    "traced_httpx_client",
    "traced_requests_session",
    "tracing_tween_factory",
    "transaction_tween_factory",
}

MODULES = sorted(
    f"pyramid_tracing.{module.name}" for module in pkgutil.iter_modules(pyramid_tracing.__path__)
)


def _exported(module: types.ModuleType) -> set[str]:
    """The public names a module binds, submodules excepted."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def _public_callables(obj: object) -> list[tuple[str, object]]:
    """The public methods and properties a public class defines itself."""
    found: list[tuple[str, object]] = []
    for name, value in vars(obj).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            found.append((name, value.fget))
        elif isinstance(value, classmethod | staticmethod):
            found.append((name, value.__func__))
        elif inspect.isfunction(value):
            found.append((name, value))
    return found


def test_all_is_sorted() -> None:
    """`pyramid_tracing.__all__` is in sorted order, without duplicates."""
    assert pyramid_tracing.__all__ == sorted(set(pyramid_tracing.__all__))


def test_all_equals_the_public_names_exported() -> None:
    """Every public name the package binds is in `__all__`, and every name in it exists."""
    assert set(pyramid_tracing.__all__) == _exported(pyramid_tracing)


def test_promised_names_are_public() -> None:
    """The names documented by the issues and pyramid_opentracing are all still exported."""
    assert sorted(PROMISED - set(pyramid_tracing.__all__)) == []


def test_typing_module_all_is_sorted_and_complete() -> None:
    """`pyramid_tracing.typing.__all__` is sorted and lists exactly its Protocols and aliases."""
    module = pyramid_tracing.typing
    protocols = {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module.__name__
    }
    aliases = {
        name for name, annotation in module.__annotations__.items() if annotation == "TypeAlias"
    }
    assert module.__all__ == sorted(set(module.__all__))
    assert set(module.__all__) == protocols | aliases


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_declares_a_sorted_all(module_name: str) -> None:
    """Each module of the package has a sorted `__all__` whose names all exist."""
    module = importlib.import_module(module_name)
    names = module.__all__
    assert names == sorted(set(names))
    assert [name for name in names if not hasattr(module, name)] == []


@pytest.mark.parametrize("name", pyramid_tracing.__all__)
def test_every_public_name_has_a_docstring(name: str) -> None:
    """Each public name, and each public method or property of a public class, has a docstring."""
    obj = getattr(pyramid_tracing, name)
    assert (obj.__doc__ or "").strip(), name
    if inspect.isclass(obj):
        missing = [
            attr for attr, func in _public_callables(obj) if not (func.__doc__ or "").strip()
        ]
        assert missing == [], f"{name}: {missing}"


@pytest.mark.parametrize("name", pyramid_tracing.typing.__all__)
def test_every_typing_name_is_documented(name: str) -> None:
    """Protocols carry a docstring; aliases a `#:` comment on the line above (for autodoc)."""
    obj = getattr(pyramid_tracing.typing, name)
    if inspect.isclass(obj):
        assert (obj.__doc__ or "").strip(), name
    else:
        source = inspect.getsource(pyramid_tracing.typing)
        assert re.search(rf"^#: .+\n{name}: TypeAlias = ", source, re.MULTILINE), name
