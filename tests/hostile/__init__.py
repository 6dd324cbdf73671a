"""Hostile input and faults (issue 17): each case runs on SQLite and PostgreSQL."""
