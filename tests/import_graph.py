"""The project's import graph, read from the source with ``ast`` (nothing is imported), and the
rules docs/architecture.md sets on it. Every import counts — module level or inside a function —
because a lazy import hides a cycle rather than removing it."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("kiosk", "drivers", "offline_queue", "billing_server", "payment_gateway",
            "benchmarks")
MAX_LINES = 500
UI_MODULES = ("kiosk.app", "kiosk.screens", "kiosk.ui")


@dataclass
class Graph:
    files: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, set[str]] = field(default_factory=dict)
    # every imported name, project or not (for the Kivy rule), per module
    raw: dict[str, set[str]] = field(default_factory=dict)


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, files: dict[str, Path]) -> str | None:
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def build(root: Path, packages: tuple[str, ...] = PACKAGES) -> Graph:
    graph = Graph()
    for package in packages:
        base = root / package
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                graph.files[_module_name(root, path)] = path
    for module, path in graph.files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        raw: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    raw.add(alias.name)
                    targets.add(_resolve(alias.name, graph.files) or "")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    here = module.split(".") if is_package else module.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    source = ".".join(here + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                raw.add(source)
                for alias in node.names:
                    # ``from pkg import submodule`` imports the submodule, not just pkg
                    full = f"{source}.{alias.name}"
                    targets.add(full if full in graph.files else _resolve(source, graph.files) or "")
        targets.discard("")
        targets.discard(module)
        graph.edges[module] = targets
        graph.raw[module] = raw
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph.files:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# (importer, imported, unless the importer is one of these) — the layer rules of
# docs/architecture.md, one line each
FORBIDDEN: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (("kiosk.flow",), ("kiosk", "drivers", "offline_queue", "billing_server"), ()),
    (("drivers",), ("kiosk", "offline_queue", "billing_server"), ()),
    (("offline_queue",), ("kiosk", "drivers", "billing_server"), ()),
    (("billing_server",), ("kiosk", "drivers", "payment_gateway"), ()),
    # the reference payment gateway is another company's system: it shares only the signing
    (("payment_gateway",), ("kiosk", "drivers", "billing_server"), ()),
    (("kiosk",), ("billing_server", "payment_gateway"), ("kiosk.cli", "kiosk.demo")),
    (("kiosk.services",), ("kiosk.ui", "kiosk.screens", "kiosk.app", "kiosk.cli", "kiosk.demo"), ()),
    # the terminal wires staff in; staff is handed what it needs of the shell
    (("kiosk.staff",), ("kiosk.services", "kiosk.ui", "kiosk.screens", "kiosk.app", "kiosk.cli",
                        "kiosk.demo"), ()),
    (("kiosk.ui", "kiosk.screens"), ("kiosk.demo", "kiosk.cli"), ()),
)
# the one module of offline_queue the reference server shares: RFC 9421 is both ends' protocol
SERVER_MAY_USE = ("offline_queue.signing",)


def layer_violations(graph: Graph) -> list[str]:
    found = []
    for module, targets in graph.edges.items():
        for target in sorted(targets):
            if _within(module, ("kiosk.flow",)) and _within(target, ("kiosk.flow",)):
                continue
            for importers, imported, exempt in FORBIDDEN:
                if (_within(module, importers) and not _within(module, exempt)
                        and _within(target, imported) and not _within(target, importers)):
                    found.append(f"{module} imports {target}")
            if (_within(module, ("billing_server", "payment_gateway"))
                    and _within(target, ("offline_queue",)) and target not in SERVER_MAY_USE):
                found.append(f"{module} imports {target}")
    return sorted(set(found))


def kivy_outside_ui(graph: Graph) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in graph.raw.items()
        if not _within(module, UI_MODULES + ("benchmarks",))
        for name in names
        if name == "kivy" or name.startswith("kivy.")
    )


def oversized(graph: Graph, limit: int = MAX_LINES) -> list[str]:
    return sorted(
        f"{module}: {count} lines"
        for module, path in graph.files.items()
        if (count := len(path.read_text("utf-8").splitlines())) > limit
    )
