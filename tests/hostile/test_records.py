"""Each record on its own (issue 17 item 2, issue 13 item 9): a hostile record or appeal is
set aside with its reason and everything else is kept, on SQLite and PostgreSQL alike;
platform times later than *now* move no watermark."""

from __future__ import annotations

import ast
import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from deployments.platform_sim_data import SimDataset
from models.persistence.database import session_scope
from models.persistence.tables import CollectionWatermark
from models.plans.appeal_intake import IndicatorRef, IntakeContext, UnitRef, plan_intake
from models.plans.limits import (
    MAX_ABS_VALUE,
    MAX_CLOCK_SKEW,
    MAX_DETAIL,
    MAX_RECORD_ID,
    clamp_watermark,
    clean_text,
    identifier_problem,
    number_problem,
    parse_time,
    safe_json,
    usable_watermark,
)
from models.plans.records import (
    BadRecord,
    GoodRecord,
    check_progress_page,
    check_progress_record,
    find_conflicts,
    quarantine_row,
)
from models.rules import Period, WorkCalendar
from tasks.appeals.intake import collect_appeals
from tasks.collect import collect_progress
from tasks.platform import PlatformClient, RetryPolicy
from tests.hostile.records_platform import TOKEN, RawPlatform, paged, serving

NOW = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)  # after March's last platform time
MARCH = "2026-03"
UNITS = {"C01": 1, "D01": 2}
INDICATORS = {"gdp": 10, "tasks": 11}
COUNTS = frozenset({11})


def _record(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "record_id": "r-1",
        "unit_code": "C01",
        "indicator_code": "gdp",
        "period": MARCH,
        "value": 12.5,
        "status": "submitted",
        "reported_at": "2026-04-01T09:00:00+08:00",
        "updated_at": "2026-04-01T09:00:00+08:00",
        "evidence_count": 1,
        "note": None,
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def _check(raw: Any) -> GoodRecord | BadRecord:
    return check_progress_record(raw, MARCH, UNITS, INDICATORS, counts=COUNTS, now=NOW)


# ------------------------------------------------------------------------ pure: limits


def test_a_value_must_be_plausible_and_fit_the_column() -> None:
    assert number_problem(Decimal("123456.789")) is None
    assert number_problem(MAX_ABS_VALUE) is None
    assert number_problem(Decimal("1e14"))[0] == "value_out_of_range"  # type: ignore[index]
    assert number_problem(Decimal("-1e20"))[0] == "value_out_of_range"  # type: ignore[index]
    assert number_problem(Decimal("NaN"))[0] == "non_finite_value"  # type: ignore[index]
    assert number_problem(Decimal(-500)) is None
    assert number_problem(Decimal(-500), count=True)[0] == "value_out_of_range"  # type: ignore[index]


def test_an_identifier_must_be_a_printable_string_that_fits_its_column() -> None:
    assert identifier_problem("r202603-C01-gdp") is None
    assert identifier_problem("记录-1") is None
    assert identifier_problem("r" * MAX_RECORD_ID) is None
    assert identifier_problem("r" * (MAX_RECORD_ID + 1)) is not None
    assert identifier_problem("a\x00b") is not None
    assert identifier_problem("a\ud800") is not None
    assert identifier_problem(7) is not None
    assert identifier_problem("") is not None


def test_a_platform_time_needs_an_offset_and_a_plausible_year() -> None:
    assert parse_time("2026-04-01T09:00:00+08:00") == datetime(2026, 4, 1, 1, tzinfo=UTC)
    assert parse_time("2026-04-01T01:00:00Z") == datetime(2026, 4, 1, 1, tzinfo=UTC)
    assert parse_time("2026-04-01T09:00:00") is None
    assert parse_time("0001-01-01T00:00:00+08:00") is None
    assert parse_time("1999-12-31T23:00:00+00:00") is None
    assert parse_time("x" * 1000) is None
    assert parse_time(20260401) is None


def test_a_watermark_never_passes_now_and_one_left_in_the_future_is_dropped() -> None:
    earlier, later = NOW - timedelta(days=2), NOW - timedelta(days=1)
    assert clamp_watermark(earlier, later, NOW) == later
    assert clamp_watermark(later, earlier, NOW) == later
    assert clamp_watermark(None, NOW + timedelta(minutes=3), NOW) == NOW
    assert clamp_watermark(datetime(2098, 1, 1, tzinfo=UTC), earlier, NOW) == earlier
    assert clamp_watermark(datetime(2098, 1, 1, tzinfo=UTC), None, NOW) is None
    assert usable_watermark(datetime(2098, 1, 1, tzinfo=UTC), NOW) is None
    assert usable_watermark(earlier, NOW) == earlier


def test_what_a_hostile_record_brings_is_made_storable() -> None:
    raw = {
        "value": float("nan"),
        "big": 10**30,
        "inf": float("-inf"),
        "text": "a\x00b" + "x" * 5000,
        "lone": "\udc80",
        "deep": [[[[[[[["bottom"]]]]]]]],
        "many": list(range(500)),
    }
    safe = safe_json(raw)
    json.dumps(safe, allow_nan=False).encode("utf-8")  # strict JSON, valid UTF-8
    assert safe["value"] == "nan" and safe["inf"] == "-inf"
    assert len(safe["text"]) <= 1000 and "\x00" not in safe["text"]
    assert len(safe["many"]) == 101
    assert clean_text("x" * 3000, 2000).endswith("…") and len(clean_text("x" * 3000, 2000)) == 2000


# ----------------------------------------------------------------------- pure: records

HOSTILE: list[tuple[str, Any, str]] = [
    ("value 1e14", _record(value=1e14), "value_out_of_range"),
    ("value 1e20", _record(value=1e20), "value_out_of_range"),
    ("value 1e300", _record(value=1e300), "value_out_of_range"),
    ("a negative count", _record(indicator_code="tasks", value=-500), "value_out_of_range"),
    ("NaN", _record(value=float("nan")), "non_finite_value"),
    ("Infinity", _record(value=float("inf")), "non_finite_value"),
    ("a number", 42, "not_an_object"),
    ("an array", ["r-1", 1], "not_an_object"),
    ("a 200-character record id", _record(record_id="r" * 200), "too_long"),
    ("a NUL in the record id", _record(record_id="r\x001"), "bad_characters"),
    ("a record id that is a number", _record(record_id=17), "bad_type"),
    ("period 'x'*50", _record(period="x" * 50), "wrong_period"),
    ("a 500-character unit code", _record(unit_code="U" * 500), "unknown_unit"),
    ("stamped 2098", _record(updated_at="2098-01-01T00:00:00+08:00"), "future_time"),
    ("reported 2098", _record(reported_at="2098-01-01T00:00:00+08:00"), "future_time"),
    ("year 1", _record(updated_at="0001-01-01T00:00:00+08:00"), "bad_time"),
    ("a value in words", _record(value="12,5"), "non_numeric_value"),
    ("a boolean value", _record(value=True), "non_numeric_value"),
    ("a status that is a number", _record(status=7), "bad_type"),
    ("a unit code that is a list", _record(unit_code=["C01"]), "bad_type"),
    ("evidence in words", _record(evidence_count="many"), "bad_type"),
    ("evidence beyond int4", _record(evidence_count=10**12), "value_out_of_range"),
    ("a note that is a number", _record(note=5), "bad_type"),
    ("no updated_at", _record(updated_at=...), "missing_fields"),
    ("no record id", _record(record_id=...), "missing_fields"),
]


@pytest.mark.parametrize(("raw", "reason"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_a_hostile_record_is_set_aside_with_its_reason(raw: Any, reason: str) -> None:
    checked = _check(raw)
    assert isinstance(checked, BadRecord)
    assert checked.reason == reason
    assert checked.detail
    row = quarantine_row(checked, "progress", NOW, MARCH)
    assert row["period"] == MARCH
    assert row["record_id"] is None or len(row["record_id"]) <= MAX_RECORD_ID
    assert len(row["detail"]) <= MAX_DETAIL and len(row["fingerprint"]) == 64
    json.dumps(row["raw"], allow_nan=False).encode("utf-8")


def test_the_fast_path_and_the_careful_path_agree_on_every_record() -> None:
    good = [
        _record(record_id=f"g{n}", value=v, note=note)
        for n, (v, note) in enumerate(
            [(0, None), (1e12, "说明"), (-3.5, None), (7, "line\nbreak"), (None, None)]
        )
    ]
    good[-1]["status"] = "draft"
    items = [*good, *(h[1] for h in HOSTILE)]
    page = check_progress_page(items, MARCH, UNITS, INDICATORS, counts=COUNTS, now=NOW)
    assert [b.reason for b in page.bad] == [h[2] for h in HOSTILE]
    assert [row[0] for row in page.good] == ["g0", "g1", "g2", "g3", "g4"]
    careful = [_check(raw) for raw in good]
    assert [tuple(vars(c).values()) for c in careful] == page.good  # type: ignore[arg-type]
    assert page.high_water == datetime(2026, 4, 1, 1, tzinfo=UTC)


def test_a_record_a_few_minutes_ahead_is_taken_as_clock_skew() -> None:
    ahead = (NOW + MAX_CLOCK_SKEW - timedelta(seconds=1)).isoformat()
    too_far = (NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)).isoformat()
    assert isinstance(_check(_record(updated_at=ahead, reported_at=ahead)), GoodRecord)
    assert _check(_record(updated_at=too_far)).reason == "future_time"  # type: ignore[union-attr]


def test_a_long_or_broken_note_is_kept_cleaned_and_cut() -> None:
    checked = _check(_record(note="说明\x00" + "长" * 5000))
    assert isinstance(checked, GoodRecord)
    assert checked.note is not None and len(checked.note) == 2000 and "\x00" not in checked.note


def test_a_same_version_with_another_value_is_a_conflict_and_an_equal_one_is_not() -> None:
    checked = _check(_record())
    assert isinstance(checked, GoodRecord)
    row = tuple(vars(checked).values())
    key = (checked.record_id, checked.updated_at.astimezone(UTC))
    same = {key: (Decimal("12.500000"), "submitted")}
    assert find_conflicts([row], same) == []  # type: ignore[list-item]
    other = {key: (Decimal("13"), "submitted")}
    (conflict,) = find_conflicts([row], other)  # type: ignore[list-item]
    assert conflict.reason == "conflicting_version" and conflict.record_id == "r-1"
    assert "13" in conflict.detail and "12.5" in conflict.detail


CONTEXT = IntakeContext(
    units={"C01": UnitRef(1, "key_development")},
    indicators={
        (2026, "gdp"): IndicatorRef(10, frozenset({"key_development"})),
        (2026, "tasks"): IndicatorRef(11, frozenset({"key_development"}), count=True),
    },
    calendar=WorkCalendar(),
    now=NOW,
)


def _appeal(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "appeal_id": "ap-1",
        "unit_code": "C01",
        "indicator_code": "gdp",
        "period": MARCH,
        "kind": "data_error",
        "claimed_value": 123.4,
        "reason": "平台录入有误",
        "filed_at": "2026-04-09T10:00:00+08:00",
    }
    raw.update(overrides)
    return raw


def test_an_implausible_or_future_appeal_is_set_aside_and_moves_no_watermark() -> None:
    plan = plan_intake(
        [
            _appeal(),
            _appeal(appeal_id="huge", claimed_value=1e20),
            _appeal(appeal_id="negative", indicator_code="tasks", claimed_value=-5),
            _appeal(appeal_id="future", filed_at="2027-01-19T10:00:00+08:00"),
            _appeal(appeal_id="a" * 200),
            _appeal(appeal_id="nul\x00"),
        ],
        CONTEXT,
    )
    assert [a.platform_id for a in plan.appeals] == ["ap-1"]
    assert [(b.record_id, b.reason) for b in plan.bad] == [
        ("huge", "value_out_of_range"),
        ("negative", "value_out_of_range"),
        ("future", "future_time"),
        ("a" * 200, "too_long"),
        ("nul\x00", "bad_characters"),
    ]
    assert plan.high_water == datetime(2026, 4, 9, 2, tzinfo=UTC)


def test_an_appeals_odd_kind_or_value_text_is_refused_in_storable_words() -> None:
    plan = plan_intake(
        [
            _appeal(appeal_id="k", kind="投诉\x00" * 30),
            _appeal(appeal_id="v", claimed_value="约\x00120"),
        ],
        CONTEXT,
    )
    for appeal in plan.refused:
        assert "\x00" not in appeal.kind + appeal.refusal_reason
        assert len(appeal.kind) <= 20 and len(appeal.refusal_reason) <= 500
    assert [a.platform_id for a in plan.refused] == ["k", "v"]


@pytest.mark.parametrize("name", ["limits", "records", "appeal_intake"])
def test_the_checks_are_pure_and_never_read_the_clock(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "models" / "plans" / f"{name}.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            roots = {m.split(".")[0] for m in modules}
            assert not roots & {"sqlalchemy", "sqlmodel", "httpx", "prefect", "tasks", "flows"}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in {"now", "utcnow", "today", "time", "monotonic"}


# ------------------------------------------------------------- database, loopback HTTP


def _text(raw: dict[str, Any]) -> str:
    return json.dumps(raw, ensure_ascii=False)


def _collect(engine: Engine, url: str, now: datetime = NOW) -> Any:
    async def run() -> Any:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = PlatformClient(
                http, token=TOKEN, page_limit=50, retry=RetryPolicy(max_attempts=2)
            )
            return await collect_progress(engine, client, Period.parse(MARCH), now)

    return asyncio.run(run())


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def _watermark(engine: Engine, source: str, period: str) -> datetime | None:
    found = _rows(
        engine,
        "SELECT high_water FROM collection_watermark WHERE source = :s AND period = :p",
        s=source,
        p=period,
    )
    if not found or found[0][0] is None:
        return None
    value = found[0][0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@pytest.fixture
def good_march(demo_year: SimDataset) -> list[dict[str, Any]]:
    """297 good records of the demo March, in the platform's order."""
    bad = demo_year.month(MARCH).expected_reason
    good = [r for r in demo_year.visible_progress(MARCH) if r["record_id"] not in bad]
    return good[:297]


def _hostile_march(good: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    """(item as JSON text, its record id as stored or None, expected reason)."""
    base = dict(good[0])
    count = next(r for r in good if r["indicator_code"] == "political_review")
    twin = dict(good[10])
    twin["value"] = (twin["value"] or 0) + 1  # the same version, another value

    def bad(rid: str, **changes: Any) -> dict[str, Any]:
        return {**base, "record_id": rid, **changes}

    nan = _text(bad("bad-nan", value=0)).replace('"value": 0', '"value": NaN')
    inf = _text(bad("bad-inf", value=0)).replace('"value": 0', '"value": Infinity')
    beyond = _text(bad("bad-1e400", value=0)).replace('"value": 0', '"value": 1e400')
    return [
        (_text(bad("bad-1e14", value=1e14)), "bad-1e14", "value_out_of_range"),
        (_text(bad("bad-1e20", value=1e20)), "bad-1e20", "value_out_of_range"),
        (_text(bad("bad-1e300", value=1e300)), "bad-1e300", "value_out_of_range"),
        (_text({**count, "record_id": "bad-neg", "value": -500}), "bad-neg", "value_out_of_range"),
        (nan, "bad-nan", "non_finite_value"),
        (inf, "bad-inf", "non_finite_value"),
        (beyond, "bad-1e400", "non_finite_value"),
        ("42", None, "not_an_object"),
        ('["an", "array"]', None, "not_an_object"),
        (_text(bad("r" * 200)), "r" * 119 + "…", "too_long"),
        (_text(bad("bad-nul\u0000")), "bad-nul\ufffd", "bad_characters"),
        (_text(bad("bad-period", period="x" * 50)), "bad-period", "wrong_period"),
        (_text(bad("bad-unit", unit_code="U" * 500)), "bad-unit", "unknown_unit"),
        (_text(bad("bad-2098", updated_at="2098-01-01T00:00:00+08:00")), "bad-2098", "future_time"),
        (_text(twin), twin["record_id"], "conflicting_version"),
        (_text(bad("bad-words", value="12,5")), "bad-words", "non_numeric_value"),
        (_text(bad("bad-status", status=7)), "bad-status", "bad_type"),
        (_text(bad("bad-evidence", evidence_count=10**12)), "bad-evidence", "value_out_of_range"),
        (
            _text({k: v for k, v in bad("bad-missing").items() if k != "updated_at"}),
            "bad-missing",
            "missing_fields",
        ),
        (_text(bad("bad-year1", updated_at="0001-01-01T00:00:00+08:00")), "bad-year1", "bad_time"),
    ]


@pytest.fixture
def raw_platform() -> Iterator[tuple[RawPlatform, str]]:
    platform = RawPlatform()
    with serving(platform) as url:
        yield platform, url


@pytest.mark.db
@pytest.mark.http
def test_bad_records_beside_297_good_ones_are_set_aside_and_the_month_completes(
    catalog_db: Engine,
    raw_platform: tuple[RawPlatform, str],
    good_march: list[dict[str, Any]],
) -> None:
    platform, url = raw_platform
    hostile = _hostile_march(good_march)
    assert len(hostile) >= 17
    items = [_text(r) for r in good_march]
    for n, (text, _, _) in enumerate(hostile):  # spread over the pages, after their twins
        items.insert(20 + n * 15, text)
    platform.progress[MARCH] = paged(items, 50)

    outcome = _collect(catalog_db, url)

    assert not outcome.unavailable
    assert outcome.records == len(items)
    assert (outcome.stored, outcome.quarantined) == (297, len(hostile))
    assert Counter(outcome.reasons) == Counter(h[2] for h in hostile)
    stored = dict(_rows(catalog_db, "SELECT record_id, value FROM progress_record"))
    assert set(stored) == {r["record_id"] for r in good_march}
    twin = good_march[10]
    assert float(stored[twin["record_id"]]) == pytest.approx(twin["value"] or 0)
    quarantined = _rows(
        catalog_db, "SELECT record_id, reason, detail, period FROM quarantined_record"
    )
    assert Counter(r[1] for r in quarantined) == Counter(h[2] for h in hostile)
    assert {(r[0], r[1]) for r in quarantined if r[0]} == {(h[1], h[2]) for h in hostile if h[1]}
    assert all(r[2] and r[3] == MARCH for r in quarantined)
    latest_good = max(parse_time(r["updated_at"]) for r in good_march)  # type: ignore[type-var]
    assert _watermark(catalog_db, "progress", MARCH) == latest_good

    again = _collect(catalog_db, url)
    assert (again.stored, again.quarantined) == (0, 0)


@pytest.mark.db
@pytest.mark.http
def test_a_record_stamped_2098_books_nothing_and_the_next_run_still_sees_new_uploads(
    catalog_db: Engine,
    raw_platform: tuple[RawPlatform, str],
    good_march: list[dict[str, Any]],
) -> None:
    platform, url = raw_platform
    early = datetime(2026, 4, 3, tzinfo=UTC)
    first = [r for r in good_march if parse_time(r["updated_at"]) <= early]  # type: ignore[operator]
    late = [r for r in good_march if r not in first]
    assert first and late
    stamped = {**first[0], "record_id": "from-2098", "updated_at": "2098-01-01T00:00:00+08:00"}
    platform.progress[MARCH] = paged([_text(r) for r in [*first, stamped]], 50)

    outcome = _collect(catalog_db, url, now=early)

    assert outcome.quarantined == 1 and outcome.stored == len(first)
    mark = _watermark(catalog_db, "progress", MARCH)
    assert mark is not None and mark <= early
    assert _rows(
        catalog_db, "SELECT count(*) FROM progress_record WHERE record_id = 'from-2098'"
    ) == [(0,)]
    (reason,) = _rows(catalog_db, "SELECT reason FROM quarantined_record")
    assert reason == ("future_time",)

    platform.queries.clear()
    platform.progress[MARCH] = paged([_text(r) for r in [*first, *late, stamped]], 50)
    later = _collect(catalog_db, url)
    asked = {q.get("updated_since") for q in platform.queries}
    assert asked == {mark.isoformat()}
    assert later.stored == len(late)
    assert _watermark(catalog_db, "progress", MARCH) <= NOW  # type: ignore[operator]


@pytest.mark.db
@pytest.mark.http
def test_a_watermark_left_in_the_future_is_ignored_and_pulled_back(
    catalog_db: Engine,
    raw_platform: tuple[RawPlatform, str],
    good_march: list[dict[str, Any]],
) -> None:
    platform, url = raw_platform
    with session_scope(catalog_db) as session:
        future = datetime(2098, 1, 1, tzinfo=UTC)
        session.add(CollectionWatermark(source="progress", period=MARCH, high_water=future))
    platform.progress[MARCH] = paged([_text(r) for r in good_march], 50)

    outcome = _collect(catalog_db, url)

    assert {q.get("updated_since") for q in platform.queries} == {None}
    assert outcome.stored == len(good_march)
    mark = _watermark(catalog_db, "progress", MARCH)
    assert mark is not None and mark <= NOW


@pytest.mark.db
@pytest.mark.http
def test_an_appeal_claiming_1e20_is_set_aside_and_the_valid_ones_are_taken(
    catalog_db: Engine,
    raw_platform: tuple[RawPlatform, str],
    demo_year: SimDataset,
) -> None:
    platform, url = raw_platform
    now = datetime(2026, 4, 20, tzinfo=UTC)
    valid = [
        a
        for a in demo_year.appeals
        if a["period"] <= MARCH and parse_time(a["filed_at"]) <= now  # type: ignore[operator]
    ]
    assert len(valid) >= 5
    milestone = next(a for a in valid if a["indicator_code"] == "manganese")
    on_time = next(a for a in valid if a["appeal_id"] not in demo_year.late_appeal_ids)
    hostile = [
        (
            _text(
                {**valid[0], "appeal_id": "ap-1e20", "kind": "data_error", "claimed_value": 1e20}
            ),
            "value_out_of_range",
        ),
        (
            _text({**milestone, "appeal_id": "ap-neg", "kind": "data_error", "claimed_value": -5}),
            "value_out_of_range",
        ),
        (
            _text({**valid[1], "appeal_id": "ap-2027", "filed_at": "2027-01-19T10:00:00+08:00"}),
            "future_time",
        ),
        (_text({**valid[2], "appeal_id": "a" * 200}), "too_long"),
        (_text({**valid[3], "appeal_id": "ap-period", "period": "x" * 50}), "bad_period"),
        ('"not an appeal"', "not_an_object"),
    ]
    nan = _text(
        {**on_time, "appeal_id": "ap-nan", "kind": "data_error", "claimed_value": 0}
    ).replace('"claimed_value": 0', '"claimed_value": NaN')
    items = [_text(a) for a in valid]
    items[3:3] = [text for text, _ in hostile] + [nan]
    platform.appeals = paged(items, 4)

    async def run() -> Any:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            client = PlatformClient(http, token=TOKEN, retry=RetryPolicy(max_attempts=2))
            return await collect_appeals(catalog_db, client, now, WorkCalendar())

    outcome = asyncio.run(run())

    taken = {pid for (pid,) in _rows(catalog_db, "SELECT platform_id FROM appeal")}
    assert taken == {a["appeal_id"] for a in valid} | {"ap-nan"}
    (refusal,) = _rows(catalog_db, "SELECT refusal_reason FROM appeal WHERE platform_id = 'ap-nan'")
    assert "不是数字" in refusal[0]
    reasons = Counter(r for (r,) in _rows(catalog_db, "SELECT reason FROM quarantined_record"))
    assert reasons == Counter(reason for _, reason in hostile)
    assert outcome.quarantined == len(hostile)
    mark = _watermark(catalog_db, "appeals", "all")
    assert mark is not None and mark <= now
    assert mark == max(parse_time(a["filed_at"]) for a in valid)  # type: ignore[type-var]
