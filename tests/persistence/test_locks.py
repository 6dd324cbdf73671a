"""Category locks: a recompute's exclusive hold keeps monthly batches (shared) out, and
shared holders do not keep each other out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from models.persistence.database import make_engine
from tasks.locks import category_lock, serialize, share
from tests.fixtures.databases import BACKEND

pytestmark = pytest.mark.db

CATEGORY = category_lock("key_development")


def _blocked(session: Session, take: str) -> bool:
    """Whether taking the lock waits (PostgreSQL: it times out after 200 ms)."""
    session.execute(sa.text("SET LOCAL lock_timeout = '200ms'"))
    try:
        if take == "shared":
            share(session, [CATEGORY])
        else:
            serialize(session, CATEGORY)
    except sa.exc.OperationalError as exc:
        assert "lock timeout" in str(exc)
        return True
    return False


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite has one writer: both take it")
def test_an_exclusive_category_lock_keeps_shared_holders_out_and_shared_ones_do_not(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    try:
        with Session(engine) as recompute, Session(engine) as batch, Session(engine) as other:
            serialize(recompute, CATEGORY)
            assert _blocked(batch, "shared")
            batch.rollback()
            recompute.rollback()  # the recompute commits or rolls back: the lock goes
            share(batch, [CATEGORY, category_lock("county")])
            assert not _blocked(other, "shared")
            other.rollback()
            assert _blocked(recompute, "exclusive")
    finally:
        engine.dispose()


@pytest.mark.skipif(BACKEND != "sqlite", reason="the SQLite form of the locks")
def test_on_sqlite_both_kinds_take_the_database_write_lock(engine: Engine) -> None:
    with Session(engine) as session:
        share(session, [CATEGORY])
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.in_transaction  # BEGIN IMMEDIATE
        session.rollback()
        serialize(session, CATEGORY)
        raw = session.connection().connection.dbapi_connection
        assert raw is not None and raw.in_transaction
