"""The package's import graph: no circle, and imports inside functions only where the
app registry or a settings-free import requires them.

An import inside a function hides a circle rather than removing it: the two modules
still need each other. So the graph here counts every runtime import, at the top of a
module or inside a function (not those under ``if TYPE_CHECKING:``)."""

import ast
import sys
from pathlib import Path

import pytest

# It reads the package's source files: no Python or Django version of its own.
pytestmark = pytest.mark.main_step_only

PACKAGE = Path(__file__).resolve().parents[2] / "django_xunchen"

#: (module, function) → why it imports inside the function.
ALLOWED_INSIDE = {
    ("django_xunchen", "__getattr__"): (
        "the Django-facing API is loaded on first use, so that django_xunchen.client and "
        "the fake gateway import without settings"
    ),
    ("django_xunchen.apps", "ready"): "the checks and settings use the models: app registry",
}


def modules():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _target(module, path, node):
    if node.level == 0:
        return node.module or ""
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = here[: len(here) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(known):
    """(importer, imported, function or None) for each runtime import in the package."""
    edges = []
    for module, path in known.items():
        tree = ast.parse(path.read_text())
        skipped = {
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for inner in ast.walk(block)
        }
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom | ast.Import) or id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = _target(module, path, node)
                targets = [f"{base}.{a.name}" for a in node.names] if base else []
                targets = [t if t in known else base for t in targets]
            inside = next((f.name for f in functions if any(node is n for n in ast.walk(f))), None)
            for target in targets:
                while target and target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in known and target != module:
                    edges.append((module, target, inside))
    return edges


def cycles(graph):
    """Every elementary circle, each once (from its smallest module)."""
    found = []

    def walk(start, node, path):
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.append([*path, start])
            elif nxt > start and nxt not in path:
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def test_no_import_circle_in_the_package():
    known = modules()
    graph = {}
    for importer, imported, _inside in imports(known):
        graph.setdefault(importer, set()).add(imported)
    assert cycles(graph) == []


def test_imports_inside_functions_only_where_the_app_registry_requires_them():
    inside = {(m, f) for m, _t, f in imports(modules()) if f is not None}
    assert inside <= set(ALLOWED_INSIDE), sorted(inside - set(ALLOWED_INSIDE))


def test_dispatch_imports_none_of_what_sends_through_it():
    senders = {
        "django_xunchen.sending",
        "django_xunchen.tasks",
        "django_xunchen.campaigns",
        "django_xunchen.polling",
        "django_xunchen.verification",
        "django_xunchen.api",
    }
    known = modules()
    graph = {}
    for importer, imported, _ in imports(known):
        graph.setdefault(importer, set()).add(imported)
    reached, todo = set(), ["django_xunchen.dispatch"]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    assert reached & senders == set()


def test_the_graph_sees_a_circle_and_an_import_inside_a_function(tmp_path, monkeypatch):
    """The gate fails when what it checks is there."""
    package = tmp_path / "django_xunchen"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    known = modules()
    edges = imports(known)
    assert ("django_xunchen.b", "django_xunchen.a", "f") in edges
    graph = {}
    for importer, imported, _ in edges:
        graph.setdefault(importer, set()).add(imported)
    assert cycles(graph) == [["django_xunchen.a", "django_xunchen.b", "django_xunchen.a"]]
