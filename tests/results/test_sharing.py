"""Sharing the negative list and open problems with supervisors, and change notices."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from deployments.results_cli import share_app
from models.persistence.database import session_scope
from models.persistence.tables import Appeal, NegativeListEntry, ProblemEntry, Ruling
from models.plans.sharing import change_notice_markdown, content_hash
from tasks.share_tasks import export_share, pending_changes

pytestmark = pytest.mark.db

AT = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 20, 2, 0, tzinfo=UTC)


def unit_id(engine: Engine, code: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT id FROM unit WHERE code = :c"), {"c": code}).one()[0]
        )


def negative(engine: Engine, code: str, period: str, event: str, ruling: int | None = None) -> None:
    with session_scope(engine) as session:
        session.add(
            NegativeListEntry(
                period=period, unit_id=unit_id(engine, code), event=event, ruling_id=ruling,
                created_at=LATER if ruling else AT,
            )
        )  # fmt: skip


def ruling_for(engine: Engine, code: str) -> int:
    """An appeal of ``code`` on September, waived by the office."""
    with session_scope(engine) as session:
        indicator = session.execute(sa.text("SELECT id FROM indicator WHERE code = 'safety' "
                                            "AND year = 2026")).scalar_one()  # fmt: skip
        appeal = Appeal(
            platform_id=f"AP-{code}", unit_id=unit_id(engine, code), indicator_id=indicator,
            period="2026-09", kind="value_error", reason="数据填报有误", filed_at=AT,
            received_at=AT, status="ruled",
        )  # fmt: skip
        session.add(appeal)
        session.flush()
        assert appeal.id is not None
        ruling = Ruling(appeal_id=appeal.id, kind="waived", reason="核实无误", ruled_at=LATER)
        session.add(ruling)
        session.flush()
        assert ruling.id is not None
        return ruling.id


@pytest.fixture
def listed(db_env: Engine) -> Engine:
    """As of 2026-09: C01 and D08 on the list, C05 came off; one open and one closed problem."""
    engine = db_env
    negative(engine, "C01", "2026-08", "on")
    negative(engine, "C05", "2026-08", "on")
    negative(engine, "C05", "2026-09", "off")
    negative(engine, "D08", "2026-09", "on")
    with session_scope(engine) as session:
        for code, text in (("C01", "重点项目进度滞后未整改"), ("D12", "交通项目资料不全")):
            session.add(
                ProblemEntry(
                    unit_id=unit_id(engine, code), source="analysis", period="2026-09",
                    description=text, rectify_by=date(2026, 9, 25), created_at=AT,
                )
            )  # fmt: skip
        session.flush()
        session.execute(
            sa.text("INSERT INTO problem_closure (problem_id, closed_at, note) "
                    "SELECT id, :at, '' FROM problem_entry WHERE description = '交通项目资料不全'"),
            {"at": AT},
        )  # fmt: skip
    return engine


def shares(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            (r, k, p, sorted(json.loads(u) if isinstance(u, str) else u))
            for r, k, p, u in conn.execute(
                sa.text("SELECT recipient, kind, period, unit_codes FROM share_record ORDER BY id")
            )
        ]


def test_an_export_holds_the_list_as_of_its_month_and_the_open_problems_and_is_recorded(
    listed: Engine,
) -> None:
    with session_scope(listed) as session:
        export = export_share(session, "inspection", "2026-09", AT)
    codes = [u["unit_code"] for u in export.content["negative_list"]]
    assert codes == ["C01", "D08"]
    assert export.content["negative_list"][0]["on_list_since"] == "2026-08"
    (problem,) = export.content["open_problems"]
    assert problem["unit_code"] == "C01" and problem["overdue"] is True
    assert export.content_hash == content_hash(export.content)
    assert export.removals == ()
    assert shares(listed) == [
        ("inspection", "negative_list", "2026-09", ["C01", "D08"]),
        ("inspection", "open_problems", "2026-09", ["C01"]),
    ]
    with session_scope(listed) as session:
        again = export_share(session, "inspection", "2026-09", LATER)
    assert again.content_hash == export.content_hash  # same content, same hash


def test_a_ruling_that_takes_a_unit_off_a_shared_list_is_notified_once_to_each_recipient(
    listed: Engine,
) -> None:
    with session_scope(listed) as session:
        export_share(session, "inspection", "2026-09", AT)
        export_share(session, "livelihood", "2026-09", AT)
    ruling = ruling_for(listed, "D08")
    negative(listed, "D08", "2026-09", "off", ruling)
    with session_scope(listed) as session:
        changes, names = pending_changes(session, LATER)
    assert sorted(changes) == ["inspection", "livelihood"]
    (removal,) = changes["inspection"]
    assert (removal.period, removal.unit_code, removal.ruling_id) == ("2026-09", "D08", ruling)
    notice = change_notice_markdown("inspection", changes["inspection"], names, LATER)
    assert notice.startswith("# 负面清单变更通知（致市委巡察机构）")
    assert "市发展和改革委员会（D08）" in notice and "移出负面清单" in notice
    assert f"裁定编号 {ruling}" in notice and "2026年9月" in notice
    with session_scope(listed) as session:
        assert pending_changes(session, LATER)[0] == {}
    assert ("inspection", "change_notice", "2026-09", ["D08"]) in shares(listed)


def test_a_newer_months_export_notifies_no_removal_from_an_earlier_months_list(
    listed: Engine,
) -> None:
    with session_scope(listed) as session:
        export_share(session, "major_projects", "2026-09", AT)
    negative(listed, "C01", "2026-10", "off")
    with session_scope(listed) as session:
        export = export_share(session, "major_projects", "2026-10", LATER)
    assert [u["unit_code"] for u in export.content["negative_list"]] == ["D08"]
    assert export.removals == ()  # September's list, as of September, still holds C01
    with session_scope(listed) as session:
        assert pending_changes(session, LATER)[0] == {}


def test_exporting_october_then_march_tells_the_recipient_of_no_false_removal(
    listed: Engine,
) -> None:
    negative(listed, "C01", "2026-10", "off")
    negative(listed, "C07", "2026-03", "on")
    negative(listed, "C07", "2026-04", "off")
    with session_scope(listed) as session:
        october = export_share(session, "inspection", "2026-10", AT)
        march = export_share(session, "inspection", "2026-03", LATER)
    assert [u["unit_code"] for u in october.content["negative_list"]] == ["D08"]
    assert [u["unit_code"] for u in march.content["negative_list"]] == ["C07"]
    assert march.removals == ()
    assert ("inspection", "change_notice", "2026-10", ["D08"]) not in shares(listed)
    with session_scope(listed) as session:
        assert pending_changes(session, LATER)[0] == {}


def test_a_new_export_of_the_same_month_whose_list_shrank_comes_with_a_change_notice(
    listed: Engine,
) -> None:
    with session_scope(listed) as session:
        export_share(session, "major_projects", "2026-09", AT)
    negative(listed, "D08", "2026-09", "off")
    with session_scope(listed) as session:
        export = export_share(session, "major_projects", "2026-09", LATER)
    assert [u["unit_code"] for u in export.content["negative_list"]] == ["C01"]
    (removal,) = export.removals
    assert (removal.period, removal.unit_code) == ("2026-09", "D08")
    assert ("major_projects", "change_notice", "2026-09", ["D08"]) in shares(listed)
    with session_scope(listed) as session:
        assert pending_changes(session, LATER)[0] == {}  # already notified with the export


def test_exporting_the_same_content_twice_records_one_share(listed: Engine) -> None:
    with session_scope(listed) as session:
        first = export_share(session, "inspection", "2026-09", AT)
    with session_scope(listed) as session:
        second = export_share(session, "inspection", "2026-09", LATER)
    assert (first.repeated, second.repeated) == (False, True)
    assert second.content == first.content
    assert shares(listed) == [
        ("inspection", "negative_list", "2026-09", ["C01", "D08"]),
        ("inspection", "open_problems", "2026-09", ["C01"]),
    ]
    with session_scope(listed) as session:
        other = export_share(session, "livelihood", "2026-09", LATER)
    assert other.repeated is False  # another recipient has not received it yet
    assert len(shares(listed)) == 4


def test_the_share_command_writes_xlsx_or_json_and_the_change_notice_beside_it(
    listed: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    first = runner.invoke(
        share_app, ["export", "--recipient", "inspection", "--period", "2026-09",
                    str(tmp_path / "巡察-2026-09.xlsx")],
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "负面清单 2 个单位" in first.output
    book = openpyxl.load_workbook(tmp_path / "巡察-2026-09.xlsx")
    assert book.sheetnames == ["负面清单", "未销号问题", "说明"]
    sheet = book["负面清单"]
    assert [c.value for c in sheet[1]][:2] == ["单位编码", "单位名称"]
    assert [sheet.cell(r, 1).value for r in (2, 3)] == ["C01", "D08"]
    negative(listed, "D08", "2026-09", "off", ruling_for(listed, "D08"))
    second = runner.invoke(
        share_app, ["export", "--recipient", "inspection", "--period", "2026-09",
                    str(tmp_path / "巡察-2026-09-更正.json")],
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    data = json.loads((tmp_path / "巡察-2026-09-更正.json").read_text(encoding="utf-8"))
    assert [u["unit_code"] for u in data["negative_list"]] == ["C01"]
    assert data["content_sha256"] == content_hash(
        {k: v for k, v in data.items() if k not in ("generated_at", "content_sha256")}
    )
    notice = json.loads((tmp_path / "巡察-2026-09-更正-changes.json").read_text(encoding="utf-8"))
    assert [(c["unit_code"], c["period"]) for c in notice["changes"]] == [("D08", "2026-09")]
    changes = runner.invoke(share_app, ["changes", "--since", "2026-10-01"])
    assert changes.exit_code == 0 and "没有需要通知的变更" in changes.output


def test_an_unknown_recipient_or_file_type_is_refused_in_chinese(
    listed: Engine, tmp_path: Path
) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        share_app, ["export", "--recipient", "press", "--period", "2026-09",
                    str(tmp_path / "x.json")],
    )  # fmt: skip
    assert bad.exit_code == 2 and "未知的接收方" in bad.output
    csv = runner.invoke(
        share_app, ["export", "--recipient", "inspection", "--period", "2026-09",
                    str(tmp_path / "x.csv")],
    )  # fmt: skip
    assert csv.exit_code == 2 and "不支持的文件格式" in csv.output
