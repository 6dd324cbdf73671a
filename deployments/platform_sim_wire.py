"""The simulator's wire format: JSON bodies, error answers, the request rejection its
handlers raise, and opaque keyset cursors bound to their query."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

try:
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json")


class Rejection(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Rejection(400, "invalid_json", "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise Rejection(400, "invalid_json", "body must be a JSON object")
    return body


def encode_cursor(last: str, fingerprint: str) -> str:
    raw = json.dumps({"a": last, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        after = body["a"]
        issued_for = body["q"]
        if not isinstance(after, str) or not isinstance(issued_for, str):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise Rejection(400, "invalid_cursor", "cursor is not one this platform issued") from None
    if issued_for != fingerprint:
        raise Rejection(
            400, "cursor_mismatch", "cursor was issued for a different query; start again"
        )
    return after
