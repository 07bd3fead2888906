"""Quotes over GraphQL: the REST reads and commands of /api/v1/quotes through the same service.
The types are derived from the REST response models, so both transports describe a quote,
a line, an approval and an auditor's revision in one place."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.experimental import pydantic as strawberry_pydantic
from strawberry.scalars import JSON

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.custom_fields import (
    CustomFieldConditions,
    custom_field_field,
    custom_field_query,
    custom_fields_field,
    sort_argument,
)
from crm_api.api.graphql.inputs import search_text, validated
from crm_api.api.graphql.limits import embedded_lists
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, page_size
from crm_api.api.graphql.queries import _listed, _read
from crm_api.api.graphql.types import HistoryEntry
from crm_api.api.rest import quotes as rest
from crm_api.api.rest.conventions import history_entry
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.quotes import quote_view
from crm_api.application.services import Services
from crm_api.domain.people import Principal
from crm_api.domain.quotes import Quote as QuoteRecord
from crm_api.domain.quotes import QuoteState, line_view
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort
from crm_api.projections.quotes import QUOTE_SORTS, lines_of, list_quotes


@strawberry_pydantic.type(model=rest.LineOut, all_fields=True)
class QuoteLine:
    pass


@strawberry_pydantic.type(model=rest.ApprovalOut, all_fields=True)
class QuoteApproval:
    pass


@strawberry_pydantic.type(model=rest.QuoteOut, all_fields=True, description="A quote, whole.")
class Quote:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


def _quote(view: dict[str, Any]) -> Quote:
    return Quote.from_pydantic(rest.QuoteOut.model_validate(view))  # type: ignore[attr-defined]


@strawberry_pydantic.type(
    model=rest.QuoteRow, all_fields=True, description="A quote as lists show it."
)
class QuoteSummary:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(model=rest.Stamp, all_fields=True)
class AuditStamp:
    pass


@strawberry_pydantic.type(model=rest.SubmittedOut, all_fields=True)
class AuditSubmission:
    pass


@strawberry_pydantic.type(model=rest.AuditApprovalOut, all_fields=True)
class AuditApproval:
    pass


@strawberry_pydantic.type(model=rest.ReasonOut, all_fields=True)
class AuditReason:
    pass


@strawberry_pydantic.type(model=rest.OutcomeOut, all_fields=True)
class AuditOutcome:
    pass


@strawberry_pydantic.type(model=rest.TotalsOut, all_fields=True)
class QuoteTotals:
    pass


@strawberry_pydantic.type(
    model=rest.RevisionOut, all_fields=True, description="One revision as an auditor reads it."
)
class QuoteRevision:
    pass


@strawberry.type(description="Every revision and decision of a quote, as recorded up to asOf.")
class QuoteAudit:
    as_of: datetime | None
    state: QuoteState
    revision: int
    approval: QuoteApproval | None
    revisions: list[QuoteRevision]
    events: list[HistoryEntry]


# A quote's lines and its audit trail are read with the quote, in one load: not a fan-out.
embedded_lists("Quote", "lines", "authors")
embedded_lists("QuoteSummary", "lines")
embedded_lists("QuoteRevision", "lines", "linesBelowFloor")
embedded_lists("QuoteAudit", "revisions", "events")


@strawberry.input
class QuoteLineInput:
    product_id: strawberry.ID
    quantity: Decimal
    unit_price: Decimal


@strawberry.input
class CreateQuoteInput:
    account_id: strawberry.ID
    currency: str
    lines: list[QuoteLineInput] = strawberry.field(default_factory=list)
    opportunity_id: strawberry.ID | None = None
    title: str | None = None
    valid_until: date | None = None
    terms: str | None = None

    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields given change; terms: null clears them.")
class ReviseQuoteInput:
    lines: list[QuoteLineInput] | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    valid_until: date | None = strawberry.UNSET
    terms: str | None = strawberry.UNSET
    reason: str | None = strawberry.UNSET


@strawberry.input
class QuoteFilter:
    account_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    state: QuoteState | None = None
    q: str | None = None


Revision = Annotated[int, strawberry.argument(description="The revision decided on.")]
RequiredIfMatch = Annotated[
    int, strawberry.argument(description="The version reviewed: decisions name it.")
]


def _summary(row: dict[str, Any]) -> QuoteSummary:
    return QuoteSummary.from_pydantic(rest.QuoteRow.model_validate(row))


@strawberry.type
class QuoteQuery:
    @strawberry.field(description="Null asOf/version: the current quote.")
    async def quote(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Quote:
        def read(services: Services, principal: Principal) -> Quote:
            quote = services.quotes.point_in_time(principal, id, as_of=as_of, version=version)
            return _quote(quote_view(quote))

        return await _read(info, read)

    @strawberry.field
    async def quotes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: QuoteFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(QUOTE_SORTS)] = None,
    ) -> Connection[QuoteSummary]:
        limit, given = page_size(first), filter or QuoteFilter()

        def read(services: Services, principal: Principal) -> Connection[QuoteSummary]:
            principal.require("quotes:read")
            custom = custom_field_query(services, "quotes", custom_fields)

            def page(conn: Any, sort: Sort) -> Any:
                found = with_custom_fields(
                    conn,
                    "quotes",
                    list_quotes(
                        conn,
                        visible_owners=None if principal.training else principal.visible_owners,
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        account_id=_id(given.account_id),
                        opportunity_id=_id(given.opportunity_id),
                        owner_id=_id(given.owner_id),
                        state=given.state.value if given.state else None,
                        q=search_text(given.q),
                        custom=custom,
                    ),
                )
                lines = lines_of(conn, [row["id"] for row in found.rows])
                for row in found.rows:
                    row["lines"] = [line_view(line) for line in lines[row["id"]]]
                return found

            order = Sort.parse(sort, QUOTE_SORTS + custom.sort_names, "-created_at")
            return _listed(services, order, _summary, page)

        return await _read(info, read)

    @strawberry.field(
        description="The auditor's view: every revision, its pricing against the "
        "policy, who submitted and who approved it, and voided approvals."
    )
    async def quote_history(
        self, info: Info, id: strawberry.ID, as_of: datetime | None = None
    ) -> QuoteAudit:
        def read(services: Services, principal: Principal) -> QuoteAudit:
            audit = services.quotes.audit(principal, id, as_of)
            view = quote_view(audit.quote)
            return QuoteAudit(
                as_of=as_of,
                state=audit.quote.state,
                revision=audit.quote.revision,
                approval=(
                    QuoteApproval.from_pydantic(rest.ApprovalOut.model_validate(view["approval"]))
                    if view["approval"]
                    else None
                ),
                revisions=[
                    QuoteRevision.from_pydantic(rest.RevisionOut.model_validate(revision))
                    for revision in audit.revisions
                ],
                events=[HistoryEntry.from_entry(history_entry(e)) for e in audit.events],
            )

        return await _read(info, read)


def _id(value: Any) -> str | None:
    return str(value) if value else None


async def _command(info: Info, idempotency_key: str | None, command: Any) -> Quote:
    row = await _run(info, idempotency_key, command, quote_view)
    return _quote(row)


def _lines(lines: list[rest.LineIn]) -> Any:
    return rest._line_requests(lines)


@strawberry.type
class QuoteMutation:
    @strawberry.mutation
    async def create_quote(
        self, info: Info, input: CreateQuoteInput, idempotency_key: IdempotencyKey = None
    ) -> Quote:
        body = validated(rest.QuoteCreate, input)
        quotes = info.context.services.quotes

        def command(ctx: CommandContext) -> Outcome[QuoteRecord]:
            return quotes.create_quote(
                ctx,
                account_id=str(body.account_id),
                opportunity_id=_id(body.opportunity_id),
                title=body.title,
                currency=body.currency,
                valid_until=body.valid_until,
                terms=body.terms,
                lines=_lines(body.lines),
            )

        return await _command(info, idempotency_key, command)

    @strawberry.mutation(description="A change records the next revision and voids an approval.")
    async def revise_quote(
        self,
        info: Info,
        id: strawberry.ID,
        input: ReviseQuoteInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        body = validated(rest.QuoteRevise, input)
        rest.refuse_nulls(body)
        quotes = info.context.services.quotes

        def command(ctx: CommandContext) -> Outcome[QuoteRecord]:
            return quotes.revise(
                ctx,
                id,
                lines=_lines(body.lines) if body.lines is not None else None,
                title=body.title,
                valid_until=body.valid_until,
                terms=body.terms,
                terms_given="terms" in body.model_fields_set,
                reason=body.reason,
                expected_version=if_match,
            )

        return await _command(info, idempotency_key, command)

    @strawberry.mutation
    async def submit_quote(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        quotes = info.context.services.quotes
        return await _command(info, idempotency_key, lambda ctx: quotes.submit(ctx, id, if_match))

    @strawberry.mutation(description="A manager approves the named revision, within its limit.")
    async def approve_quote(
        self,
        info: Info,
        id: strawberry.ID,
        revision: Revision,
        if_match: RequiredIfMatch,
        comment: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        body = validated(rest.Decision, {"revision": revision, "comment": comment})
        quotes = info.context.services.quotes
        return await _command(
            info,
            idempotency_key,
            lambda ctx: quotes.approve(
                ctx, id, revision=body.revision, comment=body.comment, expected_version=if_match
            ),
        )

    @strawberry.mutation(
        description="Pending approval: a manager refuses the named revision. "
        "Sent: the customer declined it."
    )
    async def reject_quote(
        self,
        info: Info,
        id: strawberry.ID,
        revision: Revision,
        reason: str,
        if_match: RequiredIfMatch,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        body = validated(rest.Rejection, {"revision": revision, "reason": reason})
        quotes = info.context.services.quotes
        return await _command(
            info,
            idempotency_key,
            lambda ctx: quotes.reject(
                ctx, id, revision=body.revision, reason=body.reason, expected_version=if_match
            ),
        )

    @strawberry.mutation
    async def send_quote(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        quotes = info.context.services.quotes
        return await _command(info, idempotency_key, lambda ctx: quotes.send(ctx, id, if_match))

    @strawberry.mutation
    async def accept_quote(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        body = validated(rest.Acceptance, {"note": note})
        quotes = info.context.services.quotes
        return await _command(
            info, idempotency_key, lambda ctx: quotes.accept(ctx, id, body.note, if_match)
        )

    @strawberry.mutation
    async def expire_quote(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        quotes = info.context.services.quotes
        return await _command(info, idempotency_key, lambda ctx: quotes.expire(ctx, id, if_match))

    @strawberry.mutation
    async def withdraw_quote(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Quote:
        body = validated(rest.Withdrawal, {"reason": reason})
        quotes = info.context.services.quotes
        return await _command(
            info, idempotency_key, lambda ctx: quotes.withdraw(ctx, id, body.reason, if_match)
        )
