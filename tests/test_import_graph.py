"""The package's modules import each other without a cycle, counting the imports inside functions
too: a lazy import may keep a heavy dependency off a command's start-up (``gantransfer --help`` does
not import torch), never hide a cycle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import gantransfer

PACKAGE = Path(gantransfer.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The names ``node`` may import: the module itself, and for ``from X import a`` also ``X.a``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports (anywhere in it, but under
    ``if TYPE_CHECKING:``), with the packages whose ``__init__`` each import runs; a module's own
    enclosing packages are left out (Python has already started them)."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        pending = [ast.parse(path.read_text())]
        while pending:
            for node in ast.iter_child_nodes(pending.pop()):
                if _type_checking_only(node):
                    continue
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for target in _imported(name, path.name == "__init__.py", node):
                        parts = target.split(".")
                        for depth in range(2, len(parts) + 1):
                            runs = ".".join(parts[:depth])
                            if runs in paths and runs != name and not name.startswith(runs + "."):
                                graph[name].add(runs)
                pending.append(node)
    return graph


def test_the_graph_sees_imports_inside_functions_and_packages_they_start():
    graph = import_graph()
    assert "gantransfer.cli.commands" in graph["gantransfer.cli.main"]  # top level
    assert "gantransfer.engine.distributed" in graph["gantransfer.cli.main"]  # inside main()
    assert "gantransfer.engine" in graph["gantransfer.cli.main"]  # the package that import starts


def test_no_module_imports_itself_back():
    try:
        order = list(TopologicalSorter(import_graph()).static_order())
    except CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None
    assert len(order) > 100
