"""Fixtures for the notification tests: loopback receivers, a fake clock, a Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notify.receivers import HttpReceiver, SmtpReceiver

HERE = Path(__file__).parent
SMTP_USER = "kaohe"
SMTP_PASSWORD = "Sm7p-s3cret-pw"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The loopback SMTP server takes AUTH without TLS on purpose; Apprise imports imghdr."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
            )
            item.add_marker(pytest.mark.filterwarnings("ignore:'imghdr' is deprecated"))


class FakeClock:
    """A monotonic clock that only moves when slept on (nothing in the tests waits)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def _http_server() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def http_receiver(_http_server: HttpReceiver) -> Iterator[HttpReceiver]:
    _http_server.reset()
    yield _http_server
    _http_server.reset()


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver(SMTP_USER, SMTP_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_receiver(_smtp_server: SmtpReceiver) -> Iterator[SmtpReceiver]:
    _smtp_server.reset()
    yield _smtp_server
    _smtp_server.reset()
