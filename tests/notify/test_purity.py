"""The messages core is pure, and units' messages are built in one place only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = sorted((ROOT / "models" / "messages").glob("*.py"))
FORBIDDEN_ROOTS = {"prefect", "httpx", "apprise", "sqlmodel", "sqlalchemy", "requests", "time"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.name)
def test_a_messages_module_imports_no_database_network_scheduler_or_clock(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN_ROOTS
    source = path.read_text(encoding="utf-8")
    assert ".now(" not in source and "today(" not in source


def test_only_the_render_module_uses_the_unit_templates_or_the_unit_seal() -> None:
    sources = [
        p
        for folder in ("models", "tasks", "flows", "deployments")
        for p in (ROOT / folder).rglob("*.py")
        if p != ROOT / "models" / "messages" / "render.py"
    ]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "unit_digest." not in text, path
        assert "_UNIT_SEAL" not in text, path
