"""The suite's shared fixtures live in ``tests/fixtures/``, registered here for every test.

- ``databases``: a fresh migrated database per test (SQLite, or PostgreSQL with
  ``ASSESS_TEST_DB=postgresql``), the ``runtime`` running code builds for it, empty
  databases, copies, ``rows``;
- ``prefect``: one real Prefect server for the session (``prefect_server``);
- ``demo``: the demo catalog, its platform simulator, a platform client, and the
  settings pointing at them (``catalog_db``, ``db_env``, ``settings_env``, ``sim``);
- ``receivers``: the loopback HTTP receiver and SMTP server, a fake monotonic clock;
- ``deployed``: ``prefect.yaml`` deployed to the session's Prefect server;
- ``cli``: ``assess`` run as its console script runs it.

A folder's own ``conftest.py`` keeps only what its tests alone use.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.prefect",
    "tests.fixtures.demo",
    "tests.fixtures.receivers",
    "tests.fixtures.deployed",
    "tests.fixtures.cli",
]
