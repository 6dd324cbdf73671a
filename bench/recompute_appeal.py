"""Benchmark: the recomputation after an appeal in a province, next to a flow run's start-up.

Set-up, untimed: a synthetic province (``bench.province``) of N records a month, the
cycles of 2026-01 .. 2026-M run through their flows (``--months M``, default 3: three
monthly analyses; 6 adds the half-year evaluation, 12 the annual assessment, so the
category's published results are recomputed too), then one data-error appeal on the
red cell of month M with the largest pre-deduction (one unit, one indicator) and a
``corrected`` ruling that puts the month's expected value in its place (it takes
effect at once).

Timed, in this order, in the same process and with the same Prefect settings:

- ``trivial flow``: a flow run that does nothing (the median of ``--trivial`` runs): the
  start-up every flow run pays;
- ``recompute flow``: the ``recompute_after_appeal`` flow run for the ruling;
- ``recompute body``: ``tasks.appeals.recompute.recompute_ruling`` inside that run (the
  recompute task's body: lock, gather, plan, book, queue the unit's message), and
  ``explain body``: ``load_explain`` inside it (the run's artifact);
- ``second run``: the same flow again, which must book and send nothing.

On PostgreSQL the set-up ends with an ``ANALYZE`` (``--no-analyze`` to skip it): the
test server runs without autovacuum, and with no statistics at all the planner picks
nested loops that read the whole outbox for each unit.

``work beyond start-up`` = recompute flow − trivial flow; the target is ≤ 1 s whatever
the province's size. On this Prefect (3.9, ephemeral server) a flow run's wall time
moves in steps of about a second: a run whose tasks work for up to ~0.6 s takes as long
as the trivial one, so the difference can read 0 while the bodies worked; read it with
the bodies' own times. The result is checked (the unit's ledger got the correcting entry,
the cell is the ruled one, the second run booked nothing), so the figure cannot be a
no-op's.

Run from the project folder::

    .venv/bin/python -m bench.recompute_appeal --records 100000
    .venv/bin/python -m bench.recompute_appeal --records 100000 --db postgresql

This is a script, never a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, text

from bench.monthly_analysis import scratch_database
from bench.province import YEAR, province, simulator, use_environment
from models.persistence.database import make_engine, session_scope, upgrade_database
from models.persistence.tables import Appeal
from models.rules import CalendarFallbackWarning, Ruling, RulingKind, WorkCalendar
from tasks.catalog import save_catalog

TOKEN = "bench-token"
T = TypeVar("T")


class Timed:
    """Wraps a function: records the wall time of each call (and profiles it if asked)."""

    def __init__(self, func: Callable[..., Any], profile: cProfile.Profile | None) -> None:
        self.func = func
        self.profile = profile
        self.seconds: list[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            if self.profile is not None:
                return self.profile.runcall(self.func, *args, **kwargs)
            return self.func(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - started)


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def file_and_rule(engine: Engine, month: str, now: datetime) -> dict[str, Any]:
    """A data-error appeal on the red cell of ``month`` with the largest pre-deduction, and
    a ``corrected`` ruling (the expected value) that takes effect at once."""
    from tasks.appeals.rulings import record_ruling

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT unit_id, indicator_id, expected, pre_deduction FROM monthly_assessment "
                "WHERE period = :p AND level = 'red' AND actual IS NOT NULL "
                "ORDER BY pre_deduction DESC, unit_id, indicator_id LIMIT 1"
            ),
            {"p": month},
        ).one()
    unit_id, indicator_id = int(row[0]), int(row[1])
    expected = Decimal(str(row[2]))
    filed = WorkCalendar().monthly_analysis_at(month) + timedelta(hours=2)
    with session_scope(engine) as session:
        appeal = Appeal(
            platform_id=f"bench-{unit_id}-{indicator_id}-{month}",
            unit_id=unit_id,
            indicator_id=indicator_id,
            period=month,
            kind="data_error",
            claimed_value=expected,
            reason="基准测试：平台数据有误",
            filed_at=filed,
            received_at=filed + timedelta(minutes=5),
            status="registered",
        )
        session.add(appeal)
        session.flush()
        assert appeal.id is not None
        record = record_ruling(
            session,
            appeal.id,
            Ruling(RulingKind.CORRECTED, expected),
            reason="核实后按实际完成值更正",
            document_ref="基准〔2026〕1号",
            ruled_by="省考核办",
            now=now,
        )
    assert record.effective
    return {
        "ruling_id": record.ruling_id,
        "unit_id": unit_id,
        "indicator_id": indicator_id,
        "month": month,
        "pre_before": Decimal(str(row[3])),
    }


def _entries(engine: Engine) -> int:
    return int(
        _scalar(engine, "SELECT COUNT(*) FROM deduction_entry")
        + _scalar(engine, "SELECT COUNT(*) FROM warning_entry")
        + _scalar(engine, "SELECT COUNT(*) FROM negative_list_entry")
        + _scalar(engine, "SELECT COUNT(*) FROM result_entry")
        + _scalar(engine, "SELECT COUNT(*) FROM message")
    )


def check_booked(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    """The unit's ledger holds the ruling's correcting entry and equals the ruled cell."""
    params = {"u": case["unit_id"], "i": case["indicator_id"], "y": YEAR}
    booked = _scalar(
        engine,
        "SELECT COUNT(*) FROM deduction_entry WHERE ruling_id = :r AND unit_id = :u "
        "AND indicator_id = :i",
        r=case["ruling_id"],
        u=case["unit_id"],
        i=case["indicator_id"],
    )
    assert booked == 1, f"expected one correcting deduction entry, found {booked}"
    total = Decimal(
        str(
            _scalar(
                engine,
                "SELECT COALESCE(SUM(amount), 0) FROM deduction_entry "
                "WHERE unit_id = :u AND indicator_id = :i AND year = :y",
                **params,
            )
        )
    ).quantize(Decimal("0.01"))
    with engine.connect() as conn:
        level, pre = conn.execute(
            text(
                "SELECT level, pre_deduction FROM monthly_assessment "
                "WHERE unit_id = :u AND indicator_id = :i AND period = :m"
            ),
            {**params, "m": case["month"]},
        ).one()
    pre = Decimal(str(pre)).quantize(Decimal("0.01"))
    assert level != "red", f"the ruled cell is still red ({level})"
    assert total == pre, f"ledger {total} != the ruled cell's pre-deduction {pre}"
    outcome = _scalar(
        engine,
        "SELECT COUNT(*) FROM message WHERE kind = 'appeal_outcome' AND unit_id = :u",
        u=case["unit_id"],
    )
    assert outcome == 1, f"expected one appeal_outcome message, found {outcome}"
    return {"level_after": level, "ledger_after": total}


def analyse(months: int) -> None:
    """The cycle flows in the calendar's order up to ``months``: June through the half-year
    evaluation (it runs June's analysis below it), December through the annual assessment
    (it runs December's analysis and the second half-year below it)."""
    import flows.common
    from flows.annual_assessment import annual_assessment
    from flows.half_year_evaluation import half_year_evaluation
    from flows.monthly_analysis import monthly_analysis

    # Every period of the year is due after its annual time (a cycle refuses one not due).
    after_the_year = datetime(YEAR + 1, 2, 1, tzinfo=UTC)
    flows.common.time_source = lambda: after_the_year
    try:
        for m in range(1, months + 1):
            if m == 6:
                state = half_year_evaluation(period=f"{YEAR}-H1", return_state=True)
            elif m == 12:
                state = annual_assessment(period=str(YEAR), return_state=True)
            else:
                state = monthly_analysis(period=f"{YEAR}-{m:02d}", return_state=True)
            assert state.is_completed(), state.message
    finally:
        flows.common.time_source = None


def run(
    records: int,
    kind: str,
    months: int,
    per_unit: int,
    seed: int,
    trivial_runs: int,
    profile_path: str | None,
    analyze: bool = True,
) -> dict[str, Any]:
    units, indicators, catalog = province(records, per_unit, seed)
    month = f"{YEAR}-{months:02d}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        simulator(len(units), len(indicators), seed, TOKEN) as sim_url,
        scratch_database(kind, Path(tmp)) as db_url,
    ):
        use_environment(db_url, sim_url, TOKEN, Path(tmp))
        upgrade_database(db_url)
        engine = make_engine(db_url)
        with session_scope(engine) as session:
            save_catalog(session, catalog)

        from prefect import flow

        import tasks.appeals.explain as explain_module
        import tasks.appeals.recompute as recompute_module
        from flows.recompute_after_appeal import recompute_after_appeal

        @flow(name="bench_trivial")
        def trivial() -> None:
            return None

        started = time.perf_counter()
        analyse(months)
        setup = time.perf_counter() - started
        if kind == "postgresql" and analyze:
            # the test server runs without autovacuum: give the planner the statistics a
            # production server's autovacuum would have gathered after the year's loads
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        cells = int(
            _scalar(engine, "SELECT COUNT(*) FROM monthly_assessment WHERE period = :p", p=month)
        )
        case = file_and_rule(engine, month, datetime.now(UTC))

        # the flow run's own start-up: a trivial flow run, measured right before
        trivial()  # warm (the first run of a flow registers it)
        spans = []
        for _ in range(trivial_runs):
            started = time.perf_counter()
            trivial()
            spans.append(time.perf_counter() - started)
        trivial_s = statistics.median(spans)

        profile = cProfile.Profile() if profile_path else None
        body = Timed(recompute_module.recompute_ruling, profile)
        explain = Timed(explain_module.load_explain, profile)
        recompute_module.recompute_ruling = body
        explain_module.load_explain = explain
        try:
            before = _entries(engine)
            started = time.perf_counter()
            state = recompute_after_appeal(ruling_id=case["ruling_id"], return_state=True)
            recompute_s = time.perf_counter() - started
            assert state.is_completed(), state.message
            summary: Any = state.result()
            booked = _entries(engine) - before
            checked = check_booked(engine, case)
            if profile is not None and profile_path:
                profile.dump_stats(profile_path)
                profile = None
                body.profile = explain.profile = None

            before = _entries(engine)
            started = time.perf_counter()
            state = recompute_after_appeal(ruling_id=case["ruling_id"], return_state=True)
            second_s = time.perf_counter() - started
            assert state.is_completed(), state.message
            second: Any = state.result()
            assert _entries(engine) == before, "the second run booked or queued something"
            assert not second.get("cells") and not second.get("deductions"), second
        finally:
            recompute_module.recompute_ruling = body.func
            explain_module.load_explain = explain.func
        engine.dispose()
    return {
        "records": cells,
        "units": len(units),
        "db": kind + (" (ANALYZEd)" if kind == "postgresql" and analyze else ""),
        "months analysed": f"{YEAR}-01..{month} (set-up {setup:.0f} s)",
        "ruling": (
            f"{case['ruling_id']}: unit {case['unit_id']} indicator {case['indicator_id']} "
            f"{month} corrected, pre-deduction {case['pre_before']} -> {checked['ledger_after']} "
            f"({checked['level_after']})"
        ),
        "rows booked/queued": f"{booked} ({summary.get('deductions')} deduction, "
        f"{summary.get('warnings')} warning, {summary.get('negative_events')} negative, "
        f"{summary.get('results')} results, messages {summary.get('messages')})",
        "trivial flow s": f"{trivial_s:.3f} (median of {trivial_runs}: "
        + ", ".join(f"{s:.3f}" for s in spans)
        + ")",
        "recompute flow s": f"{recompute_s:.3f}",
        "work beyond start-up s": f"{recompute_s - trivial_s:.3f}",
        "recompute body s": f"{body.seconds[0]:.3f}",
        "explain body s": f"{explain.seconds[0]:.3f}",
        "bodies together s": f"{body.seconds[0] + explain.seconds[0]:.3f}",
        "second run s": f"{second_s:.3f} (body {body.seconds[1]:.3f}, booked nothing)",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--months",
        type=int,
        choices=range(1, 13),
        default=3,
        metavar="M",
        help="run the cycles of 2026-01 .. 2026-M (6: with the half-year evaluation, "
        "12: with the annual assessment); the appeal is on month M",
    )
    parser.add_argument("--indicators-per-unit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trivial", type=int, default=5, help="trivial flow runs (median)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the recompute's bodies")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="PostgreSQL: skip the ANALYZE after the set-up (no planner statistics)",
    )
    args = parser.parse_args(argv)
    # the annual notices' appeal window runs into 2027, whose holidays are not loaded
    warnings.simplefilter("ignore", CalendarFallbackWarning)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result = run(
        args.records,
        args.db,
        args.months,
        args.indicators_per_unit,
        args.seed,
        args.trivial,
        args.profile,
        args.analyze,
    )
    result["load average"] = f"{load} -> {result['load average']}"
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
