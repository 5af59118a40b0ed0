"""domain/ is the core: it imports nothing from the outer packages and does no I/O, so it can
be reasoned about (and property-tested) without any infrastructure."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
OUTER_PACKAGES = {"adapters", "api", "projections", "tests"}
ALLOWED_THIRD_PARTY = {"eventsourcing", "pydantic", "typing_extensions"}
IO_MODULES = {
    "asyncio",
    "io",
    "os",
    "pathlib",
    "shutil",
    "socket",
    "sqlite3",
    "subprocess",
    "tempfile",
    "urllib",
    "http",
    "requests",
    "aiohttp",
    "psycopg",
    "orjson",
    "zstandard",
    "logging",
    "structlog",
    "multiprocessing",
    "select",
    "selectors",
    "ssl",
    "ftplib",
    "smtplib",
}
IO_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    found: list[str] = []
    for name in _imports(tree):
        root = name.split(".")[0]
        if root in OUTER_PACKAGES:
            found.append(f"{filename}: imports {name} (an outer package)")
        elif root in IO_MODULES:
            found.append(f"{filename}: imports {name} (I/O)")
        elif root not in sys.stdlib_module_names and root not in ALLOWED_THIRD_PARTY | {
            "domain",
            "__future__",
        }:
            found.append(f"{filename}: imports {name} (not eventsourcing, pydantic or stdlib)")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id in IO_CALLS:
            found.append(f"{filename}:{node.lineno}: calls {node.func.id}()")
    return found


def test_domain_imports_only_the_core_and_does_no_io() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert files, "domain/ has no modules"
    problems = [v for f in files for v in _violations(f.read_text(), f.name)]
    assert problems == []


def test_the_check_catches_what_it_forbids() -> None:
    """The checker itself must notice an outer import, an I/O module and an I/O call."""
    bad = "from adapters.settings import Settings\nimport sqlite3\nopen('x')\nimport orjson\n"
    problems = _violations(bad, "bad.py")
    assert len(problems) == 4
