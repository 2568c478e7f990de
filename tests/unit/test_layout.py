"""The package's layout: no import cycle between its modules, no core module too long, and no
private name of another library imported."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "pyramid_tracing"
# The public integrations and the compatibility shims are not "the core" of the size rule.
OUTSIDE_THE_CORE = frozenset({"httpx", "requests", "sqlalchemy", "logging", "typing"})
MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at any depth: TYPE_CHECKING blocks
    and imports inside functions included.
    """
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("pyramid_tracing"):
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pyramid_tracing"))
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (
        PACKAGE / relative / "__init__.py"
    ).is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_back() -> None:
    """No import cycle, counting TYPE_CHECKING-only and function-level imports: every module
    of the package only imports modules below it.
    """
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker above can fail: a two-module loop is reported as a path."""
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_no_core_module_is_over_350_lines() -> None:
    """Each module of the core reads in one sitting (about 350 lines at most)."""
    long = {
        _module_name(path): count
        for path in PACKAGE.rglob("*.py")
        if path.stem not in OUTSIDE_THE_CORE
        and (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _private_imports(source: str) -> list[str]:
    """What ``source`` imports of other libraries' private modules and names (``_x``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            if module.split(".")[0] == "pyramid_tracing":
                continue
            names = [alias.name for alias in node.names]
            found += [
                f"{module}.{name}"
                for name in names
                if any(
                    part.startswith("_") and not part.startswith("__")
                    for part in [*module.split("."), name]
                )
            ]
        elif isinstance(node, ast.Import):
            found += [
                alias.name
                for alias in node.names
                if any(part.startswith("_") for part in alias.name.split(".")[1:])
            ]
    return found


def test_no_private_name_of_another_library_is_imported() -> None:
    """Public APIs only: no ``from opentelemetry.x._internal import ...``, no ``_SHIM_KEY``."""
    found = {
        str(path.relative_to(PACKAGE)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if (names := _private_imports(path.read_text()))
    }
    assert found == {}


def test_the_private_import_finder_finds_them() -> None:
    source = (
        "from opentelemetry.metrics._internal import _ProxyMeterProvider\n"
        "from opentelemetry.shim.opentracing_shim import _SHIM_KEY\n"
        "import opentelemetry.util._once\n"
        "from __future__ import annotations\n"
        "from . import _state\n"
        "from pyramid_tracing._state import RequestState\n"
    )
    assert _private_imports(source) == [
        "opentelemetry.metrics._internal._ProxyMeterProvider",
        "opentelemetry.shim.opentracing_shim._SHIM_KEY",
        "opentelemetry.util._once",
    ]
