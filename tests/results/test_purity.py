"""The plans of this issue are pure: no database, network, scheduler or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    ROOT / "models" / "plans" / f"{name}.py" for name in ("onsite", "annual", "sharing", "burden")
]
FORBIDDEN = {"prefect", "httpx", "apprise", "sqlmodel", "sqlalchemy", "requests", "time", "secrets"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_a_plan_module_imports_no_io_and_never_reads_the_clock(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN
    source = path.read_text(encoding="utf-8")
    assert ".now(" not in source and "today(" not in source and "utcnow" not in source


def test_only_the_shell_draws_a_fresh_seed() -> None:
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "models").rglob("*.py")}
    assert not [p for p, text in sources.items() if "randbelow" in text or "SystemRandom" in text]
