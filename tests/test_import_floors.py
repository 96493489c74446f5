"""The house rule of docs/architecture.md, checked on the source: a module imports only from its own
floor or lower ones (imports inside functions included), and no two modules import each other
through any chain (no import circle). Imports under ``if TYPE_CHECKING:`` are annotations only and
are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlip_bench"

#: top-level module or subpackage of mlip_bench -> floor (as in docs/architecture.md)
FLOORS = {
    "cli": 5,
    "commands": 5,
    "sweep": 4,
    "leaderboard": 4,
    "md": 4,
    "train": 3,
    "calculator": 3,
    "models": 2,
    "testing": 2,
    "data": 1,
    "results": 1,
    "embedded": 1,
    "errors": 0,
    "units": 0,
    "paths": 0,
    "config_files": 0,
    "atomic_files": 0,
    "devices": 0,
    "progress_bar": 0,
    "interrupts": 0,
    "__init__": 0,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """The mlip_bench modules ``path`` imports at run time (any nesting level)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.split(".")[0] == "mlip_bench")
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] == "mlip_bench":
                    for alias in child.names:  # "from mlip_bench.md import runner" imports a module
                        sub = f"{target}.{alias.name}"
                        found.add(sub if _known(sub) else target)
            visit(child)

    visit(tree)
    found.discard(this)
    return found


def _known(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _floor(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in FLOORS:
        raise AssertionError(f"{module}: no floor for {top!r}; add it to docs/architecture.md and FLOORS")
    return FLOORS[top]


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {_module_name(p): _imports(p) for p in SOURCES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_its_own_floor_or_lower(path):
    module = _module_name(path)
    upward = sorted(m for m in GRAPH[module] if _floor(m) > _floor(module))
    assert not upward, f"{module} (floor {_floor(module)}) imports from higher floors: {upward}"


def test_no_import_circle():
    # a package's __init__ importing its own submodules is not a circle in the sense of the rule
    graph = {
        m: {d for d in deps if d in GRAPH and not (m.startswith(d + ".") and d.count(".") >= 1)}
        for m, deps in GRAPH.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                circles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                walk(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_floor_table_is_the_documented_one():
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    for top, floor in FLOORS.items():
        if top == "__init__":
            continue
        line = next((ln for ln in doc.splitlines() if ln.startswith(f"floor {floor} ")), "")
        assert top in line, f"docs/architecture.md's 'floor {floor}' line does not name {top}"


def test_the_checker_sees_imports_inside_functions():
    # md_commands imports the MD settings inside a function (so --help stays fast)
    assert "mlip_bench.md.settings" in GRAPH["mlip_bench.commands.md_commands"]
    assert "mlip_bench.errors" in GRAPH["mlip_bench.md.settings"]
