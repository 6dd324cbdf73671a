"""The notification tests' own setting: the warnings their real receivers raise on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The loopback SMTP server takes AUTH without TLS on purpose; Apprise imports imghdr."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
            )
            item.add_marker(pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"))
