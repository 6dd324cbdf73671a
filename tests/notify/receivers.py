"""Real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP server for webhooks.

The HTTP receiver answers each path from a script (a list of (status, body)
answers consumed in order, then a default), and records every request.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

OK_JSON = '{"errcode": 0, "errmsg": "ok"}'


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, list[str]]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1 standing in for webhook channels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        self._defaults: dict[str, tuple[int, str]] = {}
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                status, answer = receiver._answer(
                    parts.path, Received(parts.path, parse_qs(parts.query), body)
                )
                data = answer.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, path: str, request: Received) -> tuple[int, str]:
        with self._lock:
            self.requests.append(request)
            script = self._scripts[path]
            if script:
                return script.popleft()
            return self._defaults.get(path, (200, OK_JSON))

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self.requests.clear()

    def script(self, path: str, *answers: tuple[int, str]) -> None:
        with self._lock:
            self._scripts[path].extend(answers)

    def always(self, path: str, status: int, body: str = OK_JSON) -> None:
        with self._lock:
            self._defaults[path] = (status, body)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def json_url(self, path: str) -> str:
        """An Apprise ``json://`` channel posting to `path` here."""
        return f"json://127.0.0.1:{self.port}{path}"

    def endpoint(self, path: str, template: str) -> str:
        """A robot endpoint template (``...?access_token={token}``) pointing here."""
        return f"http://127.0.0.1:{self.port}{path}?{template}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
