"""Each digest ends with the unit's running pre-deductions of the year and a link to the
unit's data on the platform (``ASSESS_PLATFORM_UNIT_URL``); neither makes a rerun send
anything again."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from deployments.demo.build_catalog import demo_catalog
from models.messages import MessageFooter, build_unit_message, content_hash
from models.persistence.database import session_scope
from models.persistence.tables import DeductionEntry, Indicator, Message, Unit
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from tasks.catalog import save_catalog
from tasks.delivery import queue_digests, send_window
from tests.delivery.support import monthly_digest

NOW = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
TEMPLATE = "https://kaohe.example.gov.cn/units/{unit_code}?year={year}"


def test_a_digest_with_a_footer_ends_with_the_running_total_and_the_link() -> None:
    digest = monthly_digest()
    footer = MessageFooter(2026, Decimal("4.5"), "https://kaohe.example.gov.cn/units/DEPT-FGW")
    with_footer = replace(digest, footer=footer)
    message = build_unit_message(with_footer)
    for body in (message.markdown, message.text, message.html):
        assert "2026年度累计预扣分：4.50 分" in body
        assert "https://kaohe.example.gov.cn/units/DEPT-FGW" in body
    tail = [line for line in message.text.strip().splitlines() if line.strip()]
    assert tail[-1].startswith("——") and tail[-2].startswith("本单位考核数据：")
    assert content_hash(with_footer) == content_hash(digest)  # context, not content
    plain = build_unit_message(replace(digest, footer=MessageFooter(2026, Decimal(0))))
    assert "累计预扣分：0.00 分" in plain.text and "本单位考核数据" not in plain.text


def _entry(unit: int, indicator: int, year: int, amount: str, stage: str = "pre") -> DeductionEntry:
    return DeductionEntry(
        year=year, period=f"{year}-03", unit_id=unit, indicator_id=indicator, kind="new",
        stage=stage, amount=Decimal(amount), level="red", created_at=NOW,
    )  # fmt: skip


@pytest.mark.db
def test_a_queued_digest_carries_the_units_total_of_the_year_and_its_link(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSESS_PLATFORM_UNIT_URL", TEMPLATE)
    with session_scope(engine) as session:
        save_catalog(session, demo_catalog())
    with session_scope(engine) as session:
        unit = session.exec(select(Unit).order_by(Unit.code)).first()
        indicator = session.exec(select(Indicator).where(Indicator.year == 2026)).first()
        assert unit is not None and unit.id and indicator is not None and indicator.id
        unit.channels = ["json://localhost/hook"]
        session.add(unit)
        code = unit.code
        for year, amount, stage in (
            (2026, "1.50", "pre"),
            (2026, "2.25", "pre"),
            (2026, "-0.50", "pre"),  # a release
            (2026, "9.00", "final"),  # the annual settlement is not a pre-deduction
            (2025, "7.00", "pre"),  # another year
        ):
            session.add(_entry(unit.id, indicator.id, year, amount, stage))
    digest = monthly_digest(code, "被考核单位")
    with session_scope(engine) as session:
        [plan] = queue_digests(session, [digest], now=NOW, send_at_fn=send_window(WorkCalendar()))
        assert plan.creates_message
    with session_scope(engine) as session:
        [message] = session.exec(select(Message)).all()
        for body in (message.body_markdown, message.body_text, message.body_html):
            assert "2026年度累计预扣分：3.25 分" in body
            assert f"https://kaohe.example.gov.cn/units/{code}?year=2026" in body
    with session_scope(engine) as session:  # a rerun sends nothing again
        [again] = queue_digests(session, [digest], now=NOW, send_at_fn=send_window(WorkCalendar()))
        assert not again.creates_message
