"""Engines, sessions and migrations for SQLite (default) and PostgreSQL (scale path)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

from models.persistence.tables import LEDGER_TABLES

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the project's per-backend settings.

    SQLite: foreign keys on, WAL, a busy timeout; the data folder is created.
    ``recursive_triggers`` is on so that the row ``INSERT OR REPLACE`` deletes fires the
    DELETE triggers (a ledger refuses it); the ledgers' ``_no_replace`` triggers refuse
    it on connections without the pragma too.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA recursive_triggers=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (alembic upgrade)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def ledger_trigger_sql(dialect: str, tables: tuple[str, ...] = LEDGER_TABLES) -> list[str]:
    """DDL of the triggers that refuse UPDATE and DELETE on every ledger table."""
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            """
            CREATE OR REPLACE FUNCTION refuse_ledger_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'ledger % is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'raise_exception';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in tables:
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_ledger_change()"
            )
            statements.append(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refuse_ledger_change()"
            )
    elif dialect == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger {table} is append-only: {op} refused'); "
                    "END"
                )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ValueError(f"unsupported database dialect {dialect!r}")
    return statements


def drop_ledger_trigger_sql(dialect: str, tables: tuple[str, ...] = LEDGER_TABLES) -> list[str]:
    statements: list[str] = []
    for table in tables:
        if dialect == "postgresql":
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_update")
            statements.append(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if dialect == "postgresql":
        statements.append("DROP FUNCTION IF EXISTS refuse_ledger_change()")
    return statements


def ledger_replace_guard_sql(table: str, keys: Sequence[Sequence[str]]) -> str:
    """SQLite DDL of the trigger that refuses an INSERT over an existing row of a ledger.

    ``INSERT OR REPLACE`` (and ``REPLACE``) resolves a key conflict by deleting the
    existing row, and fires no DELETE trigger unless ``recursive_triggers`` is on: this
    BEFORE INSERT trigger refuses any row whose primary or unique key (``keys``, each a
    tuple of columns) is already taken, whatever the connection's pragmas. A plain
    INSERT of such a row would fail anyway; ``INSERT OR IGNORE`` is refused too. The
    lookups use the keys' own indexes. PostgreSQL needs none: it has no REPLACE, and
    ``ON CONFLICT DO UPDATE`` fires the UPDATE trigger.
    """
    taken = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE "
        + " AND ".join(f"{column} = NEW.{column}" for column in key)
        + ")"
        for key in keys
    )
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {taken} "
        f"BEGIN SELECT RAISE(ABORT, 'ledger {table} is append-only: INSERT over an existing "
        "row (REPLACE) refused'); END"
    )


def year_rules_trigger_sql(dialect: str) -> list[str]:
    """DDL of the trigger that refuses changing a frozen year's rules."""
    if dialect == "postgresql":
        return [
            """
            CREATE OR REPLACE FUNCTION refuse_frozen_rules() RETURNS trigger AS $$
            BEGIN
                IF OLD.frozen_at IS NOT NULL AND NEW.rules::text IS DISTINCT FROM OLD.rules::text
                THEN
                    RAISE EXCEPTION 'rules of year % are frozen since its first cycle', OLD.year
                        USING ERRCODE = 'raise_exception';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """,
            "CREATE TRIGGER assessment_year_frozen_rules BEFORE UPDATE ON assessment_year "
            "FOR EACH ROW EXECUTE FUNCTION refuse_frozen_rules()",
        ]
    return [
        "CREATE TRIGGER assessment_year_frozen_rules BEFORE UPDATE OF rules ON assessment_year "
        "WHEN OLD.frozen_at IS NOT NULL AND NEW.rules IS NOT OLD.rules "
        "BEGIN SELECT RAISE(ABORT, 'rules of this year are frozen since its first cycle'); END"
    ]


def drop_year_rules_trigger_sql(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS assessment_year_frozen_rules ON assessment_year",
            "DROP FUNCTION IF EXISTS refuse_frozen_rules()",
        ]
    return ["DROP TRIGGER IF EXISTS assessment_year_frozen_rules"]
