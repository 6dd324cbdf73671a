"""Persistence: the tables (SQLModel), the database engines and guards, the Alembic migrations."""
