"""The appeals' planning modules stay pure: no database, network, scheduler or clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLANS = Path(__file__).resolve().parents[2] / "models" / "plans"
MODULES = [PLANS / f"{name}.py" for name in ("appeal_intake", "recompute", "explain")]
FORBIDDEN_ROOTS = {"prefect", "httpx", "apprise", "sqlmodel", "sqlalchemy", "tasks", "flows"}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_an_appeal_plan_imports_nothing_impure_and_never_reads_the_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]]
        else:
            roots = []
        assert not set(roots) & FORBIDDEN_ROOTS, f"{path.name} imports {roots}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_CALLS, f"{path.name} calls .{node.func.attr}()"
