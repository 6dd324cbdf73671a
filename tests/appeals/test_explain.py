"""``assess explain``: what it cannot find is said in Chinese; a month not yet analysed
still shows what the platform holds."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from deployments.explain_cli import ExplainError, explain_command
from models.persistence.database import session_scope
from tasks.monthly import load_indicators

pytestmark = pytest.mark.db


def test_explain_says_in_chinese_what_it_cannot_find(
    catalog_db: Engine,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSESS_DATABASE_URL", db_url)
    with session_scope(catalog_db) as session:
        indicator = next(
            i.code for i in load_indicators(session, 2026) if "key_development" in i.categories
        )
    with pytest.raises(ExplainError, match="不是月份"):
        explain_command("C01", indicator, "2026-Q1")
    with pytest.raises(ExplainError, match="单位编码“ZZ9”不存在"):
        explain_command("ZZ9", indicator, "2026-03")
    with pytest.raises(ExplainError, match="2026年度没有编码为“nope”的考核指标"):
        explain_command("C01", "nope", "2026-03")

    text = explain_command("C01", indicator, "2026-03")
    assert "青岚区（C01）" in text
    assert "未按期上传" in text  # nothing collected yet
    assert "该月尚未进行月分析" in text
    assert "（无申诉）" in text
