"""The package's shape, read from the code: no import circle, no import from a lower layer to a
higher one, no oversized module. Imports inside functions count (a lazy import is still a
dependency); imports under ``if TYPE_CHECKING:`` do not run and are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "prm_viewer"

# Lower number = lower layer. A module may import its own layer or lower ones, never higher.
# pages -> ui -> feature packages -> queries / store / formats / jobfolder -> model, errors, settings
LAYERS: dict[str, int] = {
    "prm_viewer": 0, "prm_viewer.errors": 0, "prm_viewer.settings": 0, "prm_viewer.model": 0,
    "prm_viewer.answers": 1, "prm_viewer.jobfolder": 1,
    "prm_viewer.formats": 2, "prm_viewer.store": 2,
    "prm_viewer.queries": 3, "prm_viewer.ingest": 3, "prm_viewer.export": 3, "prm_viewer.demo": 3,
    "prm_viewer.scoring": 4, "prm_viewer.analysis": 4, "prm_viewer.jobs": 4,
    "prm_viewer.generation": 4, "prm_viewer.experiment": 5, "prm_viewer.annotation": 4,
    "prm_viewer.ui": 6, "prm_viewer.cli": 6, "prm_viewer.__main__": 7,
}
MAX_LINES = 460


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, mod: str, is_pkg: bool, known: set[str]) -> set[str]:
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("prm_viewer"):
                    if (r := resolve(a.name)) is not None:
                        found.add(r)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("prm_viewer"):
                for a in node.names:
                    full = f"{target}.{a.name}"
                    r = full if full in known else resolve(target)
                    if r is not None:
                        found.add(r)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(mod)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = all_modules()
    known = set(mods)
    return {m: _imports(ast.parse(p.read_text()), m, p.name == "__init__.py", known) for m, p in mods.items()}


def layer_of(mod: str) -> int:
    name = mod
    while name not in LAYERS:
        name = name.rpartition(".")[0]
        assert name, f"module {mod} has no layer: add its package to LAYERS in {Path(__file__).name}"
    return LAYERS[name]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first == last), or None (iterative DFS, three colours)."""
    colour: dict[str, int] = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        colour[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                colour[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if colour.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not colour.get(nxt):
                colour[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def test_cycle_finder_finds_a_planted_cycle() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    cyc = find_cycle(g)
    assert cyc is not None and cyc[0] == cyc[-1] and set(cyc) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_graph_reads_lazy_and_relative_imports() -> None:
    src = "def f():\n    from prm_viewer.store import Store\nfrom . import settings\n"
    found = _imports(ast.parse(src), "prm_viewer.x", False, {"prm_viewer.store", "prm_viewer.settings", "prm_viewer"})
    assert found == {"prm_viewer.store", "prm_viewer.settings"}


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_upward_import() -> None:
    bad = []
    for mod, deps in import_graph().items():
        for dep in deps:
            if layer_of(dep) > layer_of(mod):
                bad.append(f"{mod} (layer {layer_of(mod)}) imports {dep} (layer {layer_of(dep)})")
    assert not bad, "imports that run upward:\n" + "\n".join(sorted(bad))


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_size(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines: split it by concept"
