"""Test support for daily work: activities, the timeline, tasks, work plans, notices, reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import uuid4

from crm_api.domain.context import EventMeta, recording
from tests.sales_support import assert_problem, fields, ok
from tests.support import Company

ACTIVITIES = "/api/v1/activities"
TASKS = "/api/v1/tasks"
WORK_PLANS = "/api/v1/work-plans"
NOTICES = "/api/v1/meeting-notices"
REPORTS = "/api/v1/matter-reports"

__all__ = ["assert_problem", "fields", "ok"]

T = TypeVar("T")


def timeline_url(account_id: str) -> str:
    return f"/api/v1/accounts/{account_id}/timeline"


def post(
    company: Company, who: str, url: str, body: dict[str, Any] | None = None, **headers: Any
) -> Any:
    on_behalf_of = headers.pop("on_behalf_of", None)
    return company.client.post(
        url, json=body or {}, headers={**company.as_(who, on_behalf_of), **headers}
    )


def get(
    company: Company, who: str, url: str, on_behalf_of: str | None = None, **params: Any
) -> Any:
    return company.client.get(url, params=params, headers=company.as_(who, on_behalf_of))


def record_activity(
    company: Company, who: str, account_id: str, on_behalf_of: str | None = None, **body: Any
) -> dict[str, Any]:
    body.setdefault("type", "call")
    response = post(
        company, who, ACTIVITIES, {"account_id": account_id, **body}, on_behalf_of=on_behalf_of
    )
    return ok(response, 201)


def create_task(
    company: Company, who: str, on_behalf_of: str | None = None, **body: Any
) -> dict[str, Any]:
    body.setdefault("title", "Call Acme back")
    body.setdefault("due_date", "2026-01-09")
    return ok(post(company, who, TASKS, body, on_behalf_of=on_behalf_of), 201)


def draft_plan(
    company: Company, who: str, period: str = "2026-W02", items: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    items = items if items is not None else [{"text": "Visit Acme", "planned_minutes": 90}]
    return ok(post(company, who, WORK_PLANS, {"period": period, "items": items}), 201)


def plan_command(
    company: Company, who: str, plan: dict[str, Any], verb: str, body: dict[str, Any] | None = None
) -> Any:
    return post(company, who, f"{WORK_PLANS}/{plan['id']}/{verb}", body)


def issue_notice(company: Company, who: str, attendees: list[str], **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Monday sales meeting")
    body.setdefault("starts_at", "2026-01-12T08:30:00Z")
    body["attendee_ids"] = [company.ids[a] for a in attendees]
    return ok(post(company, who, NOTICES, body), 201)


def file_report(company: Company, who: str, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Competitor undercuts us at Acme")
    body.setdefault("text", "They offered 20% below our list price.")
    body.setdefault("severity", "high")
    on_behalf_of = body.pop("on_behalf_of", None)
    return ok(post(company, who, REPORTS, body, on_behalf_of=on_behalf_of), 201)


# domain unit tests: commands run inside a command context, without I/O

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def stamped(
    action: Callable[[], T],
    occurred_at: datetime = NOW,
    actor: str = "user-1",
    on_behalf_of: str | None = None,
) -> T:
    """Run a domain action as a command would: stamped with who, for whom and when."""
    meta = EventMeta(
        actor=actor,
        actor_type="user",
        on_behalf_of=on_behalf_of,
        occurred_at=occurred_at,
        command_id=f"cmd-{uuid4()}",
        correlation_id="corr-1",
    )
    with recording(meta, NOW):
        return action()


def event_types(aggregate: Any) -> list[str]:
    return [e.type_name for e in aggregate.collect_events()]
