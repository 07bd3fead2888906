"""/api/v1/quotes: revisions priced against the policy, approvals that name a revision, the
customer's answer, and the auditor's view of all of it at any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    IF_MATCH_REQUIRED,
    PROBLEMS,
    HistoryEntry,
    Instant,
    ListEnvelope,
    Strict,
    history_entry,
    one,
    wait_min_position,
    written,
)
from crm_api.api.rest.custom_fields import CustomFieldsIn, CustomFieldsOut, CustomFilter
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.quotes import quote_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.quotes import MAX_LINES, LineRequest, QuoteState, line_view
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import InvalidCursor, Sort
from crm_api.projections.quotes import QUOTE_SORTS, lines_of, list_quotes

router = APIRouter(prefix="/api/v1/quotes", tags=["quotes"], responses=PROBLEMS)

Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "19.90"'),
]
Quantity = Annotated[
    Decimal, Field(gt=0, le=1_000_000_000, decimal_places=3, description='e.g. "2" or "1.5"')
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Terms = Annotated[str, Field(max_length=5000)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Note = Annotated[str, Field(max_length=1000)]
Revision = Annotated[int, Field(ge=1, le=1_000_000, description="The revision decided on.")]


class LineIn(Strict):
    product_id: UUID
    quantity: Quantity
    unit_price: Money


def _line_requests(lines: list[LineIn]) -> list[LineRequest]:
    return [LineRequest(str(line.product_id), line.quantity, line.unit_price) for line in lines]


class QuoteCreate(Strict):
    account_id: UUID
    opportunity_id: UUID | None = None
    title: Title | None = Field(None, description='Defaults to "Quote for <account name>".')
    currency: Currency
    valid_until: date | None = Field(None, description="Defaults to 30 days from today.")
    terms: Terms | None = None
    lines: list[LineIn] = Field(default_factory=list, max_length=MAX_LINES)
    custom_fields: CustomFieldsIn | None = None


class QuoteUpdate(Strict):
    """A quote's custom fields change in any state and never make a new revision (lines,
    title, validity and terms change through `revise`)."""

    custom_fields: CustomFieldsIn


class QuoteRevise(Strict):
    """Any of lines, title, valid_until, terms; a change records the next revision and voids
    an approval the quote carried."""

    lines: list[LineIn] | None = Field(None, max_length=MAX_LINES)
    title: Title | None = None
    valid_until: date | None = None
    terms: Terms | None = Field(None, description="null clears the terms.")
    reason: Reason | None = None


class Decision(Strict):
    revision: Revision
    comment: Note | None = None


class Rejection(Strict):
    revision: Revision
    reason: Reason


class Acceptance(Strict):
    note: Note | None = None


class Withdrawal(Strict):
    reason: Reason | None = None


class LineOut(BaseModel):
    line: int
    product_id: str
    sku: str
    name: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    list_price: Decimal = Field(
        description="The product's list price when the revision was written."
    )
    floor_price: Decimal = Field(
        description="The product's floor price when the revision was written."
    )
    unit_cost: Decimal
    discount_pct: Decimal = Field(description="Below list price, in percent.")
    below_floor: bool


class ApprovalOut(BaseModel):
    revision: int
    approved_by: str = Field(description='"policy", or the approving manager\'s user id.')
    deepest_discount_pct: Decimal
    approval_limit_pct: Decimal | None


class QuoteOut(BaseModel):
    id: UUID
    account_id: UUID
    owner_id: str
    opportunity_id: str | None
    title: str
    state: QuoteState
    revision: int
    currency: str
    valid_until: date
    terms: str | None
    lines: list[LineOut]
    amount: Decimal
    list_amount: Decimal
    discount_amount: Decimal
    cost: Decimal
    margin: Decimal
    deepest_discount_pct: Decimal
    needs_approval: bool = Field(description="Some line is below its floor price.")
    approval: ApprovalOut | None = Field(description="The approval the current revision carries.")
    authors: list[str] = Field(description="Who wrote or submitted a revision: never approvers.")
    closed_reason: str | None
    order_id: UUID | None = Field(description="The order an accepted quote became.")
    voided_approvals: int
    custom_fields: CustomFieldsOut
    version: int
    created_at: datetime
    updated_at: datetime


class QuoteRow(BaseModel):
    id: UUID
    account_id: UUID
    owner_id: str
    opportunity_id: str | None
    title: str
    state: QuoteState
    revision: int
    currency: str
    valid_until: date
    amount: Decimal
    list_amount: Decimal
    cost: Decimal
    margin: Decimal
    deepest_discount_pct: Decimal
    needs_approval: bool
    line_count: int
    lines: list[LineOut]
    approved_by: str | None
    approved_revision: int | None
    approved_at: datetime | None
    submitted_at: datetime | None
    closed_at: datetime | None
    voided_approvals: int
    custom_fields: CustomFieldsOut
    version: int
    created_at: datetime
    updated_at: datetime


class Stamp(BaseModel):
    actor: str
    on_behalf_of: str | None
    occurred_at: datetime
    recorded_at: datetime
    version: int


class SubmittedOut(Stamp):
    needs_approval: bool


class AuditApprovalOut(Stamp):
    approved_by: str
    by_policy: bool
    deepest_discount_pct: Decimal
    approval_limit_pct: Decimal | None
    comment: str | None


class ReasonOut(Stamp):
    reason: str | None


class OutcomeOut(ReasonOut):
    event: str = Field(description="Sent, Accepted, RejectedByCustomer, Expired or Withdrawn.")


class TotalsOut(BaseModel):
    amount: Decimal
    list_amount: Decimal
    discount_amount: Decimal
    cost: Decimal
    margin: Decimal


class RevisionOut(BaseModel):
    revision: int
    written: Stamp
    reason: str | None
    title: str
    valid_until: date
    terms: str | None
    lines: list[LineOut]
    totals: TotalsOut
    deepest_discount_pct: Decimal
    lines_below_floor: list[int]
    submitted: SubmittedOut | None
    approval: AuditApprovalOut | None
    approval_rejected: ReasonOut | None
    voided: ReasonOut | None = Field(description="The approval was voided by a later revision.")
    outcome: OutcomeOut | None


class QuoteHistory(ListEnvelope[HistoryEntry]):
    """The quote's events (paged by version) and, whole, every revision as an auditor reads
    it; with `as_of`, exactly what was recorded up to that instant."""

    as_of: datetime | None
    state: QuoteState
    revision: int
    approval: ApprovalOut | None
    revisions: list[RevisionOut]


def refuse_nulls(body: QuoteRevise) -> None:
    """Lines, title and valid_until may be left out of a revision, never set to null."""
    nulls = [
        FieldError(field, "may not be null")
        for field in ("lines", "title", "valid_until")
        if field in body.model_fields_set and getattr(body, field) is None
    ]
    if nulls:
        raise ValidationFailed(nulls)


def _with_lines(page_rows: list[dict[str, Any]], lines: dict[str, list[dict[str, Any]]]) -> Any:
    return [{**row, "lines": [line_view(line) for line in lines[row["id"]]]} for row in page_rows]


@router.post("", status_code=201, response_model=QuoteOut)
def create_quote(body: QuoteCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    outcome = services.quotes.create_quote(
        ctx,
        account_id=str(body.account_id),
        opportunity_id=str(body.opportunity_id) if body.opportunity_id else None,
        title=body.title,
        currency=body.currency,
        valid_until=body.valid_until,
        terms=body.terms,
        lines=_line_requests(body.lines),
        custom_fields=body.custom_fields,
    )
    return written(services, response, outcome, quote_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[QuoteRow])
def search_quotes(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("quotes"),
    account_id: UUID | None = None,
    opportunity_id: UUID | None = None,
    owner_id: UUID | None = None,
    state: QuoteState | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    updated_since: Instant | None = None,
) -> Any:
    principal.require("quotes:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, QUOTE_SORTS + custom.sort_names, "-created_at")
    with services.read() as conn:
        page = list_quotes(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            opportunity_id=str(opportunity_id) if opportunity_id else None,
            owner_id=str(owner_id) if owner_id else None,
            state=state.value if state else None,
            q=q,
            updated_since=updated_since,
            custom=custom,
        )
        page = with_custom_fields(conn, "quotes", page)
        lines = lines_of(conn, [row["id"] for row in page.rows])
    return {
        "data": _with_lines(page.rows, lines),
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@router.get("/{quote_id}", response_model=QuoteOut)
def get_quote(
    quote_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    quote = services.quotes.point_in_time(principal, quote_id, as_of=as_of, version=version)
    return one(response, quote, quote_view)


@router.patch("/{quote_id}", response_model=QuoteOut)
def change_quote(
    quote_id: str,
    body: QuoteUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.quotes.change_custom_fields(ctx, quote_id, body.custom_fields, if_match)
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/revise", response_model=QuoteOut)
def revise_quote(
    quote_id: str,
    body: QuoteRevise,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    refuse_nulls(body)
    outcome = services.quotes.revise(
        ctx,
        quote_id,
        lines=_line_requests(body.lines) if body.lines is not None else None,
        title=body.title,
        valid_until=body.valid_until,
        terms=body.terms,
        terms_given="terms" in body.model_fields_set,
        reason=body.reason,
        expected_version=if_match,
    )
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/submit", response_model=QuoteOut)
def submit_quote(
    quote_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.quotes.submit(ctx, quote_id, if_match)
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/approve", response_model=QuoteOut, responses=IF_MATCH_REQUIRED)
def approve_quote(
    quote_id: str,
    body: Decision,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """A manager approves the named revision. If-Match is required; the manager's
    approval_limit_pct must cover the deepest discount; authors never approve."""
    outcome = services.quotes.approve(
        ctx, quote_id, revision=body.revision, comment=body.comment, expected_version=if_match
    )
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/reject", response_model=QuoteOut, responses=IF_MATCH_REQUIRED)
def reject_quote(
    quote_id: str,
    body: Rejection,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """Pending approval: a manager refuses the named revision. Sent: records that the
    customer declined it. If-Match is required."""
    outcome = services.quotes.reject(
        ctx, quote_id, revision=body.revision, reason=body.reason, expected_version=if_match
    )
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/send", response_model=QuoteOut)
def send_quote(
    quote_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.quotes.send(ctx, quote_id, if_match)
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/accept", response_model=QuoteOut)
def accept_quote(
    quote_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: Acceptance | None = None,
) -> Any:
    outcome = services.quotes.accept(ctx, quote_id, body.note if body else None, if_match)
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/expire", response_model=QuoteOut)
def expire_quote(
    quote_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.quotes.expire(ctx, quote_id, if_match)
    return written(services, response, outcome, quote_view)


@router.post("/{quote_id}/withdraw", response_model=QuoteOut)
def withdraw_quote(
    quote_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: Withdrawal | None = None,
) -> Any:
    outcome = services.quotes.withdraw(ctx, quote_id, body.reason if body else None, if_match)
    return written(services, response, outcome, quote_view)


@router.get("/{quote_id}/history", response_model=QuoteHistory)
def quote_history(
    quote_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    as_of: Annotated[
        datetime | None, Query(description="Only what was recorded up to this instant.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    after = 0
    if cursor:
        if not cursor.isdigit() or len(cursor) > 9:
            raise InvalidCursor("the cursor is malformed; use next_cursor from a previous page")
        after = int(cursor)
    audit = services.quotes.audit(principal, quote_id, as_of)
    later = [e for e in audit.events if e.originator_version > after]
    page, more = later[:limit], len(later) > limit
    view = quote_view(audit.quote)
    return {
        "data": [history_entry(e) for e in page],
        "next_cursor": str(page[-1].originator_version) if more else None,
        "has_more": more,
        "as_of": as_of,
        "state": view["state"],
        "revision": view["revision"],
        "approval": view["approval"],
        "revisions": audit.revisions,
    }
