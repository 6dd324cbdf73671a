"""Real receivers on loopback: an SMTP server (aiosmtpd) and the project's HTTP receiver.

The HTTP receiver (`deployments.receiver.Receiver`, also the demo's and the
benchmarks') answers each path from a script (a list of (status, body) answers
consumed in order, then a default), and records every request.
"""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from deployments.receiver import OK_JSON, Received, Receiver, free_port

__all__ = ["OK_JSON", "HttpReceiver", "Received", "SmtpReceiver", "free_port"]

HttpReceiver = Receiver
"""The project's one loopback webhook receiver (`deployments.receiver`)."""


class _Handler:
    def __init__(self, owner: SmtpReceiver) -> None:
        self.owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.owner.lock:
            self.owner.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server on 127.0.0.1 with AUTH (no TLS) accepting one user and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[str] = []
        self.port = free_port()
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            auth_require_tls=False,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            ok = login == self.user and auth_data.password.decode() == self.password
            with self.lock:
                self.logins.append(login)
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.logins.clear()

    def mailto(self, to: str, *, password: str | None = None) -> str:
        """An Apprise ``mailto://`` channel (plain SMTP, no TLS) to this server."""
        secret = self.password if password is None else password
        return (
            f"mailto://{self.user}:{secret}@127.0.0.1:{self.port}"
            f"?to={to}&from=kaohe@qinglan.gov.cn&name=市考核办"
        )

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self.lock:
            return list(self.messages)
