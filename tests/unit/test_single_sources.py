"""Each piece of knowledge has one home, so a change is made in one place and a reader
finds one answer: the lifecycle's status sets live in domain/lifecycle.py, and a class name
means one class across the packages."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from domain.lifecycle import BackupStatus

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "adapters", "api", "projections")
LIFECYCLE = ROOT / "domain" / "lifecycle.py"
STATUS_NAMES = {s.value for s in BackupStatus}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _status_name(node: ast.expr) -> str | None:
    """The status a literal element names: ``"SUCCESS"`` or ``BackupStatus.SUCCESS``."""
    if isinstance(node, ast.Constant) and node.value in STATUS_NAMES:
        return str(node.value)
    if isinstance(node, ast.Attribute) and node.attr in STATUS_NAMES:
        return node.attr
    return None


def status_sets_spelled_out(source: str) -> list[tuple[int, list[str]]]:
    """Set, tuple and list literals naming two or more statuses, with their line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Set | ast.Tuple | ast.List):
            names = [n for n in map(_status_name, node.elts) if n is not None]
            if len(names) >= 2:
                found.append((node.lineno, names))
    return found


def test_the_scan_sees_a_status_set_however_it_is_spelled() -> None:
    assert status_sets_spelled_out('x = frozenset({"SUCCESS", "FAILED"})') == [
        (1, ["SUCCESS", "FAILED"])
    ]
    assert status_sets_spelled_out("ok = s in (BackupStatus.SUCCESS, BackupStatus.MISSING)")
    assert status_sets_spelled_out('ok = s == "SUCCESS"') == []


def test_status_sets_are_spelled_out_only_in_the_lifecycle_module() -> None:
    """ACTIVE, FINISHED, SETTLED... are imported from domain.lifecycle: a copy elsewhere
    would silently disagree once a status is added or a move changes."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {names}"
        for path in _modules()
        if path != LIFECYCLE
        for line, names in status_sets_spelled_out(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "import the status set from domain.lifecycle instead"


def test_a_class_name_means_one_class_across_the_packages() -> None:
    """Two module-level classes of one name (two ``BackupView``, three ``Progress``) make a
    reader, an import and the OpenAPI components guess which is meant. Events nested in
    their aggregate (``Plan.Created``) are named by their owner and do not count."""
    defined: defaultdict[str, list[str]] = defaultdict(list)
    for path in _modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                defined[node.name].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    twice = {name: where for name, where in defined.items() if len(where) > 1}
    assert twice == {}, "rename one of each so a name means one class"
