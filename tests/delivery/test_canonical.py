"""The fast paths of hashing, marker scanning and number labels agree with the plain ones.

`canonical_form` writes the canonical JSON directly instead of building
`canonical_digest` and encoding it; `find_confidential_marker` and
`build_unit_message` scan with one regular expression; the number labels use
``str`` instead of ``format``. Each is checked here against the straightforward
version it replaced, so content hashes (compared with hashes stored in the
outbox) and refusals stay exactly what they were.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from models.messages import (
    AppealDecision,
    AppealWindow,
    ConfidentialContentError,
    DeductionChange,
    DigestItem,
    LevelItem,
    MissingUpload,
    Rectification,
    ResultItem,
    UnitDigest,
    build_unit_message,
    canonical_digest,
    content_hash,
    find_confidential_marker,
    plan_outbox,
)
from models.messages.digest import canonical_form
from models.messages.render import (
    ON_SITE_CHECK_MARKERS,
    build_checked_unit_message,
    number_label,
    percent_label,
    points_label,
)
from tests.delivery.support import monthly_digest

NOW = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)


def plain_canonical_json(digest: UnitDigest) -> str:
    return json.dumps(
        canonical_digest(digest), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


class Kind(StrEnum):
    MONTHLY = "monthly_analysis"


class ProblemNo(IntEnum):
    TWELVE = 12


class Name(str):
    pass


ODD_TEXTS = [
    "",
    "固定资产投资",
    'quote " and backslash \\',
    "line\nbreak\ttab\r\x00\x1f",
    "\u2028\u2029 separators",
    "émoji 🙂 and \ud7ff",
    "<b>&amp;</b>",
    Name("a str subclass"),
]
ODD_DECIMALS = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.000"),
    Decimal("1E+3"),
    Decimal("1E-7"),
    Decimal("-12.3450"),
    Decimal("123456789012345678901234567.8"),
    Decimal(2) / Decimal(3),
]


def random_items(rnd: random.Random, count: int) -> tuple[DigestItem, ...]:
    def text() -> str:
        return rnd.choice(ODD_TEXTS)

    def number(nullable: bool = False) -> Decimal | None:
        if nullable and rnd.random() < 0.2:
            return None
        return rnd.choice(ODD_DECIMALS)

    def day() -> date:
        return date(2026, rnd.randint(1, 12), rnd.randint(1, 28))

    makers: list[Any] = [
        lambda: MissingUpload(text(), text(), day()),
        lambda: LevelItem(
            text(),
            text(),
            rnd.choice(["yellow", "orange", "red", "missing"]),
            number(True),
            number(True),
            number(True),
            text(),
        ),
        lambda: DeductionChange(text(), text(), number(), number()),  # type: ignore[arg-type]
        lambda: Rectification(rnd.choice([7, ProblemNo.TWELVE, True]), text(), day()),
        lambda: AppealDecision(
            text(), text(), rnd.choice(["rejected", "reduced"]), text(), number(True), number(True)
        ),
        lambda: ResultItem(text(), number(), 1, 3, "good"),  # type: ignore[arg-type]
        lambda: MissingUpload(
            text(),
            text(),
            datetime(2026, 10, 8, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        ),
    ]
    return tuple(rnd.choice(makers)() for _ in range(count))


def random_digests(seed: int, count: int) -> list[UnitDigest]:
    rnd = random.Random(seed)
    return [
        UnitDigest(
            unit_code=rnd.choice(["DEPT-FGW", Name("DEPT-SUB"), 'Q"uote']),
            unit_name=rnd.choice(ODD_TEXTS),
            kind=rnd.choice(["monthly_analysis", Kind.MONTHLY]),
            period_key=rnd.choice(["2026-09", "2026"]),
            items=random_items(rnd, rnd.choice([0, 1, 3, 12])),
            deadline=rnd.choice([None, date(2026, 10, 8), datetime(2026, 10, 8, tzinfo=UTC)]),
            appeal_window=rnd.choice([None, AppealWindow(date(2026, 10, 16))]),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_the_canonical_json_is_the_sorted_compact_json_of_the_canonical_digest(seed: int) -> None:
    for digest in random_digests(seed, 60):
        form = canonical_form(digest)
        expected = plain_canonical_json(digest)
        assert form.payload == expected
        assert form.content_hash == hashlib.sha256(expected.encode("utf-8")).hexdigest()
        assert content_hash(digest) == form.content_hash
        assert json.loads(form.payload) == json.loads(expected)


def test_content_hashes_are_the_ones_stored_by_earlier_versions() -> None:
    """Hashes in the outbox (and annual notices' ``previous``) must keep matching."""
    digest = UnitDigest(
        "DEPT-FGW",
        "青岚市发展和改革委员会",
        "monthly_analysis",
        "2026-09",
        items=(
            LevelItem(
                "IND-INV",
                "固定资产投资",
                "red",
                Decimal("120"),
                Decimal("80"),
                Decimal("80") / Decimal("120"),
                "亿元",
            ),
            LevelItem(
                "IND-RET",
                "社会消费品零售总额",
                "yellow",
                Decimal("200"),
                Decimal("180"),
                Decimal("0.9"),
                "亿元",
            ),
            DeductionChange("IND-INV", "固定资产投资", Decimal("0"), Decimal("3.33")),
            Rectification(12, "重点项目台账更新不及时", date(2026, 11, 30)),
            MissingUpload("IND-GDP", "地区生产总值增速", date(2026, 10, 8)),
            AppealDecision(
                "IND-X", '名称"引号"\\', "reduced", "理由\n换行", Decimal("-0"), Decimal("1E+2")
            ),
            ResultItem("政府部门", Decimal("95.5"), 2, 30, "excellent"),
        ),
        deadline=date(2026, 10, 8),
        appeal_window=AppealWindow(date(2026, 10, 16)),
    )
    assert content_hash(digest) == (
        "84859f0bfd2aaeb0f37ce86bedbebcc9e335bd9d3324f7d05b0a8c191b9feca7"
    )


def test_bad_values_are_refused_as_before() -> None:
    nan = UnitDigest(
        "U",
        "n",
        "monthly_analysis",
        "2026-09",
        items=(DeductionChange("c", "n", Decimal("NaN"), Decimal(1)),),
    )
    with pytest.raises(ValueError, match="must be finite"):
        content_hash(nan)
    floating = UnitDigest(
        "U",
        "n",
        "monthly_analysis",
        "2026-09",
        items=(DeductionChange("c", "n", 1.5, Decimal(1)),),  # type: ignore[arg-type]
    )
    with pytest.raises(TypeError, match="cannot put float"):
        content_hash(floating)
    with pytest.raises(TypeError, match="cannot put float"):
        canonical_digest(floating)
    odd_code = UnitDigest("U", "n", date(2026, 1, 1), "2026-09", items=())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not JSON serializable"):
        content_hash(odd_code)


# ------------------------------------------------------------------------------ markers


def plain_find_marker(text: str) -> str | None:
    """`find_confidential_marker` as it was: strip whitespace, then look for each marker."""
    flat = re.sub(r"\s+", "", html.unescape(text).lower())
    for marker in ON_SITE_CHECK_MARKERS:
        if re.sub(r"\s+", "", marker.lower()) in flat:
            return marker
    return None


MARKER_PIECES = [
    "四不两直",
    "四 不\u3000两\n直",
    "暗\u00a0访",
    "ONSITE_CHECK",
    "On-Site check",
    "onsite\u212aheck",
    "onsite_chec\u212a",
    "ONSİTE_CHECK",
    "&#22235;&#19981;&#20004;&#30452;",
    "&#x6697;&#x8bbf;",
    "抽查&nbsp;名单",
    "不打&#x62db;呼",
    "直&amp;奔基层",
]
FILLER = ["月度分析", " ", "\n", "&", "&amp", "<td>", "不", "onsite", "check", "抽查", "名", "暗"]


def test_the_marker_scan_finds_exactly_what_the_plain_scan_finds() -> None:
    rnd = random.Random(7)
    texts = [*MARKER_PIECES, *FILLER]
    for _ in range(4000):
        pieces = [rnd.choice(FILLER) for _ in range(rnd.randint(0, 6))]
        if rnd.random() < 0.5:
            pieces.insert(rnd.randint(0, len(pieces)), rnd.choice(MARKER_PIECES))
        texts.append("".join(pieces))
    for text in texts:
        assert find_confidential_marker(text) == plain_find_marker(text), text


def test_every_kind_of_whitespace_inside_a_marker_is_ignored() -> None:
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(spaces) > 20
    for space in spaces:
        assert find_confidential_marker(f"四{space}不两直") == "四不两直", hex(ord(space))
        assert find_confidential_marker(f"x{space}onsite{space}check") == "onsitecheck"


def test_a_marker_only_in_a_rendered_body_is_refused_naming_that_body() -> None:
    digest = monthly_digest()
    with_newline = UnitDigest(
        digest.unit_code,
        digest.unit_name,
        digest.kind,
        digest.period_key,
        items=(Rectification(3, "抽查\n名单已公布", date(2026, 11, 30)),),
    )
    # In the canonical JSON the newline is written "\n": the digest scan does not see it.
    assert find_confidential_marker(canonical_form(with_newline).payload) is None
    with pytest.raises(ConfidentialContentError, match=r"markdown body.*抽查名单"):
        build_unit_message(with_newline)


def test_the_checked_builder_refuses_a_canonical_form_of_another_digest() -> None:
    with pytest.raises(ValueError, match="not the digest's"):
        build_checked_unit_message(monthly_digest(), canonical_form(UnitDigest("U", "n", "x", "y")))


def test_planning_renders_the_same_message_as_build_unit_message() -> None:
    digests = [monthly_digest(f"DEPT-{i}", actual=str(70 + i)) for i in range(5)]
    plans = plan_outbox(digests, {}, NOW, lambda at: at)
    for digest, plan in zip(digests, plans, strict=True):
        assert plan.rendered == build_unit_message(digest)
        assert plan.content_hash == content_hash(digest)


# ------------------------------------------------------------------------------ numbers

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def plain_number_label(value: Decimal) -> str:
    text = format(value.quantize(_CENT, rounding=ROUND_HALF_UP).normalize(), "f")
    return "0" if text == "-0" else text


def plain_points_label(value: Decimal) -> str:
    return format(value.quantize(_CENT, rounding=ROUND_HALF_UP), "f")


def plain_percent_label(completion: Decimal) -> str:
    return f"{format((completion * 100).quantize(_TENTH, rounding=ROUND_HALF_UP), 'f')}%"


def test_number_labels_are_the_ones_format_gave() -> None:
    rnd = random.Random(11)
    values = [*ODD_DECIMALS, Decimal("99.995"), Decimal("-0.004"), Decimal("NaN")]
    values += [
        Decimal(rnd.randint(-(10 ** rnd.randint(0, 24)), 10 ** rnd.randint(0, 24))).scaleb(
            rnd.randint(-10, 6)
        )
        for _ in range(20000)
    ]
    pairs = [
        (number_label, plain_number_label),
        (points_label, plain_points_label),
        (percent_label, plain_percent_label),
    ]
    for value in values:
        for label, plain in pairs:
            assert outcome(label, value) == outcome(plain, value), (label.__name__, value)


def outcome(label: Any, value: Decimal) -> object:
    try:
        return label(value)
    except ArithmeticError as error:  # too many digits for the context: both refuse
        return type(error)
