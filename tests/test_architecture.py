"""The architecture holds: import contracts (import-linter) and the pure core's habits.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and run in ``make lint``;
here they are checked to hold on the tree and to fail on a planted violation of each kind.
What an import graph cannot see (reading the clock, drawing a fresh seed, building a unit
message outside the one render module) is checked on the source.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "deployments", "flows", "tasks", "models")
PURE_CORE = [
    *sorted((ROOT / "models" / "rules").glob("*.py")),
    *sorted((ROOT / "models" / "plans").glob("*.py")),
    *sorted((ROOT / "models" / "messages").glob("*.py")),
    *(
        ROOT / "models" / "catalog" / f"{name}.py"
        for name in ("schema", "parse", "content", "limits", "vocabulary")
    ),
    ROOT / "models" / "cell_text.py",
]
CLOCK_CALLS = {"now", "utcnow", "today"}  # the time module itself is refused by "pure-core"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_contracts_hold_on_the_tree() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "out")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


PLANTED = [
    ("models/rules/levels.py", "import sqlalchemy", "pure core does no I/O"),
    ("models/plans/monthly.py", "import time", "pure core does no I/O"),
    ("tasks/bulk.py", "import flows.common", "Dependencies point one way"),
    ("models/persistence/tables.py", "import tasks.runtime", "Dependencies point one way"),
    ("models/rules/periods.py", "from models.rules import workdays", "No import cycle"),
    ("models/messages/render.py", "import models.plans.monthly", "Inside the core"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "line", "contract"), PLANTED, ids=[p[1] for p in PLANTED])
def test_a_planted_violation_breaks_its_contract(
    tree_copy: Path, path: str, line: str, contract: str
) -> None:
    target = tree_copy / path
    original = target.read_text(encoding="utf-8")
    target.write_text(f"{line}  # planted\n{original}", encoding="utf-8")
    try:
        result = lint_imports(tree_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if ln.rstrip().endswith("BROKEN")]
    assert any(contract in ln for ln in broken), result.stdout


@pytest.mark.parametrize("path", PURE_CORE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_core_module_never_reads_the_clock_or_draws_a_fresh_seed(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CLOCK_CALLS, f"{path.name} calls .{node.func.attr}()"
    assert "randbelow" not in source and "SystemRandom" not in source


def test_only_the_render_module_uses_the_unit_templates_or_the_unit_seal() -> None:
    render = ROOT / "models" / "messages" / "render.py"
    for folder in ("models", "tasks", "flows", "deployments"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == render:
                continue
            text = path.read_text(encoding="utf-8")
            assert "unit_digest." not in text, path
            assert "_UNIT_SEAL" not in text, path


def test_only_the_composition_root_builds_engines_and_work_calendars() -> None:
    """Running code (flows, tasks, deployments) gets its engine and calendar from the one
    `Runtime` that ``tasks.runtime.build_runtime`` builds per process."""
    root = ROOT / "tasks" / "runtime.py"
    builders = {"make_engine", "load_work_calendar", "create_engine"}
    for folder in ("tasks", "flows", "deployments"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == root:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    assert name not in builders, f"{path.relative_to(ROOT)} calls {name}()"
