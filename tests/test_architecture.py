"""The package's layout rules (README "Module map", DESIGN.md), checked on the source.

Every rule here is a promise to the engineers who carry the code on: imports flow one
way, no module reaches into another's private names, the solver core does no I/O and
knows nothing of scenarios or geodata, and the two checkers share no code with the
solvers they check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "planner"
MAX_LINES = 1000


def _modules(package: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules(PACKAGE)


def _is_package(name: str, modules: dict[str, Path] = MODULES) -> bool:
    return modules[name].name == "__init__.py"


def _imports(name: str, modules: dict[str, Path] = MODULES) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import in a module, lazy ones included."""
    tree = ast.parse(modules[name].read_text(encoding="utf-8"))
    out: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = name.split(".") if _is_package(name, modules) else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, [a.name for a in node.names], node.lineno))
    return out


def _planner_targets(name: str, modules: dict[str, Path]) -> set[str]:
    """The planner modules a module imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    targets: set[str] = set()
    for mod, names, _ in _imports(name, modules):
        if not mod.startswith("planner"):
            continue
        subs = [f"{mod}.{n}" for n in names if f"{mod}.{n}" in modules]
        targets.update(subs)
        if mod in modules and (len(subs) < len(names) or not names):
            targets.add(mod)
    targets.discard(name)
    return {t for t in targets if t in modules}


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Every import cycle among the modules (lazy and TYPE_CHECKING imports count too)."""
    graph = {m: _planner_targets(m, modules) for m in modules}
    # a package's __init__ re-exporting its own modules is not a cycle of the layout
    for m in graph:
        graph[m] = {t for t in graph[m] if not (_is_package(t, modules) and m.startswith(t + "."))}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                loop = stack[stack.index(t):]
                k = loop.index(min(loop))  # one spelling per cycle: start at its first module
                cycles.append(loop[k:] + loop[:k] + [loop[k]])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return cycles


def private_imports(modules: dict[str, Path]) -> list[str]:
    """Every import of another module's ``_private`` name (or of a ``_private`` module)."""
    bad = []
    for m, path in modules.items():
        for mod, names, line in _imports(m, modules):
            if not mod.startswith("planner") or mod == m:
                continue
            for n in names:
                own_module = f"{mod}.{n}" in modules and m.startswith(mod + ".")
                if n.startswith("_") and not n.startswith("__") and not own_module:
                    bad.append(f"{path.name}:{line} imports {mod}.{n}")
            parent, _, last = mod.rpartition(".")
            if last.startswith("_") and not m.startswith(parent + "."):
                # a package's private module serves its own package only
                bad.append(f"{path.name}:{line} imports private module {mod}")
    return bad


def test_no_import_cycle() -> None:
    cycles = import_cycles(MODULES)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_private_names_across_modules() -> None:
    bad = private_imports(MODULES)
    assert not bad, "\n".join(bad)


OPTIMISE = [m for m in MODULES if m.startswith("planner.optimise")]


@pytest.mark.parametrize("name", OPTIMISE)
def test_optimise_imports_only_itself_and_errors(name: str) -> None:
    bad = [
        f"line {line}: {mod}"
        for mod, _, line in _imports(name)
        if mod.startswith("planner") and not (mod.startswith("planner.optimise") or mod == "planner.errors")
        and mod != "planner"
    ]
    bad += [f"line {line}: {mod}" for mod, _, line in _imports(name) if mod.split(".")[0] in {"geopandas", "pydantic", "folium", "yaml"}]
    assert not bad, f"{name} imports outside the solver core: {bad}"


_IO_CALLS = {"open", "read_text", "write_text", "read_bytes", "write_bytes", "savez", "savez_compressed",
             "to_csv", "to_parquet", "read_csv", "read_parquet", "mkdir", "unlink", "rename", "replace_file"}


@pytest.mark.parametrize("name", OPTIMISE)
def test_optimise_does_no_file_io(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if called in _IO_CALLS:
                bad.append(f"line {node.lineno}: {called}()")
    assert not bad, f"{name} does file I/O: {bad}"


CHECKERS = ["planner.optimise.check", "planner.optimise.rollout_check", "planner.optimise.command_check"]
TYPES = {"planner.errors", "planner.optimise.types", "planner.optimise.rollout.types", "planner.optimise.command_types"}
# a checker may use the other checker (the rollout's final network is a site selection), never a solver
CHECKER_MAY_IMPORT = TYPES | set(CHECKERS)


@pytest.mark.parametrize("name", CHECKERS)
def test_checkers_share_no_code_with_the_solvers(name: str) -> None:
    assert name in MODULES, f"{name} is missing"
    used = {mod for mod, _, _ in _imports(name) if mod.startswith("planner")}
    assert used <= CHECKER_MAY_IMPORT, f"{name} imports {sorted(used - CHECKER_MAY_IMPORT)}"


def test_types_modules_import_no_solver() -> None:
    for name in ("planner.optimise.types", "planner.optimise.rollout.types", "planner.optimise.command_types"):
        used = {mod for mod, _, _ in _imports(name) if mod.startswith("planner")}
        assert used <= TYPES, f"{name} imports {sorted(used - TYPES)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_oversized_room(name: str) -> None:
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{MODULES[name].relative_to(PACKAGE.parent)} has {n} lines (at most {MAX_LINES})"


def test_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checks above are not vacuous: a cycle and a private cross-import are seen."""
    pkg = tmp_path / "planner"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from planner.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from planner.a import _hidden\n")
    (pkg / "c.py").write_text("import numpy\n")
    mods = _modules(pkg)
    assert import_cycles(mods) == [["planner.a", "planner.sub.b", "planner.a"]]
    assert private_imports(mods) == ["b.py:2 imports planner.a._hidden"]
    (pkg / "sub" / "b.py").write_text("from .. import c\n")  # relative imports resolve too
    (pkg / "c.py").write_text("from .sub import b\nfrom .sub import _private\n")
    (pkg / "sub" / "_private.py").write_text("")
    mods = _modules(pkg)
    assert import_cycles(mods) == [["planner.c", "planner.sub.b", "planner.c"]]
    assert private_imports(mods) == ["c.py:2 imports planner.sub._private"]


def test_the_repository_tracks_no_data_cache() -> None:
    """The data cache is built on each machine (``make data``); a tracked ``data/cache`` (once a symlink
    to one engineer's checkout) would point a fresh clone's cache at a folder that does not exist there."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout (an sdist or a wheel): nothing tracked to check")
    out = subprocess.run(["git", "ls-files", "--", "data/cache"], cwd=root, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "", f"data/cache is tracked by git: git rm --cached {out.stdout.split()}"
