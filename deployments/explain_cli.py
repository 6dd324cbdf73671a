"""``assess explain UNIT INDICATOR PERIOD``: the chain behind one result, in Chinese.

From the platform's record versions to the completion and level, every appeal and
ruling, every entry of the indicator's deduction ledger for the year, the warnings,
the negative list and the unit's score (``models.plans.explain``).

The lead wires it into ``deployments.cli``, e.g.::

    @app.command("explain")
    def explain(
        unit: Annotated[str, typer.Argument(help="unit code, e.g. C01")],
        indicator: Annotated[str, typer.Argument(help="indicator code")],
        period: Annotated[str, typer.Argument(help="month, e.g. 2026-03")],
    ) -> None:
        \"\"\"Trace one unit's indicator in one month: value, level, ledger, rulings, score.\"\"\"
        from deployments.explain_cli import ExplainError, explain_command

        try:
            typer.echo(explain_command(unit, indicator, period))
        except ExplainError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(code=1) from None
"""

from __future__ import annotations

from models.errors import OfficeError
from models.persistence.database import session_scope
from models.plans.explain import explain_markdown
from models.rules import Period, PeriodError, PeriodKind
from tasks.appeals.explain import NotFound, load_explain
from tasks.runtime import build_runtime


class ExplainError(OfficeError, ValueError):
    """What was asked for cannot be explained; the message (Chinese) says why."""


def explain_command(unit_code: str, indicator_code: str, period: str) -> str:
    """The chain behind ``unit_code``'s ``indicator_code`` in ``period`` (2026-03), as markdown."""
    try:
        month = Period.parse(period)
    except PeriodError:
        month = None
    if month is None or month.kind is not PeriodKind.MONTH:
        raise ExplainError(f"期次“{period}”不是月份，请写成 2026-03 的形式。")
    runtime = build_runtime()
    engine = runtime.engine
    try:
        with session_scope(engine) as session:
            facts = load_explain(session, unit_code, indicator_code, month.key, runtime.calendar)
    except NotFound as exc:
        if exc.what == "unit":
            raise ExplainError(f"单位编码“{exc.code}”不存在。") from None
        raise ExplainError(f"{exc.year}年度没有编码为“{exc.code}”的考核指标。") from None
    finally:
        engine.dispose()
    return explain_markdown(facts)
