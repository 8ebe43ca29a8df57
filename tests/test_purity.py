"""The functional core stays pure: nothing under tracker/core/ reaches I/O, directly or through
the modules it imports.

The walk starts at every module of the core package, follows each import that lands inside
the `tracker` package (so a core module importing a shell module is followed into the shell,
and fails there), and checks every import it meets against the forbidden roots. Imports under
`if TYPE_CHECKING:` are skipped: they never run. Calls of the builtin `open()` are refused too.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, seconds

PACKAGE = ROOT / "tracker"
CORE = PACKAGE / "core"

# Roots of modules that do I/O, run concurrently, or are the imperative shell.
FORBIDDEN = frozenset({
    "asyncio", "socket", "ssl", "http", "urllib", "subprocess", "threading", "multiprocessing",
    "selectors", "logging", "structlog", "shutil", "tempfile", "pathlib", "io", "os.path",
    "sqlite3", "aiosqlite", "asyncpg", "psycopg", "psycopg2", "websockets",
    "tracker.store", "tracker.service", "tracker.server", "tracker.cli", "tracker.watch",
    "tracker.transfer", "tracker.seeds", "tracker.logs",
})


@dataclass(frozen=True)
class Finding:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_path(name: str, root: Path = ROOT) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node that can run at import or call time: `if TYPE_CHECKING:` bodies left out."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(path: Path, root: Path = ROOT) -> tuple[list[tuple[str, int]], list[Finding]]:
    """(imported module names with their line, open() calls) of one file."""
    name = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[str, int]] = []
    calls: list[Finding] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            found.append((module, node.lineno))
            # `from tracker.core import protocol` imports the submodule protocol
            found += [(f"{module}.{a.name}", node.lineno) for a in node.names
                      if _module_path(f"{module}.{a.name}", root) is not None]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            calls.append(Finding(name, node.lineno, "calls open()"))
    return found, calls


def violations(start: Path, root: Path = ROOT, forbidden: frozenset[str] = FORBIDDEN) -> list[Finding]:
    """Everything I/O that the modules under `start` reach, following imports inside the
    `tracker` package (and its parents, which Python imports first)."""
    package = root.joinpath(*module_name(start, root).split(".")[:1])
    todo = sorted(start.rglob("*.py"))
    seen: set[Path] = set()
    out: list[Finding] = []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        imported, calls = imports_of(path, root)
        out += calls
        here = module_name(path, root)
        for name, line in imported:
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(Finding(here, line, f"imports {name}"))
                continue
            if name.split(".")[0] != package.name:
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # a module's parent packages run first
                target = _module_path(".".join(parts[:i]), root)
                if target is not None and target not in seen:
                    todo.append(target)
    return sorted(set(out), key=str)


def test_core_reaches_no_io():
    found = violations(CORE)
    assert not found, ("tracker/core/ must stay pure; keep I/O in the shell (store, service, server, cli):\n"
                       + "\n".join(f"  {f}" for f in found))


def test_every_core_module_is_walked():
    modules = {module_name(p) for p in CORE.rglob("*.py")}
    assert {"tracker.core.events", "tracker.core.protocol", "tracker.core.fold", "tracker.core.timeline",
            "tracker.core.projections.territory"} <= modules


_PLANTED = {
    "direct": ("import asyncio\n", "imports asyncio"),
    "from_import": ("from pathlib import Path\n", "imports pathlib"),
    "open_call": ("def f():\n    return open('x')\n", "calls open()"),
    "through_the_shell": ("from ..service import Tracker\n", "imports tracker.service"),
}


@pytest.mark.parametrize("kind", sorted(_PLANTED))
def test_a_planted_violation_fails(tmp_path, kind):
    """The walk can fail: a copy of the core with one impure line planted is caught, also when
    the impurity is only reached through another module of the package."""
    code, expected = _PLANTED[kind]
    pkg = tmp_path / "tracker"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "core" / "clean.py").write_text("from . import helper\n")
    if kind == "through_the_shell":
        (pkg / "service.py").write_text("import sqlite3\n")
    (pkg / "core" / "helper.py").write_text(code)
    found = violations(pkg / "core", root=tmp_path)
    assert any(expected in f.what for f in found), found


def test_type_checking_imports_are_allowed(tmp_path):
    pkg = tmp_path / "tracker"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import asyncio\n")
    assert violations(pkg / "core", root=tmp_path) == []


def test_importing_the_core_loads_no_io_module():
    """The same promise, checked by Python itself in a fresh interpreter. (`socket` is not in
    this list: pydantic loads it through the standard library's email.utils, which does no I/O
    at import; the AST walk above is what holds our own code to the full list.)"""
    import subprocess

    code = ("import sys; import tracker.core.timeline, tracker.core.protocol, tracker.core.batch, "
            "tracker.core.reports, tracker.core.tables; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'asyncio', 'sqlite3', 'aiosqlite', 'asyncpg', 'websockets', 'structlog'} "
            "or m.startswith(('tracker.store', 'tracker.server', 'tracker.service'))); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=seconds(60))
    assert out.stdout.strip() == "", f"importing the core loaded {out.stdout.strip()}"
