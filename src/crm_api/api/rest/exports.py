"""/api/v1/exports/{accounts,contacts}: the caller's own records as CSV or NDJSON, streamed and
audited; /api/v1/kpis/exports: who exported how much (managers: their team; admins: all)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from crm_api.api.rest.conventions import (
    ARCHIVED,
    PROBLEMS,
    ArchivedFilter,
    Instant,
    ListEnvelope,
    listed,
    wait_min_position,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, PagingDep, ServicesDep
from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.people import Principal
from crm_api.privacy.exports import (
    ENCODERS,
    EXPORT_PAGE_ROWS,
    MEDIA_TYPES,
    exports_per_user,
    paged_rows,
)
from crm_api.projections.accounts import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SORTS,
    CONTACT_COLUMNS,
    CONTACT_SORTS,
    list_accounts,
    list_contacts,
)
from crm_api.projections.paging import Page, Sort

router = APIRouter(tags=["exports"], responses=PROBLEMS)

Format = Annotated[
    Literal["csv", "ndjson"],
    Query(alias="format", description="csv (with a header row) or ndjson (one object a line)."),
]
SortText = Annotated[str | None, Query(max_length=200, description="As on the list.")]
Text = Annotated[str | None, Query(min_length=1, max_length=100)]
MinPosition = Annotated[int | None, Query(ge=0)]

EXPORTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed. X-Export-Id names the export in the audit trail.",
        "content": {"text/csv": {}, "application/x-ndjson": {}},
    }
}


def _visible(principal: Principal) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


def _export(
    services: Services,
    ctx: CommandContext,
    resource: str,
    output: str,
    order: Sort,
    archived: str,
    filters: dict[str, Any],
    columns: tuple[str, ...],
    lister: Callable[..., Page],
) -> StreamingResponse:
    """Record the export, then stream the list's pages through the chosen encoder."""
    audited = {**filters, "archived": archived, "sort": order.text()}
    outcome = services.exports.start(
        ctx, resource, output, {k: v for k, v in audited.items() if v is not None}
    )
    export = outcome.record

    def fetch(cursor: str | None) -> Page:
        with services.read() as conn:
            return lister(
                conn,
                visible_owners=_visible(ctx.principal),
                sort=order,
                cursor=cursor,
                limit=EXPORT_PAGE_ROWS,
                archived=ARCHIVED[archived],
                **filters,
            )

    body = services.exports.stream(ctx, export, paged_rows(fetch), ENCODERS[output](columns))
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[output],
        headers={
            "Content-Disposition": f'attachment; filename="{resource}-{export.day}-{export.slot}.'
            f'{output}"',
            "X-Export-Id": str(export.id),
            "X-Log-Position": str(outcome.position),
            "Cache-Control": "no-store",
        },
    )


@router.get("/api/v1/exports/accounts", response_class=StreamingResponse, responses=EXPORTED)
def export_accounts(
    ctx: Command,
    services: ServicesDep,
    output: Format = "csv",
    sort: SortText = None,
    owner_id: UUID | None = None,
    q: Text = None,
    industry: Text = None,
    manual_grade: Literal["A", "B", "C", "D"] | None = None,
    archived: ArchivedFilter = "false",
    updated_since: Instant | None = None,
    min_position: MinPosition = None,
) -> StreamingResponse:
    """The accounts the caller sees, with the list's filters; counts against the daily cap."""
    order = Sort.parse(sort, ACCOUNT_SORTS, "name")
    wait_min_position(services, min_position)
    filters = {
        "owner_id": str(owner_id) if owner_id else None,
        "q": q,
        "industry": industry,
        "manual_grade": manual_grade,
        "updated_since": updated_since,
    }
    return _export(
        services, ctx, "accounts", output, order, archived, filters, ACCOUNT_COLUMNS, list_accounts
    )


@router.get("/api/v1/exports/contacts", response_class=StreamingResponse, responses=EXPORTED)
def export_contacts(
    ctx: Command,
    services: ServicesDep,
    output: Format = "csv",
    sort: SortText = None,
    account_id: UUID | None = None,
    q: Text = None,
    archived: ArchivedFilter = "false",
    updated_since: Instant | None = None,
    min_position: MinPosition = None,
) -> StreamingResponse:
    """The contacts the caller sees, with the list's filters; counts against the daily cap."""
    order = Sort.parse(sort, CONTACT_SORTS, "name")
    wait_min_position(services, min_position)
    filters = {
        "account_id": str(account_id) if account_id else None,
        "q": q,
        "updated_since": updated_since,
    }
    return _export(
        services, ctx, "contacts", output, order, archived, filters, CONTACT_COLUMNS, list_contacts
    )


class ExportsKpiRow(BaseModel):
    user_id: str
    exports: int
    rows: int
    incomplete: int
    last_export_at: datetime


@router.get("/api/v1/kpis/exports", response_model=ListEnvelope[ExportsKpiRow])
def exports_kpi(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    started_from: Annotated[Instant | None, Query(alias="from")] = None,
    started_to: Annotated[Instant | None, Query(alias="to")] = None,
) -> Any:
    """Exports per user started in [from, to): a manager sees its team's, admins and auditors
    everyone's. `incomplete` counts exports still running or abandoned by the client."""
    principal.require("exports:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = exports_per_user(
            conn,
            visible_users=_visible(principal),
            started_from=started_from,
            started_to=started_to,
            cursor=paging.cursor,
            limit=paging.limit,
        )
    return listed(page)
