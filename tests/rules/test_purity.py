"""The rules core stays pure: no database, network, scheduler or notifier imports."""

import ast
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "models" / "rules"
FORBIDDEN_ROOTS = {"prefect", "httpx", "apprise", "sqlmodel", "sqlalchemy"}
MODULES = sorted(RULES_DIR.glob("*.py"))


def imported_modules(path: Path) -> list[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    package = ["models", "rules"]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names.append(".".join([*base, *([node.module] if node.module else [])]))
            else:
                names.append(node.module or "")
    return names


def test_the_rules_package_has_its_modules() -> None:
    assert {p.stem for p in MODULES} >= {
        "__init__",
        "yearrules",
        "periods",
        "workdays",
        "completion",
        "levels",
        "ledger",
        "scores",
        "negative_list",
        "rulings",
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_rules_module_imports_nothing_impure(path: Path) -> None:
    for name in imported_modules(path):
        root = name.split(".")[0]
        assert root not in FORBIDDEN_ROOTS, f"{path.name} imports {name}"
        if root == "models":
            assert name == "models.rules" or name.startswith("models.rules."), (
                f"{path.name} imports {name} from outside models.rules"
            )


def test_the_import_checker_sees_relative_and_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from ..db import x\nimport sqlalchemy.orm\nfrom . import levels\n")
    assert imported_modules(sample) == ["models.db", "sqlalchemy.orm", "models.rules"]
