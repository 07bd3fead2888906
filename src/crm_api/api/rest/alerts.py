"""/api/v1/alerts: what the watchers raised (dormant accounts, SLA warnings and breaches),
acknowledged by people, cleared when the cause ends. A rep sees the alerts on its accounts, a
manager its team's, a service agent those on the requests assigned to it, auditors and admins
all of them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, listed, wait_min_position, written
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.services import Services
from crm_api.domain.alerts import Alert
from crm_api.domain.errors import NotFound
from crm_api.domain.people import Principal, Role
from crm_api.projections.alerts import ALERT_SORTS, alert_row, list_alerts
from crm_api.projections.paging import Page, Sort

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=PROBLEMS)

AlertKind = Literal["account_dormant", "sla_warning", "sla_breached"]


class AlertOut(BaseModel):
    id: UUID
    kind: AlertKind
    subject_type: Literal["account", "service_request"]
    subject_id: UUID
    account_id: UUID
    owner_id: UUID = Field(description="The account's owner (now).")
    assignee_id: UUID | None = Field(description="The request's assignee (SLA alerts).")
    target: Literal["first_response", "resolution"] | None = Field(
        description="SLA alerts: the target warned about or breached."
    )
    threshold_at: dt.datetime = Field(
        description="When the account became dormant, or the 80 % / due time that passed."
    )
    episode: int = Field(description="Which episode of its subject (one alert per episode).")
    raised_at: dt.datetime
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    cleared_at: dt.datetime | None = Field(description="null while the alert is open.")
    clear_reason: str | None = Field(
        description="order_placed, order_cancelled, grade_changed, account_archived, "
        "responded, resolved, reopened, episode_ended."
    )
    version: int
    updated_at: dt.datetime


class TickOut(BaseModel):
    raised: int
    cleared: int


def visibility(principal: Principal) -> tuple[frozenset[str] | None, str | None]:
    """(owners whose accounts' alerts it sees, the assignee it is limited to)."""
    if principal.training:
        return None, None
    if principal.role is Role.SERVICE_AGENT:
        return None, principal.id
    return principal.visible_owners, None


def search(
    services: Services,
    principal: Principal,
    *,
    sort: str | None,
    cursor: str | None,
    limit: int,
    kind: str | None = None,
    owner_id: str | None = None,
    subject_id: str | None = None,
    open_: bool | None = None,
) -> Page:
    """The alerts the caller sees (REST and GraphQL)."""
    principal.require("alerts:read")
    owners, assignee = visibility(principal)
    with services.read() as conn:
        return list_alerts(
            conn,
            visible_owners=owners,
            assignee_id=assignee,
            sort=Sort.parse(sort, ALERT_SORTS, "-raised_at"),
            cursor=cursor,
            limit=limit,
            kind=kind,
            owner_id=owner_id,
            subject_id=subject_id,
            open_=open_,
        )


def current(services: Services, alert_id: Any) -> dict[str, Any]:
    with services.read() as conn:
        row = alert_row(conn, str(alert_id))
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    return row


@router.get("", response_model=ListEnvelope[AlertOut])
def search_alerts(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    kind: AlertKind | None = None,
    owner_id: UUID | None = None,
    subject_id: UUID | None = None,
    open: Annotated[
        bool | None, Query(description="true: not cleared yet; false: cleared.")
    ] = None,
) -> Any:
    wait_min_position(services, paging.min_position)
    return listed(
        search(
            services,
            principal,
            sort=paging.sort,
            cursor=paging.cursor,
            limit=paging.limit,
            kind=kind,
            owner_id=str(owner_id) if owner_id else None,
            subject_id=str(subject_id) if subject_id else None,
            open_=open,
        )
    )


@router.post(":tick", response_model=TickOut)
def run_tick(principal: CurrentPrincipal, services: ServicesDep) -> Any:
    """Run the watchers once now (operations; the server also ticks on its own)."""
    principal.require("alerts:tick")
    report = services.run_watchers()
    return {"raised": report.raised, "cleared": report.cleared}


@router.get("/{alert_id}", response_model=AlertOut)
def get_alert(
    alert_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    alert: Alert = services.alerts.get_alert(principal, alert_id)
    response.headers["ETag"] = f'"{alert.version}"'
    return current(services, alert.id)


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(
    alert_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.alerts.acknowledge(ctx, alert_id, if_match)
    return written(services, response, outcome, lambda alert: current(services, alert.id))
