"""Digests become Chinese messages with the right figures, and nothing confidential."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import pytest

from models.messages import (
    AppealDecision,
    AppealWindow,
    ConfidentialContentError,
    LevelItem,
    MissingUpload,
    Rectification,
    RenderedMessage,
    UnitDigest,
    build_unit_message,
    content_hash,
    find_confidential_marker,
)
from models.messages.render import period_label
from tests.delivery.support import APPEAL_ENDS, PERIOD, monthly_digest, reminder_digest


def test_a_digest_without_items_has_nothing_to_act_on() -> None:
    assert UnitDigest("DEPT-FGW", "发改委", "monthly_analysis", PERIOD).is_empty


def test_an_appeal_window_alone_is_nothing_to_act_on() -> None:
    digest = UnitDigest(
        "DEPT-FGW", "发改委", "monthly_analysis", PERIOD, appeal_window=AppealWindow(APPEAL_ENDS)
    )
    assert digest.is_empty


def test_a_pre_deadline_reminder_is_only_for_a_unit_still_missing_a_value() -> None:
    assert not reminder_digest().is_empty
    only_levels = replace(monthly_digest(), kind="pre_deadline_reminder")
    assert only_levels.is_empty


def test_the_content_hash_ignores_item_order_decimal_spelling_and_display_name() -> None:
    digest = monthly_digest()
    shuffled = replace(
        digest, items=tuple(reversed(digest.items)), unit_name="青岚市发改委（更名）"
    )
    respelled = replace(
        digest,
        items=tuple(
            (
                replace(i, expected=(i.expected or Decimal(0)).quantize(Decimal("0.000001")))
                if isinstance(i, LevelItem)
                else i
            )
            for i in digest.items
        ),
    )
    assert content_hash(digest) == content_hash(shuffled) == content_hash(respelled)


def test_the_content_hash_changes_when_a_figure_changes() -> None:
    assert content_hash(monthly_digest(actual="80")) != content_hash(monthly_digest(actual="81"))


def test_a_monthly_message_names_period_indicators_figures_and_appeal_window() -> None:
    message = build_unit_message(monthly_digest())
    assert message.subject == "【市考核办】2026年9月月度分析 · 青岚市发展和改革委员会"
    for body in (message.markdown, message.text, message.html):
        assert "2026年9月" in body
        assert "固定资产投资（IND-INV）" in body
        assert "预扣分" in body
        assert "120亿元" in body and "80亿元" in body and "66.7%" in body
        assert "社会消费品零售总额" in body and "90.0%" in body
        assert "3.33 分" in body
        assert "重点项目台账更新不及时" in body and "2026年11月30日" in body
        assert "2026年10月16日" in body
        assert "更正" not in body
    assert "- 🔴 【预扣分】固定资产投资（IND-INV）：预期 120亿元，实际 80亿元" in message.markdown


def test_a_reminder_names_the_deadline_and_the_missing_indicator() -> None:
    message = build_unit_message(reminder_digest())
    assert "2026年9月考核数据将于2026年10月8日截止上传" in message.text
    assert "地区生产总值增速（IND-GDP）" in message.text
    assert message.subject.startswith("【市考核办】2026年9月数据上传提醒")


def test_a_correction_says_it_replaces_the_earlier_message() -> None:
    message = build_unit_message(monthly_digest(), correction=True)
    assert message.subject.startswith("【市考核办·更正】")
    for body in (message.markdown, message.text, message.html):
        assert "更正" in body and "取代此前发送的2026年9月月度分析消息" in body
    assert message.content_hash == build_unit_message(monthly_digest()).content_hash


def test_html_is_autoescaped_and_markdown_is_not() -> None:
    digest = replace(monthly_digest(), unit_name="<b>发改委</b> & 统计局")
    message = build_unit_message(digest)
    assert "&lt;b&gt;发改委&lt;/b&gt; &amp; 统计局" in message.html
    assert "<b>发改委</b> & 统计局" in message.markdown


def test_an_appeal_outcome_names_the_ruling_and_the_new_deduction() -> None:
    digest = UnitDigest(
        "DEPT-FGW",
        "发改委",
        "appeal_outcome",
        PERIOD,
        items=(
            AppealDecision(
                "IND-INV",
                "固定资产投资",
                "corrected",
                "平台数值录入有误，已按核实数值重新核算",
                Decimal("3.33"),
                Decimal("0"),
            ),
        ),
    )
    text = build_unit_message(digest).text
    assert "更正数值并重新核算" in text and "扣分由 3.33 分调整为 0.00 分" in text


def test_period_labels_read_as_chinese() -> None:
    assert [period_label(k) for k in ("2026-09", "2026-Q3", "2026-H1", "2026")] == [
        "2026年9月",
        "2026年第三季度",
        "2026年上半年",
        "2026年度",
    ]


# ------------------------------------------------------------------- confidentiality


@dataclass(frozen=True)
class OnsiteCheckSample:
    """What an on-site check plan would try to tell a unit."""

    unit_code: str
    check_on: date


@dataclass(frozen=True)
class DisguisedRectification(Rectification):
    """A subclass of an allowed item is not an allowed item."""

    plan_note: str = ""


def test_a_unit_message_refuses_an_on_site_check_plan_item() -> None:
    digest = replace(
        monthly_digest(),
        items=(OnsiteCheckSample("DEPT-FGW", date(2026, 10, 20)),),  # type: ignore[arg-type]
    )
    with pytest.raises(ConfidentialContentError, match="OnsiteCheckSample"):
        build_unit_message(digest)


def test_a_unit_message_refuses_a_disguised_allowed_item() -> None:
    item = DisguisedRectification(1, "整改", date(2026, 11, 30), plan_note="10月20日")
    with pytest.raises(ConfidentialContentError):
        build_unit_message(replace(monthly_digest(), items=(item,)))


@pytest.mark.parametrize(
    "description",
    [
        "下周将开展四不两直检查",
        "已列入抽查名单",
        "四 不 两 直",
        "see onsite_check plan",
        "暗访安排见附件",
        "现场检查计划：10月20日",
    ],
)
def test_a_unit_message_refuses_text_that_mentions_an_on_site_check_plan(
    description: str,
) -> None:
    digest = replace(monthly_digest(), items=(Rectification(7, description, date(2026, 11, 30)),))
    with pytest.raises(ConfidentialContentError, match="on-site check plan"):
        build_unit_message(digest)


def test_a_unit_message_refuses_a_plan_hidden_in_the_unit_name_or_kind() -> None:
    with pytest.raises(ConfidentialContentError):
        build_unit_message(replace(monthly_digest(), unit_name="发改委（暗访对象）"))
    with pytest.raises(ConfidentialContentError):
        build_unit_message(replace(monthly_digest(), kind="onsite_check_plan"))


def test_only_build_unit_message_seals_a_message_for_a_unit() -> None:
    built = build_unit_message(monthly_digest())
    forged = RenderedMessage(built.subject, built.markdown, built.text, built.html, "x")
    assert built.for_unit and not forged.for_unit


def test_the_marker_search_decodes_html_entities() -> None:
    assert find_confidential_marker("&#22235;&#19981;&#20004;&#30452;") == "四不两直"
    assert find_confidential_marker("月度分析") is None


def test_a_message_is_not_built_for_an_empty_digest_or_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="nothing to act on"):
        build_unit_message(UnitDigest("DEPT-FGW", "发改委", "monthly_analysis", PERIOD))
    digest = replace(reminder_digest(), kind="weekly_gossip")
    with pytest.raises(ValueError, match="unknown message kind"):
        build_unit_message(digest)


def test_a_level_item_refuses_green() -> None:
    with pytest.raises(ValueError, match="level"):
        LevelItem("IND-1", "指标", "green", None, None, None)


def test_missing_uploads_render_their_deadline() -> None:
    digest = UnitDigest(
        "CTY-LS",
        "临山县",
        "pre_deadline_reminder",
        PERIOD,
        items=(MissingUpload("IND-A", "指标甲", date(2026, 10, 8)),),
    )
    assert "请于2026年10月8日前上传" in build_unit_message(digest).markdown
