"""A loopback simulator of the assessment information platform (``platform-api.yaml``).

A Starlette ASGI app served by uvicorn: bearer auth (401 with a JSON error),
``limit`` 1..1000 (400 otherwise), ``period`` pattern checks, opaque keyset
cursors bound to their query (a cursor replayed with another query gets 400),
ordering by (updated_at, record_id) / (filed_at, appeal_id), ``updated_since`` /
``since`` meaning "at or after". Data comes from a
:class:`~deployments.platform_sim_data.SimDataset`.

Faults (:class:`SimFaults`) are set at start (``faults=``) or at runtime, no auth
needed on ``/_sim``::

    GET  /_sim/faults                 current faults
    POST /_sim/faults {"error_503_every": 3, "error_429_every": 5, "retry_after": 0}
                                      merge these keys in ({"clear": true} first resets
                                      all); setting faults restarts the request count
    GET  /_sim/stats                  {"requests": n, "by_status": {"200": ..}, ...}
    DELETE /_sim/stats                zero the stats
    GET/POST /_sim/clock {"now": "2026-04-03T12:00:00+08:00" | null}
                                      what the platform has "received so far"
    GET/POST /_sim/units {"extra": [...], "missing": [...], "onboarded": {...}}
                                      how the unit list differs from the catalog
                                      (``UnitDrift``; {"clear": true}: not at all)

Each API request (``/api/…``) gets a number under a lock, so faults are exact:
``dead`` answers everything with 503 (``dead_mode: "close"`` drops the
connection instead), then ``burst_429`` answers the next K requests with 429,
then every ``error_503_every``-th request gets 503, every ``error_429_every``-th
429 with ``Retry-After: retry_after``; ``slow_ms`` delays each answered page;
``units_dead`` answers ``/api/v1/units`` alone with 503.
Faults apply before authentication, like a load balancer in front of the platform.

Use :func:`running_simulator` in tests (background thread, free port) and
:func:`run_simulator` to serve one in the foreground (the command line,
``deployments.platform_sim_cli.main_argv``, calls it). The wire format (JSON bodies,
error answers, cursors) is in ``deployments.platform_sim_wire``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deployments.platform_sim_data import (
    SimDataset,
    SimView,
    UnitDrift,
    ceil_time_key,
    parse_time,
)
from deployments.platform_sim_wire import Rejection as _Rejection
from deployments.platform_sim_wire import decode_cursor as _decode_cursor
from deployments.platform_sim_wire import encode_cursor as _encode_cursor
from deployments.platform_sim_wire import error_response as _error
from deployments.platform_sim_wire import json_body as _json_body
from deployments.platform_sim_wire import json_response as _json

__all__ = [
    "DEFAULT_TOKEN",
    "SimFaults",
    "SimState",
    "build_app",
    "run_simulator",
    "running_simulator",
]

logger = logging.getLogger(__name__)

DEFAULT_TOKEN: Final = "sim-token"
DEFAULT_LIMIT: Final = 200
MAX_LIMIT: Final = 1000
_PERIOD_RE: Final = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
_INT_RE: Final = re.compile(r"^[+-]?[0-9]{1,9}$")

# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class SimFaults:
    """Switchable failures; zero/False means off."""

    error_503_every: int = 0
    error_429_every: int = 0
    retry_after: int = 1
    slow_ms: int = 0
    dead: bool = False
    dead_mode: Literal["status", "close"] = "status"
    burst_429: int = 0
    units_dead: bool = False
    """``/api/v1/units`` alone answers 503 (the other endpoints as usual)."""

    def __post_init__(self) -> None:
        for name in ("error_503_every", "error_429_every", "retry_after", "slow_ms", "burst_429"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        for flag in ("dead", "units_dead"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        if self.dead_mode not in ("status", "close"):
            raise ValueError(f"dead_mode must be 'status' or 'close', got {self.dead_mode!r}")

    def updated(self, changes: Mapping[str, Any]) -> SimFaults:
        """A copy with ``changes`` applied (``clear: true`` starts from no faults)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known - {"clear"}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        base = SimFaults() if changes.get("clear") else self
        return replace(base, **{k: v for k, v in changes.items() if k in known})


class SimState:
    """The simulator's mutable state: dataset, token, faults and counters."""

    def __init__(self, dataset: SimDataset, token: str, faults: SimFaults | None = None) -> None:
        self.dataset = dataset
        self._token = token.encode()
        self._lock = threading.Lock()
        self._faults = faults or SimFaults()
        self._since_faults = 0  # API requests since the faults were last set
        self._burst_left = self._faults.burst_429
        self.requests = 0
        self.by_status: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"SimState(year={self.dataset.year}, faults={self._faults!r})"

    @property
    def faults(self) -> SimFaults:
        return self._faults

    def set_faults(self, faults: SimFaults) -> None:
        with self._lock:
            self._faults = faults
            self._since_faults = 0
            self._burst_left = faults.burst_429

    def token_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self._token)

    def decide(self, path: str) -> tuple[str | None, SimFaults]:
        """Count one API request and say which fault (if any) answers it."""
        with self._lock:
            self.requests += 1
            self.by_path[path] += 1
            self._since_faults += 1
            n = self._since_faults
            f = self._faults
            if f.dead:
                return ("close" if f.dead_mode == "close" else "503"), f
            if f.units_dead and path == "/api/v1/units":
                return "503", f
            if self._burst_left > 0:
                self._burst_left -= 1
                return "429", f
            if f.error_503_every and n % f.error_503_every == 0:
                return "503", f
            if f.error_429_every and n % f.error_429_every == 0:
                return "429", f
            return None, f

    def record(self, status: str) -> None:
        with self._lock:
            self.by_status[status] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "by_status": dict(sorted(self.by_status.items())),
                "by_path": dict(sorted(self.by_path.items())),
                "faults": asdict(self._faults),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.requests = 0
            self.by_status.clear()
            self.by_path.clear()


# --------------------------------------------------------------------------- ASGI


class _FaultLayer:
    """Counts API requests, injects faults, records statuses; /_sim passes straight through."""

    def __init__(self, app: ASGIApp, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = self.state
        fault, faults = state.decide(scope["path"])
        if fault == "close":
            state.record("dropped")
            # headers promising a body, then nothing: uvicorn closes the connection
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            return
        if fault == "503":
            state.record("503")
            await _error(503, "unavailable", "platform temporarily unavailable")(
                scope, receive, send
            )
            return
        if fault == "429":
            state.record("429")
            await _error(
                429,
                "rate_limited",
                "too many requests, retry later",
                {"Retry-After": str(faults.retry_after)},
            )(scope, receive, send)
            return
        if faults.slow_ms:
            await asyncio.sleep(faults.slow_ms / 1000)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.record(str(message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send)


class _SimApi:
    def __init__(self, state: SimState) -> None:
        self.state = state

    # ------------------------------------------------------------------ helpers

    def _check_auth(self, request: Request) -> None:
        if not self.state.token_ok(request.headers.get("authorization")):
            raise _Rejection(401, "unauthorized", "missing or invalid bearer token")

    @staticmethod
    def _limit(request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        if not _INT_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
            raise _Rejection(
                400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw!r}"
            )
        return int(raw)

    @staticmethod
    def _time_param(request: Request, name: str) -> str | None:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return None
        try:
            return ceil_time_key(parse_time(raw))
        except ValueError:
            raise _Rejection(
                400, f"invalid_{name}", f"{name} must be an RFC 3339 time with an offset"
            ) from None

    def _page(
        self,
        request: Request,
        view: SimView,
        query: Sequence[object],
        start_key: str | None,
    ) -> Response:
        limit = self._limit(request)
        fingerprint = hashlib.sha256(json.dumps([request.url.path, *query]).encode()).hexdigest()[
            :16
        ]
        keys = view.keys
        start = 0 if start_key is None else bisect.bisect_left(keys, start_key)
        raw_cursor = request.query_params.get("cursor")
        if raw_cursor:
            after = _decode_cursor(raw_cursor, fingerprint)
            start = max(start, bisect.bisect_right(keys, after))
        end = min(start + limit, len(keys))
        items = view.items[start:end]
        next_cursor = _encode_cursor(keys[end - 1], fingerprint) if end < len(keys) else None
        return _json({"items": items, "next_cursor": next_cursor})

    # ------------------------------------------------------------------ endpoints

    async def units(self, request: Request) -> Response:
        self._check_auth(request)
        return self._page(request, self.state.dataset.unit_view(), [], None)

    async def progress(self, request: Request) -> Response:
        self._check_auth(request)
        period = request.query_params.get("period")
        if period is None:
            raise _Rejection(400, "missing_period", "period is required, e.g. 2026-03")
        if not _PERIOD_RE.fullmatch(period):
            raise _Rejection(
                400, "invalid_period", f"period must look like 2026-03, got {period!r}"
            )
        since = self._time_param(request, "updated_since")
        view = self.state.dataset.progress_view(period)
        return self._page(request, view, [period, since], since)

    async def appeals(self, request: Request) -> Response:
        self._check_auth(request)
        since = self._time_param(request, "since")
        view = self.state.dataset.appeal_view()
        return self._page(request, view, [since], since)

    # ------------------------------------------------------------------ /_sim

    async def get_faults(self, request: Request) -> Response:
        return _json(asdict(self.state.faults))

    async def post_faults(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            faults = self.state.faults.updated(body)
        except (TypeError, ValueError) as exc:
            raise _Rejection(400, "invalid_faults", str(exc)) from None
        self.state.set_faults(faults)
        logger.info("Simulator faults set to %s", faults)
        return _json(asdict(faults))

    async def get_stats(self, request: Request) -> Response:
        return _json(self.state.stats())

    async def delete_stats(self, request: Request) -> Response:
        self.state.reset_stats()
        return _json(self.state.stats())

    async def get_clock(self, request: Request) -> Response:
        return _json({"now": self.state.dataset.now_key})

    async def post_clock(self, request: Request) -> Response:
        body = await _json_body(request)
        raw = body.get("now")
        try:
            now = None if raw is None else parse_time(str(raw))
        except ValueError:
            raise _Rejection(400, "invalid_now", "now must be an RFC 3339 time or null") from None
        self.state.dataset.now = now
        return _json({"now": self.state.dataset.now_key})

    async def get_units(self, request: Request) -> Response:
        return _json(self.state.dataset.unit_drift.to_json())

    async def post_units(self, request: Request) -> Response:
        body = await _json_body(request)
        try:
            drift = UnitDrift() if body.get("clear") else UnitDrift.from_json(body)
        except (TypeError, ValueError) as exc:
            raise _Rejection(400, "invalid_units", str(exc)) from None
        self.state.dataset.unit_drift = drift
        return _json(drift.to_json())


class SimApp:
    """The simulator's ASGI app; ``state`` is reachable for in-process tweaks."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        api = _SimApi(state)

        async def rejected(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, _Rejection)
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return _error(exc.status, exc.code, exc.message, headers)

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
            return _error(exc.status_code, code, f"{exc.detail}: {request.url.path}")

        starlette = Starlette(
            routes=[
                Route("/api/v1/units", api.units, methods=["GET"]),
                Route("/api/v1/progress", api.progress, methods=["GET"]),
                Route("/api/v1/appeals", api.appeals, methods=["GET"]),
                Route("/_sim/faults", api.get_faults, methods=["GET"]),
                Route("/_sim/faults", api.post_faults, methods=["POST"]),
                Route("/_sim/stats", api.get_stats, methods=["GET"]),
                Route("/_sim/stats", api.delete_stats, methods=["DELETE"]),
                Route("/_sim/clock", api.get_clock, methods=["GET"]),
                Route("/_sim/clock", api.post_clock, methods=["POST"]),
                Route("/_sim/units", api.get_units, methods=["GET"]),
                Route("/_sim/units", api.post_units, methods=["POST"]),
            ],
            exception_handlers={_Rejection: rejected, HTTPException: http_error},
        )
        self._app = _FaultLayer(starlette, state)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def build_app(
    dataset: SimDataset, *, token: str = DEFAULT_TOKEN, faults: SimFaults | None = None
) -> SimApp:
    """The simulator as an ASGI app (also usable with ``httpx.ASGITransport``)."""
    return SimApp(SimState(dataset, token, faults))


# --------------------------------------------------------------------------- serving


class _QuietDeliberateDrops(logging.Filter):
    """Hide uvicorn's complaint about the response we cut short on purpose (dead_mode=close)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def _uvicorn_config(app: SimApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietDeliberateDrops())
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


def run_simulator(
    dataset: SimDataset,
    host: str = "127.0.0.1",
    port: int = 8700,
    token: str = DEFAULT_TOKEN,
    faults: SimFaults | None = None,
    *,
    log_level: str = "warning",
) -> None:
    """Serve the simulator in the foreground until interrupted (Ctrl-C)."""
    app = build_app(dataset, token=token, faults=faults)
    logger.warning("Platform simulator for %d on http://%s:%d", dataset.year, host, port)
    uvicorn.Server(_uvicorn_config(app, host, port, log_level)).run()


@contextlib.contextmanager
def running_simulator(
    dataset: SimDataset,
    *,
    token: str = DEFAULT_TOKEN,
    faults: SimFaults | None = None,
    host: str = "127.0.0.1",
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> Iterator[str]:
    """Serve the simulator on a free loopback port in a background thread; yield its base URL."""
    app = build_app(dataset, token=token, faults=faults)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(app, host, port, log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"platform-sim-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"platform simulator did not start on {host}:{port}")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
