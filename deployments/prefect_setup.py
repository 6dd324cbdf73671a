"""What the deployments need on a Prefect server besides prefect.yaml: schedules and alerts.

- `render_prefect_yaml` rewrites the generated ``schedules:`` of prefect.yaml from the
  working-day calendar (see `deployments.schedules`).
- `setup_alerts` creates, idempotently, one Apprise notification block per operations
  channel and the automation that notifies them when a cycle run (or an on-demand
  flow) fails, crashes, times out or ends ``Partial``.

Used by the ``assess deployments`` commands (`deployments.deploy_cli`) and the main job
(`deployments.main_job`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from models.rules import SHANGHAI, Cycle, YearRules
from tasks.settings import get_settings

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

    from deployments.schedules import RenderedSchedules

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


# ------------------------------------------------------------------------------- render


def default_years(now: datetime | None = None) -> list[int]:
    """This year and the next (Asia/Shanghai)."""
    year = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).year
    return [year, year + 1]


def stored_year_rules(years: Sequence[int]) -> dict[int, YearRules]:
    """The years' rules from our database when it exists (``tasks.year_rules``: the
    defaults for a year the office has not imported); nothing without a database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from models.persistence.database import session_scope
    from tasks.runtime import build_runtime
    from tasks.year_rules import load_rules_of_years

    url = get_settings().resolved_database_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return {}
    try:
        engine = build_runtime().engine
        try:
            with session_scope(engine) as session:
                return load_rules_of_years(session, years)
        finally:
            engine.dispose()
    except SQLAlchemyError:
        return {}


@dataclass(frozen=True)
class RenderResult:
    path: Path
    changed: bool
    rendered: RenderedSchedules
    text: str


def render_prefect_yaml(
    path: Path = DEFAULT_PREFECT_YAML,
    years: Sequence[int] | None = None,
    rules: dict[int, YearRules] | None = None,
    *,
    write: bool = True,
) -> RenderResult:
    """Rewrite the generated ``schedules:`` of ``path`` for ``years`` (default: this and next)."""
    import warnings

    from deployments.schedules import render_schedules, rewrite_schedules
    from flows.deliver_outbox import SCHEDULE_CRON
    from tasks.runtime import build_runtime

    the_years = sorted(set(years or default_years()))
    calendar = build_runtime().calendar
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported once per year via rendered.warnings
        rendered = render_schedules(
            the_years,
            calendar,
            stored_year_rules(the_years) if rules is None else rules,
            outbox_cron=SCHEDULE_CRON,
        )
    old = path.read_text(encoding="utf-8")
    new = rewrite_schedules(old, rendered)
    if write and new != old:
        path.write_text(new, encoding="utf-8")
    return RenderResult(path, new != old, rendered, new)


# ------------------------------------------------------------------------------- alerts

#: The on-demand flows (an operator or a unit starts them): their failures page operations too.
ON_DEMAND_FLOWS: tuple[str, ...] = (
    "rule_on_appeal",
    "recompute_after_appeal",
    "recompute_after_catalog_change",
    "record_onsite_finding",
    "close_problem",
    "collect_appeals",
    "remind_rectifications",
)
#: The flows whose failures (and ``Partial`` ends) page operations: the cycles, the
#: backfill, the outbox and the on-demand flows.
ALERTED_FLOWS: tuple[str, ...] = (
    *(c.value for c in Cycle),
    "backfill_cycles",
    "deliver_outbox",
    *ON_DEMAND_FLOWS,
)
#: ``Partial`` is a Completed-type state (the platform could not be read in full): its
#: own event, so it pages like a failure.
ALERT_EVENTS = (
    "prefect.flow-run.Failed",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.TimedOut",
    "prefect.flow-run.Partial",
)
AUTOMATION_NAME = "assessment-cycle-failed"
BLOCK_PREFIX = "assessment-ops"
_OUTCOME = "{% if flow_run.state.name == 'Partial' %}部分完成{% else %}运行异常{% endif %}"


def _beijing(when: str) -> str:
    """A template showing ``when`` (a datetime in the template's context) in Beijing time:
    pendulum's ``in_timezone`` (Prefect's datetimes on Python < 3.13), else UTC as is."""
    return (
        f"{{% if {when}.in_timezone is defined %}}"
        f"{{{{ {when}.in_timezone('Asia/Shanghai').strftime('%Y-%m-%d %H:%M') }}}}"
        f"{{% else %}}{{{{ {when} }}}}（UTC）{{% endif %}}"
    )


ALERT_SUBJECT = "【考核日历】" + _OUTCOME + "：{{ flow_run.name }}（{{ flow_run.state.name }}）"
ALERT_BODY = """{% if flow_run.state.name == 'Partial' %}考核日历的一次运行只完成了一部分\
（平台数据未能完整读取，缺失部分未作预扣分），请运维人员核查平台后按失败期次补跑。\
{% else %}考核日历的一次运行未能完成，请运维人员处理。{% endif %}

流程：{{ flow.name }}
运行：{{ flow_run.name }}
状态：{{ flow_run.state.name }}
原因：{{ flow_run.state.message }}
计划时间（北京时间）：@planned@
结束时间（北京时间）：@ended@
参数：{{ flow_run.parameters }}
查看：{{ flow_run|ui_url }}
""".replace("@planned@", _beijing("flow_run.expected_start_time")).replace(
    "@ended@", _beijing("flow_run.state.timestamp")
)


@dataclass(frozen=True)
class AlertSetup:
    automation_id: UUID
    block_names: tuple[str, ...]
    created: bool


def failure_automation(block_ids: Sequence[UUID]) -> AutomationCore:
    """The automation: any alerted flow's run Failed/Crashed/TimedOut/Partial → every channel."""
    from datetime import timedelta

    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=AUTOMATION_NAME,
        description="考核周期或按需流程运行失败、崩溃、超时或部分完成时，通知考核办运维渠道"
        "（由 assess deployments setup-alerts 创建，请勿手工修改）。",
        enabled=True,
        trigger=EventTrigger(
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": list(ALERTED_FLOWS)}
            ),
            expect=set(ALERT_EVENTS),
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[
            SendNotification(block_document_id=block_id, subject=ALERT_SUBJECT, body=ALERT_BODY)
            for block_id in block_ids
        ],
    )


def setup_alerts(channels: Sequence[str]) -> AlertSetup:
    """Create or update the ops channels' blocks and the failure automation (idempotent).

    Each channel is an Apprise URL (``dingtalk://``, ``wecombot://``, ``mailto://``,
    ``json://``...). Prefect 3.9.1's ``AppriseNotificationBlock`` is an interface that
    cannot be saved, and a block class of our own would have to be importable by the
    server process that runs the action; ``SlackWebhook`` is the stock, concrete
    Apprise block whose URL is handed to Apprise unchanged when it is not a Slack
    one, so the server needs nothing of ours to deliver (the UI lists it as a
    "Slack Webhook" block named ``assessment-ops-<n>``).
    """
    from prefect import get_client
    from prefect.blocks.notifications import SlackWebhook
    from prefect.exceptions import ObjectNotFound
    from pydantic import SecretStr

    if not channels:
        raise ValueError(
            "no operations channel: set ASSESS_OPS_CHANNELS (a JSON list of Apprise URLs), "
            "e.g. ASSESS_OPS_CHANNELS='[\"json://127.0.0.1:8790/ops\"]'"
        )
    names: list[str] = []
    block_ids: list[UUID] = []
    for n, url in enumerate(channels, start=1):
        name = f"{BLOCK_PREFIX}-{n}"
        block = SlackWebhook(url=SecretStr(url), notify_type="failure")
        saved = block.save(name, overwrite=True)
        if not isinstance(saved, UUID):  # pragma: no cover - save() is sync outside an event loop
            raise TypeError(f"saving block {name} returned {saved!r}")
        block_ids.append(saved)
        names.append(name)
    for n in range(len(channels) + 1, len(channels) + 20):  # channels removed since last time
        try:
            SlackWebhook.delete(f"{BLOCK_PREFIX}-{n}")
        except (ObjectNotFound, ValueError):  # no such block: none further either
            break
    spec = failure_automation(block_ids)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if existing:
            keep, *extra = sorted(existing, key=lambda a: str(a.id))
            client.update_automation(keep.id, spec)
            for automation in extra:
                client.delete_automation(automation.id)
            return AlertSetup(keep.id, tuple(names), created=False)
        return AlertSetup(client.create_automation(spec), tuple(names), created=True)
