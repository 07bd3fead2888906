"""/api/v1/meeting-notices (time, place, attendees, agenda; each attendee acknowledges it) and
/api/v1/matter-reports (important matters reported to the author's manager, who acknowledges
them)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.activities import period_bounds
from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    Instant,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.notices import notice_view, report_view, sees_all_reports
from crm_api.domain.notices import MAX_ATTENDEES, MAX_LINKS, MatterReport, MeetingNotice
from crm_api.projections.paging import Sort
from crm_api.projections.work import NOTICE_SORTS, REPORT_SORTS, list_notices, list_reports

router = APIRouter(prefix="/api/v1", responses=PROBLEMS)
NOTICES = "/meeting-notices"
REPORTS = "/matter-reports"

Title = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=10_000)]
Reason = Annotated[str, Field(max_length=500)]
Severity = Literal["low", "medium", "high", "critical"]
LinkType = Literal["account", "contact", "opportunity", "quote", "order", "task", "service_request"]


class NoticeCreate(Strict):
    title: Title
    starts_at: dt.datetime = Field(description="Naive times are UTC.")
    ends_at: dt.datetime | None = None
    place: Annotated[str, Field(max_length=200)] | None = None
    agenda: Annotated[str, Field(max_length=10_000)] | None = None
    attendee_ids: Annotated[list[UUID], Field(min_length=1, max_length=MAX_ATTENDEES)]


class NoticeCancel(Strict):
    reason: Reason | None = None


class AttendeeOut(BaseModel):
    user_id: UUID
    acknowledged_at: dt.datetime | None


class NoticeOut(BaseModel):
    id: UUID
    organizer_id: UUID
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    place: str | None
    agenda: str | None
    attendees: list[AttendeeOut] = Field(description="Who is invited, and when each acknowledged.")
    acknowledged_count: int
    cancelled: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class RecordLink(Strict):
    type: LinkType
    id: UUID


class ReportCreate(Strict):
    title: Title
    text: LongText
    severity: Severity
    links: Annotated[list[RecordLink], Field(max_length=MAX_LINKS)] = Field(default_factory=list)


class LinkOut(BaseModel):
    type: str
    id: UUID


class ReportOut(BaseModel):
    id: UUID
    author_id: UUID
    addressed_to: UUID | None = Field(description="The manager of the author's team.")
    title: str
    text: str
    severity: str
    links: list[LinkOut]
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def notice_details(body: NoticeCreate) -> dict[str, Any]:
    details = body.model_dump()
    details["attendee_ids"] = [str(a) for a in body.attendee_ids]
    return details


def report_details(body: ReportCreate) -> dict[str, Any]:
    details = body.model_dump()
    details["links"] = [{"type": link.type, "id": str(link.id)} for link in body.links]
    return details


# meeting notices


@router.post(NOTICES, status_code=201, response_model=NoticeOut, tags=["meeting-notices"])
def issue_notice(
    body: NoticeCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.notices.issue_notice(ctx, **notice_details(body))
    return written(services, response, outcome, notice_view, created_at=router.prefix + NOTICES)


@router.get(NOTICES, response_model=ListEnvelope[NoticeOut], tags=["meeting-notices"])
def search_notices(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    attendee_id: UUID | None = None,
    organizer_id: UUID | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> Any:
    """The notices the caller organised or is invited to (a manager: also its team's)."""
    principal.require("notices:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, NOTICE_SORTS, "starts_at")
    start, end = period_bounds(from_, to)
    with services.read() as conn:
        page = list_notices(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            acting_for=principal.acting_for,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            attendee_id=str(attendee_id) if attendee_id else None,
            organizer_id=str(organizer_id) if organizer_id else None,
            start=start,
            end=end,
        )
    return listed(page)


@router.get(NOTICES + "/{notice_id}", response_model=NoticeOut, tags=["meeting-notices"])
def get_notice(
    notice_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    notice = services.notices.get_notice(principal, notice_id)
    past = point_in_time(services.app, notice, MeetingNotice, version=version, as_of=as_of)
    return one(response, past, notice_view)


@router.post(
    NOTICES + "/{notice_id}/acknowledge", response_model=NoticeOut, tags=["meeting-notices"]
)
def acknowledge_notice(
    notice_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    """An attendee confirms it has read the notice (itself, once)."""
    outcome = services.notices.acknowledge_notice(ctx, notice_id, if_match)
    return written(services, response, outcome, notice_view)


@router.post(NOTICES + "/{notice_id}/cancel", response_model=NoticeOut, tags=["meeting-notices"])
def cancel_notice(
    notice_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: NoticeCancel | None = None,
) -> Any:
    reason = body.reason if body else None
    outcome = services.notices.cancel_notice(ctx, notice_id, reason, if_match)
    return written(services, response, outcome, notice_view)


@router.get(
    NOTICES + "/{notice_id}/history",
    response_model=ListEnvelope[HistoryEntry],
    tags=["meeting-notices"],
)
def notice_history(
    notice_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    notice = services.notices.get_notice(principal, notice_id)
    return history(services.app, notice, MeetingNotice, cursor, limit)


# matter reports


@router.post(REPORTS, status_code=201, response_model=ReportOut, tags=["matter-reports"])
def file_report(body: ReportCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    """Addressed to the manager of the author's team (none: an admin acknowledges it)."""
    outcome = services.notices.file_report(ctx, **report_details(body))
    return written(services, response, outcome, report_view, created_at=router.prefix + REPORTS)


@router.get(REPORTS, response_model=ListEnvelope[ReportOut], tags=["matter-reports"])
def search_reports(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    severity: Severity | None = None,
    acknowledged: bool | None = None,
    author_id: UUID | None = None,
) -> Any:
    """Newest first by default; the caller's own reports and those addressed to it (admins
    and auditors: all)."""
    principal.require("matter_reports:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, REPORT_SORTS, "-created_at")
    with services.read() as conn:
        page = list_reports(
            conn,
            sees_all=sees_all_reports(principal),
            caller_id=principal.id,
            acting_for=principal.acting_for,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            severity=severity,
            acknowledged=acknowledged,
            author_id=str(author_id) if author_id else None,
        )
    return listed(page)


@router.get(REPORTS + "/{report_id}", response_model=ReportOut, tags=["matter-reports"])
def get_report(
    report_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    report = services.notices.get_report(principal, report_id)
    past = point_in_time(services.app, report, MatterReport, version=version, as_of=as_of)
    return one(response, past, report_view)


@router.post(
    REPORTS + "/{report_id}/acknowledge", response_model=ReportOut, tags=["matter-reports"]
)
def acknowledge_report(
    report_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.notices.acknowledge_report(ctx, report_id, if_match)
    return written(services, response, outcome, report_view)


@router.get(
    REPORTS + "/{report_id}/history",
    response_model=ListEnvelope[HistoryEntry],
    tags=["matter-reports"],
)
def report_history(
    report_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    report = services.notices.get_report(principal, report_id)
    return history(services.app, report, MatterReport, cursor, limit)
