"""The functional core stays pure: its modules import no I/O, asyncio or database code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tracker"
CORE = ["batch", "catalog", "dates", "errors", "events", "ids", "records", "reports", "timeline",
        "summary", "tables", *(f"projections/{p.stem}" for p in (PACKAGE / "projections").glob("*.py"))]
FORBIDDEN = {"asyncio", "aiosqlite", "sqlite3", "websockets", "socket", "subprocess", "asyncpg",
             "psycopg", "http", "urllib", "structlog", "tracker.store", "tracker.service"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the package
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                module = ".".join((*base, module)) if module else ".".join(base)
            names.add(module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_core_module_does_no_io(module):
    imported = _imports(PACKAGE / f"{module}.py")
    bad = {name for name in imported for f in FORBIDDEN if name == f or name.startswith(f + ".")}
    assert not bad, f"tracker/{module}.py imports {sorted(bad)}: keep I/O in the shell (store, service, cli, server)"
