"""Delivery to real receivers on loopback: a webhook server and an SMTP server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

import apprise
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from models.messages import ConfidentialContentError, MessagePlan, PlanAction, UnitDigest
from models.messages.render import RenderedMessage
from models.persistence.database import session_scope
from models.persistence.tables import DeliveryAttempt, Message, Unit
from models.rules.periods import SHANGHAI
from models.rules.workdays import WorkCalendar
from tasks.delivery import (
    DeliveryRun,
    Notifier,
    deliver_due,
    load_due_messages,
    make_notifier,
    outbox_report,
    outbox_snapshot,
    queue_digests,
    requeue_message,
    save_outbox,
    send_window,
)
from tests.delivery.support import monthly_digest
from tests.fixtures.receivers import SMTP_PASSWORD, FakeClock, HttpReceiver, SmtpReceiver

pytestmark = [pytest.mark.db, pytest.mark.http]

CALENDAR = WorkCalendar()
FRIDAY_10 = datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)
ROBOT_PATH = "/robot/send"


class Office:
    """The outbox of one test database, delivering to loopback receivers on a fake clock."""

    def __init__(
        self,
        engine: Engine,
        clock: FakeClock,
        http: HttpReceiver,
        ops_channels: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.ops_channels = list(ops_channels)
        self.factory = partial(
            make_notifier,
            robot_endpoints={"dingtalk": http.endpoint(ROBOT_PATH, "access_token={token}")},
        )

    def add_unit(self, code: str, name: str, channels: list[str]) -> None:
        with session_scope(self.engine) as session:
            session.add(
                Unit(
                    code=code,
                    name=name,
                    kind="department",
                    category="government",
                    channels=channels,
                )
            )

    def queue(self, digests: Iterable[UnitDigest], at: datetime) -> list[MessagePlan]:
        with session_scope(self.engine) as session:
            return queue_digests(session, digests, now=at, send_at_fn=send_window(CALENDAR))

    def deliver(self, at: datetime) -> DeliveryRun:
        with session_scope(self.engine) as session:
            return deliver_due(
                session,
                now=at,
                ops_channels=self.ops_channels,
                notifier_factory=self.factory,
                sleep=self.clock.sleep,
                monotonic=self.clock.monotonic,
            )

    def messages(self) -> list[Message]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(Message).order_by(Message.id)).all())  # type: ignore[arg-type]

    def attempts(self) -> list[DeliveryAttempt]:
        with session_scope(self.engine) as session:
            return list(
                session.exec(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()  # type: ignore[arg-type]
            )


@pytest.fixture
def office(engine: Engine, clock: FakeClock, http_receiver: HttpReceiver) -> Office:
    return Office(engine, clock, http_receiver, [http_receiver.json_url("/ops")])


def test_a_unit_receives_its_digest_by_webhook_and_by_email_in_chinese_with_its_figures(
    office: Office, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    office.add_unit(
        "DEPT-FGW",
        "青岚市发展和改革委员会",
        [http_receiver.json_url("/fgw"), smtp_receiver.mailto("fgw@qinglan.gov.cn")],
    )
    office.queue([monthly_digest()], FRIDAY_10)
    run = office.deliver(FRIDAY_10)

    assert run.delivered and not run.failed
    (hook,) = http_receiver.received("/fgw")
    assert hook.json["title"] == "【市考核办】2026年9月月度分析 · 青岚市发展和改革委员会"
    body = hook.json["message"]
    assert "🔴 【预扣分】固定资产投资（IND-INV）：预期 120亿元，实际 80亿元，完成率 66.7%" in body
    assert "2026年10月16日（含当日）前通过考核平台提出申诉复查" in body

    ((recipients, mail),) = smtp_receiver.received()
    assert recipients == ["fgw@qinglan.gov.cn"]
    assert mail["Subject"] == "【市考核办】2026年9月月度分析 · 青岚市发展和改革委员会"
    parts = {p.get_content_type(): p.get_content() for p in mail.walk() if not p.is_multipart()}
    assert (
        "<td>固定资产投资（IND-INV）</td><td>120亿元</td><td>80亿元</td><td>66.7%</td>"
        in parts["text/html"]
    )
    assert "固定资产投资（IND-INV）" in parts["text/plain"] and "66.7%" in parts["text/plain"]

    (message,) = office.messages()
    assert message.status == "delivered" and message.delivered_at is not None
    assert [a.outcome for a in office.attempts()] == ["delivered", "delivered"]


def test_a_receiver_that_fails_twice_then_succeeds_ends_with_one_delivery_and_three_attempts(
    office: Office, http_receiver: HttpReceiver, clock: FakeClock
) -> None:
    office.add_unit("DEPT-FGW", "发改委", [http_receiver.json_url("/flaky")])
    http_receiver.script("/flaky", (500, "busy"), (503, "busy"))
    office.queue([monthly_digest()], FRIDAY_10)
    office.deliver(FRIDAY_10)

    assert len(http_receiver.received("/flaky")) == 3
    (message,) = office.messages()
    assert message.status == "delivered"
    attempts = office.attempts()
    assert [a.outcome for a in attempts] == ["failed", "failed", "delivered"]
    assert all(a.message_id == message.id for a in attempts)
    assert "500" in attempts[0].error and "503" in attempts[1].error
    assert clock.slept == [2.0, 8.0]
    assert [a.attempted_at - attempts[0].attempted_at for a in attempts] == [
        timedelta(0),
        timedelta(seconds=2),
        timedelta(seconds=10),
    ]


def test_a_dingtalk_robot_answering_200_with_an_error_code_is_a_failed_delivery(
    office: Office, http_receiver: HttpReceiver
) -> None:
    http_receiver.always(
        ROBOT_PATH, 200, '{"errcode": 310000, "errmsg": "keywords not in content"}'
    )
    office.add_unit("CTY-LS", "临山县", ["dingtalk://0123456789abcdeftoken/"])
    office.queue([monthly_digest("CTY-LS", "临山县")], FRIDAY_10)
    run = office.deliver(FRIDAY_10)

    assert run.failed and not run.delivered
    requests = http_receiver.received(ROBOT_PATH)
    assert len(requests) == 3
    assert requests[0].query["access_token"] == ["0123456789abcdeftoken"]
    assert requests[0].json["msgtype"] == "markdown"
    assert "实际 80亿元" in requests[0].json["markdown"]["text"]
    assert [a.outcome for a in office.attempts()] == ["failed"] * 3
    assert "errcode=310000" in office.attempts()[0].error
    (message,) = office.messages()
    assert message.status == "failed" and message.delivered_at is None


@pytest.mark.parametrize(
    ("schema", "attribute", "path", "answer"),
    [
        (
            "dingtalk",
            "notify_url",
            ROBOT_PATH,
            '{"errcode": 310000, "errmsg": "keywords not in content"}',
        ),
        (
            "wecombot",
            "api_url",
            "/cgi-bin/webhook/send",
            '{"errcode": 93000, "errmsg": "invalid webhook url"}',
        ),
        (
            "feishu",
            "notify_url",
            "/open-apis/bot/v2/hook",
            '{"code": 19021, "msg": "sign match fail"}',
        ),
    ],
)
def test_apprise_alone_calls_a_robot_error_code_a_success_and_our_plugin_does_not(
    http_receiver: HttpReceiver, schema: str, attribute: str, path: str, answer: str
) -> None:
    http_receiver.always(path, 200, answer)
    base = f"http://127.0.0.1:{http_receiver.port}{path}"
    plain = apprise.Apprise.instantiate(f"{schema}://tok3nabc123/")
    assert plain is not None
    setattr(plain, attribute, f"{base}?t=tok3nabc123")
    assert plain.notify(body="考核提醒", title="测试") is True  # Apprise 2.0.1's own plugin
    placeholder = "{key}" if schema == "wecombot" else "{token}"
    checked = make_notifier(
        f"{schema}://tok3nabc123/", robot_endpoints={schema: f"{base}?t={placeholder}"}
    )
    assert checked.notify(body="**考核提醒**", title="测试", body_format="markdown") is False
    first, second = http_receiver.received(path)
    assert "markdown" in second.text and "markdown" not in first.text


def test_a_dead_receiver_ends_in_exactly_one_operations_alert(
    office: Office, http_receiver: HttpReceiver
) -> None:
    http_receiver.always("/dead", 503, "down")
    office.add_unit("DEPT-TJJ", "青岚市统计局", [http_receiver.json_url("/dead")])
    office.queue([monthly_digest("DEPT-TJJ", "青岚市统计局")], FRIDAY_10)

    first = office.deliver(FRIDAY_10)
    assert first.failed and not first.alerts
    too_soon = office.deliver(FRIDAY_10 + timedelta(minutes=30))
    assert too_soon.attempts == 0
    second = office.deliver(FRIDAY_10 + timedelta(hours=1, minutes=5))
    assert second.undeliverable and len(second.alerts) == 1
    later = office.deliver(FRIDAY_10 + timedelta(hours=4))
    assert later.attempts == 0

    assert len(http_receiver.received("/dead")) == 6
    (alert,) = http_receiver.received("/ops")
    assert alert.json["title"] == "【运维告警】消息无法送达：青岚市统计局（DEPT-TJJ）"
    assert "尝试次数：6" in alert.json["message"] and "503" in alert.json["message"]
    unit_message, office_message = office.messages()
    assert unit_message.status == "undeliverable"
    assert (office_message.audience, office_message.kind, office_message.status) == (
        "office",
        "unit_unreachable",
        "delivered",
    )


def test_a_requeued_message_goes_out_once_its_channel_is_fixed(
    office: Office, http_receiver: HttpReceiver, engine: Engine
) -> None:
    http_receiver.script("/flaky-day", *[(503, "down")] * 6)
    office.add_unit("DEPT-TJJ", "青岚市统计局", [http_receiver.json_url("/flaky-day")])
    office.queue([monthly_digest("DEPT-TJJ", "青岚市统计局")], FRIDAY_10)
    office.deliver(FRIDAY_10)
    assert office.deliver(FRIDAY_10 + timedelta(hours=2)).undeliverable

    (message,) = [m for m in office.messages() if m.audience == "unit"]
    assert message.id is not None
    with session_scope(engine) as session:
        requeue_message(session, message.id, FRIDAY_10 + timedelta(hours=5))
    run = office.deliver(FRIDAY_10 + timedelta(hours=5))
    assert run.delivered == [message.id] and not run.alerts
    assert len(http_receiver.received("/flaky-day")) == 7
    assert len(http_receiver.received("/ops")) == 1


def test_ten_runs_deliver_each_digest_once_and_a_change_exactly_one_correction(
    office: Office, http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    office.add_unit("DEPT-FGW", "发改委", [http_receiver.json_url("/fgw")])
    office.add_unit("DEPT-JYJ", "教育局", [smtp_receiver.mailto("jyj@qinglan.gov.cn")])
    office.add_unit("DEPT-WJW", "卫健委", [http_receiver.json_url("/wjw")])

    def cycle(fgw_actual: str) -> list[UnitDigest]:
        return [
            monthly_digest("DEPT-FGW", "发改委", actual=fgw_actual),
            monthly_digest("DEPT-JYJ", "教育局"),
            UnitDigest("DEPT-WJW", "卫健委", "monthly_analysis", "2026-09"),  # all green
        ]

    at = FRIDAY_10
    for _ in range(10):
        office.queue(cycle("80"), at)
        office.deliver(at)
        at += timedelta(minutes=15)
    assert len(http_receiver.received("/fgw")) == 1
    assert len(smtp_receiver.received()) == 1
    assert http_receiver.received("/wjw") == []

    for _ in range(10):  # the figures were recomputed: 85 instead of 80
        office.queue(cycle("85"), at)
        office.deliver(at)
        at += timedelta(minutes=15)
    first, correction = http_receiver.received("/fgw")
    assert "更正" not in first.json["message"] and "实际 80亿元" in first.json["message"]
    assert correction.json["title"].startswith("【市考核办·更正】")
    assert "取代此前发送的2026年9月月度分析消息" in correction.json["message"]
    assert "实际 85亿元，完成率 70.8%" in correction.json["message"]
    assert len(smtp_receiver.received()) == 1
    statuses = [(m.kind, m.status, m.supersedes_id is not None) for m in office.messages()]
    assert statuses == [
        ("monthly_analysis", "delivered", False),
        ("monthly_analysis", "delivered", False),
        ("monthly_analysis", "delivered", True),
    ]


def test_a_message_due_outside_working_hours_waits_for_the_next_window(
    office: Office, engine: Engine
) -> None:
    office.add_unit("DEPT-FGW", "发改委", ["json://127.0.0.1:9/never"])
    friday_evening = datetime(2026, 10, 9, 20, 0, tzinfo=SHANGHAI)
    (plan,) = office.queue([monthly_digest()], friday_evening)
    saturday_makeup_day = datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI)  # 调休 working day
    assert plan.due_at == saturday_makeup_day
    later = friday_evening + timedelta(minutes=30)
    assert not CALENDAR.in_message_window(later)
    assert CALENDAR.in_message_window(saturday_makeup_day)
    with session_scope(engine) as session:
        assert load_due_messages(session, later) == []
        assert [m.key for m in load_due_messages(session, saturday_makeup_day)] == [plan.key]


def test_a_dingtalk_robot_is_sent_at_most_20_messages_a_minute(
    office: Office, http_receiver: HttpReceiver, clock: FakeClock
) -> None:
    robot = "dingtalk://sharedrobot0123456789/"
    codes = [f"CTY-{n:02d}" for n in range(25)]
    for code in codes:
        office.add_unit(code, f"第{code[-2:]}县", [robot])
    office.queue([monthly_digest(code, f"第{code[-2:]}县") for code in codes], FRIDAY_10)
    run = office.deliver(FRIDAY_10)

    assert len(run.delivered) == 25 and len(http_receiver.received(ROBOT_PATH)) == 25
    times = sorted(a.attempted_at for a in office.attempts())
    assert all(sum(1 for t in times if s <= t < s + timedelta(seconds=60)) <= 20 for s in times)
    assert times[-1] - times[0] == timedelta(seconds=60)
    assert clock.slept == [60.0]


def test_a_message_reaching_one_channel_is_partial_and_only_the_other_is_retried(
    office: Office, http_receiver: HttpReceiver
) -> None:
    http_receiver.script("/down-then-up", *[(500, "")] * 3)
    office.add_unit(
        "DEPT-FGW",
        "发改委",
        [http_receiver.json_url("/ok"), http_receiver.json_url("/down-then-up")],
    )
    office.queue([monthly_digest()], FRIDAY_10)
    assert office.deliver(FRIDAY_10).partial
    assert office.deliver(FRIDAY_10 + timedelta(hours=2)).delivered
    assert len(http_receiver.received("/ok")) == 1
    assert len(http_receiver.received("/down-then-up")) == 4
    (message,) = office.messages()
    assert message.status == "delivered"


def test_the_outbox_refuses_a_unit_message_not_built_by_build_unit_message(
    office: Office, engine: Engine
) -> None:
    office.add_unit("DEPT-FGW", "发改委", [])
    forged = MessagePlan(
        action=PlanAction.NEW,
        unit_code="DEPT-FGW",
        kind="monthly_analysis",
        period_key="2026-Q3",
        content_hash="0" * 64,
        key="DEPT-FGW:monthly_analysis:2026-Q3:" + "0" * 64,
        rendered=RenderedMessage("四不两直抽查名单", "…", "…", "…", "0" * 64),
        due_at=FRIDAY_10,
    )
    with session_scope(engine) as session:
        units = {u.code: u for u in session.exec(select(Unit)).all()}
        with pytest.raises(ConfidentialContentError):
            save_outbox(session, [forged], units, FRIDAY_10)
    assert office.messages() == []


def test_secrets_never_reach_logs_attempts_or_the_outbox_report(
    office: Office,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http_receiver.always(ROBOT_PATH, 200, '{"errcode": 300001, "errmsg": "token is not exist"}')
    http_receiver.always("/hooks/T0001/B0002/xoxbS3cretPath", 500, "no")
    secrets = [
        "Wr0ng-pa55-xyz",
        "robotT0ken9876543210",
        "SECsigning123",
        "xoxbS3cretPath",
        SMTP_PASSWORD,
    ]
    office.add_unit(
        "DEPT-FGW",
        "发改委",
        [
            smtp_receiver.mailto("fgw@qinglan.gov.cn", password="Wr0ng-pa55-xyz"),
            "dingtalk://SECsigning123@robotT0ken9876543210/",
            http_receiver.json_url("/hooks/T0001/B0002/xoxbS3cretPath"),
        ],
    )
    office.add_unit("DEPT-JYJ", "教育局", [smtp_receiver.mailto("jyj@qinglan.gov.cn")])
    office.queue([monthly_digest(), monthly_digest("DEPT-JYJ", "教育局")], FRIDAY_10)
    office.deliver(FRIDAY_10)
    office.deliver(FRIDAY_10 + timedelta(hours=2))

    attempts = office.attempts()
    assert {a.outcome for a in attempts} == {"failed", "delivered"}
    assert any("535" in a.error and "mailto://" in a.channel for a in attempts)
    with session_scope(engine) as session:
        report = outbox_report(session, FRIDAY_10.date())
        snapshot = json.dumps(
            outbox_snapshot(session, FRIDAY_10.date()).to_dict(), ensure_ascii=False
        )
    stored = "\n".join(f"{a.channel} {a.error}" for a in attempts)
    alert = next(m for m in office.messages() if m.audience == "office")
    for secret in secrets:
        assert secret not in caplog.text, secret
        assert secret not in stored, secret
        assert secret not in report and secret not in snapshot, secret
        assert secret not in alert.body_text + alert.body_markdown + alert.body_html, secret
    assert "dingtalk://*** #" in report and "errcode=300001" in report


def test_the_outbox_report_shows_what_goes_out_and_what_failed_before_and_after_sending(
    office: Office, http_receiver: HttpReceiver, engine: Engine
) -> None:
    http_receiver.always("/broken", 500, "")
    office.add_unit("DEPT-FGW", "发改委", [http_receiver.json_url("/fine")])
    office.add_unit("DEPT-TJJ", "统计局", [http_receiver.json_url("/broken")])
    office.queue(
        [monthly_digest(), monthly_digest("DEPT-TJJ", "统计局")], FRIDAY_10 - timedelta(hours=1)
    )
    with session_scope(engine) as session:
        before = outbox_report(session, FRIDAY_10.date())
    office.deliver(FRIDAY_10)
    with session_scope(engine) as session:
        after = outbox_report(session, FRIDAY_10.date())

    assert "| 月度分析 | 2 | 0 | 0 |" in before
    assert "今日待发送（2）" in before and "发改委（DEPT-FGW）" in before
    assert f"json://127.0.0.1:{http_receiver.port}/*** #" in before
    assert "| 月度分析 | 0 | 1 | 1 |" in after
    assert "发送失败（1）" in after and "统计局（DEPT-TJJ）" in after and "500" in after
    assert "今日已送达（1）" in after
    for report in (before, after):
        assert "66.7%" not in report and "固定资产投资" not in report  # no bodies


def _digests_for(units: Iterable[str]) -> list[UnitDigest]:
    return [replace(monthly_digest(), unit_code=u) for u in units]


def test_a_unit_without_any_channel_is_reported_to_the_office_at_once(
    office: Office, http_receiver: HttpReceiver
) -> None:
    office.add_unit("DEPT-NEW", "新设单位", [])
    office.queue(_digests_for(["DEPT-NEW"]), FRIDAY_10)
    run = office.deliver(FRIDAY_10)
    assert run.undeliverable and len(run.alerts) == 1
    (alert,) = http_receiver.received("/ops")
    assert "单位未配置任何通知渠道" in alert.json["message"]


def test_notifier_protocol_is_met_by_apprise_plugins() -> None:
    notifier: Notifier = make_notifier("json://127.0.0.1:9/x")
    assert callable(notifier.notify)
