"""Alembic environment: the URL comes from the config (``assess db upgrade`` sets it from
the settings) or, for a bare ``alembic upgrade head``, from ``ASSESS_DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context
from sqlmodel import SQLModel

import models.persistence.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from models.persistence.database import make_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("ASSESS_DATABASE_URL")
    if not url:
        raise SystemExit(
            "no database URL: run `assess db upgrade` (it reads the settings), "
            "or set ASSESS_DATABASE_URL for a bare `alembic upgrade head`"
        )
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
