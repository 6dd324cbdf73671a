"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

``ASSESS_TEST_DB=postgresql`` runs the database tests on the PostgreSQL server at
``ASSESS_TEST_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
A missing PostgreSQL fails loudly; it is never skipped.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from models.persistence.database import make_engine, upgrade_database
from tasks.runtime import Runtime, build_runtime
from tasks.settings import get_settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

BACKEND = os.environ.get("ASSESS_TEST_DB", "sqlite")
PG_URL = os.environ.get("ASSESS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_counter = itertools.count()


def _pg_admin() -> Engine:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per session; each test gets a copy."""
    if BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.db"
        upgrade_database(f"sqlite:///{path}")
        yield str(path)
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"ASSESS_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")
    name = f"assess_tpl_{os.getpid()}"
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # pragma: no cover - environment problem, fail loudly
        pytest.fail(f"PostgreSQL at {PG_URL} is required for ASSESS_TEST_DB=postgresql: {exc}")
    upgrade_database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield name
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def db_url(_template: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, fully migrated database for this test."""
    if BACKEND == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(_template, path)
        yield f"sqlite:///{path}"
        return
    name = f"assess_t_{os.getpid()}_{next(_counter)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_template}"))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    """The runtime running code builds (``tasks.runtime.build_runtime``) for this test's
    database: the settings of the environment, the database URL this test's. A flow run
    in the test builds its own from the environment (``settings_env`` points it here)."""
    built = build_runtime(get_settings().model_copy(update={"database_url": db_url}))
    yield built
    built.engine.dispose()


@pytest.fixture
def empty_db_url(tmp_path: Path) -> Iterator[str]:
    """An empty (unmigrated) database of the selected backend."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"assess_e_{os.getpid()}_{next(_counter)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect server (``prefect_test_harness``) for every flow test of the session."""
    os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] = "false"
    os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED"] = "false"
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield
