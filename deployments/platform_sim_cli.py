"""``platform-sim`` / ``python -m deployments.platform_sim_cli``: serve a simulated platform
in the foreground (``deployments.platform_sim``), with faults from the command line."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from deployments.platform_sim import DEFAULT_TOKEN, SimFaults, run_simulator
from deployments.platform_sim_data import (
    SimDataset,
    format_time,
    generate_year,
    parse_time,
    synthetic_catalog,
)

logger = logging.getLogger("deployments.platform_sim")


def _parse_now(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time with offset: {text!r}") from None


def main_argv(
    argv: Sequence[str] | None = None,
    *,
    dataset_factory: Callable[[int, int, datetime | None], SimDataset] | None = None,
) -> int:
    """``platform-sim`` command line: serve a synthetic (or supplied) year.

    ``dataset_factory(year, seed, now)`` lets a caller serve its own catalog.
    """
    parser = argparse.ArgumentParser(
        prog="platform-sim", description="Serve a simulated assessment information platform."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token clients must send")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--units", type=int, default=30, help="synthetic catalog: units")
    parser.add_argument("--indicators", type=int, default=40, help="synthetic catalog: indicators")
    parser.add_argument("--now", type=_parse_now, default=None, help="hide records updated later")
    parser.add_argument("--error-503-every", type=int, default=0)
    parser.add_argument("--error-429-every", type=int, default=0)
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--slow-ms", type=int, default=0)
    parser.add_argument("--dead", action="store_true")
    parser.add_argument("--dead-mode", choices=["status", "close"], default="status")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        faults = SimFaults(
            error_503_every=args.error_503_every,
            error_429_every=args.error_429_every,
            retry_after=args.retry_after,
            slow_ms=args.slow_ms,
            dead=args.dead,
            dead_mode=args.dead_mode,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if dataset_factory is not None:
        dataset = dataset_factory(args.year, args.seed, args.now)
    else:
        units, indicators = synthetic_catalog(args.units, args.indicators, args.seed)
        dataset = generate_year(units, indicators, args.year, args.seed, now=args.now)
    if args.now is not None:
        logger.warning("Simulator clock at %s", format_time(args.now))
    run_simulator(dataset, args.host, args.port, args.token, faults, log_level=args.log_level)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main_argv())
