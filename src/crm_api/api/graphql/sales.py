"""Opportunities, forecasts and the sales analytics over GraphQL: the REST reads and commands
of /api/v1/opportunities, /api/v1/forecasts and /api/v1/analytics, through the same services
and read models, checked by the same request models. Money is a Decimal scalar (a string)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
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
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, connection, page_size
from crm_api.api.graphql.queries import _listed, _read, _visible_owners
from crm_api.api.rest.conventions import point_in_time
from crm_api.api.rest.forecasts import ForecastPut
from crm_api.api.rest.forecasts import forecast_lines as put_lines
from crm_api.api.rest.opportunities import (
    Lose,
    OpportunityCreate,
    OpportunityUpdate,
    Reopen,
    StageMove,
    Win,
    opportunity_changes,
    opportunity_details,
)
from crm_api.application.forecasts import forecast_view
from crm_api.application.opportunities import opportunity_view
from crm_api.application.services import Services
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.forecasts import Forecast as ForecastRecord
from crm_api.domain.forecasts import Period
from crm_api.domain.opportunities import STAGES
from crm_api.domain.opportunities import Opportunity as OpportunityRecord
from crm_api.domain.people import Principal
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.forecasts import FORECAST_SORTS, forecast_vs_actual_page, list_forecasts
from crm_api.projections.opportunities import OPPORTUNITY_SORTS, funnel, list_opportunities
from crm_api.projections.paging import Page, Sort

# types


@strawberry.type(description="A possible sale on an account, moved through the sales stages.")
class Opportunity:
    id: strawberry.ID
    account_id: strawberry.ID
    name: str
    amount: Decimal
    currency: str
    expected_close_date: dt.date
    product_id: strawberry.ID | None
    owner_id: strawberry.ID
    stage: str = strawberry.field(
        description="prospecting, qualification, proposal, negotiation, won or lost"
    )
    lost_reason: str | None
    opened_at: dt.datetime = strawberry.field(description="Business time of creation.")
    won_at: dt.datetime | None
    lost_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Opportunity:
        close = row["expected_close_date"]
        return cls(
            id=strawberry.ID(str(row["id"])),
            account_id=strawberry.ID(str(row["account_id"])),
            name=row["name"],
            amount=row["amount"],
            currency=row["currency"],
            expected_close_date=close
            if isinstance(close, dt.date)
            else dt.date.fromisoformat(close),
            product_id=strawberry.ID(row["product_id"]) if row["product_id"] else None,
            owner_id=strawberry.ID(str(row["owner_id"])),
            stage=row["stage"],
            lost_reason=row["lost_reason"],
            opened_at=row["opened_at"],
            won_at=row["won_at"],
            lost_at=row["lost_at"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            custom_fields=row.get("custom_fields") or {},
        )


@strawberry.type
class ForecastLine:
    product_id: strawberry.ID | None
    amount: Decimal


@strawberry.type(description="A rep's forecast for a month or a quarter.")
class Forecast:
    id: strawberry.ID
    owner_id: strawberry.ID
    period: str
    currency: str
    lines: list[ForecastLine]
    total: Decimal
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Forecast:
        return cls(
            id=strawberry.ID(str(row["id"])),
            owner_id=strawberry.ID(str(row["owner_id"])),
            period=row["period"],
            currency=row["currency"],
            lines=[
                ForecastLine(
                    product_id=strawberry.ID(line["product_id"]) if line["product_id"] else None,
                    amount=Decimal(str(line["amount"])),
                )
                for line in row["lines"]
            ],
            total=Decimal(str(row["total"])),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@strawberry.type
class StageCounts:
    prospecting: int
    qualification: int
    proposal: int
    negotiation: int
    won: int
    lost: int


@strawberry.type
class StageAmounts:
    prospecting: Decimal
    qualification: Decimal
    proposal: Decimal
    negotiation: Decimal
    won: Decimal
    lost: Decimal


@strawberry.type
class Conversion:
    prospecting_to_qualification: float | None
    qualification_to_proposal: float | None
    proposal_to_negotiation: float | None
    negotiation_to_won: float | None


@strawberry.type(description="The funnel of one group and currency (see docs/sales.md).")
class FunnelRow:
    group: str
    owner_id: strawberry.ID | None
    month: str | None
    currency: str
    counts: StageCounts
    amounts: StageAmounts
    conversion: Conversion
    win_rate: float | None
    avg_cycle_days: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FunnelRow:
        return cls(
            group=row["group"],
            owner_id=strawberry.ID(row["owner_id"]) if row["owner_id"] else None,
            month=row["month"],
            currency=row["currency"],
            counts=StageCounts(**row["counts"]),
            amounts=StageAmounts(**row["amounts"]),
            conversion=Conversion(**row["conversion"]),
            win_rate=row["win_rate"],
            avg_cycle_days=row["avg_cycle_days"],
        )


@strawberry.type
class ForecastVsActualRow:
    owner_id: strawberry.ID
    period: str
    product_id: strawberry.ID | None
    currency: str
    forecast_amount: Decimal
    won_amount: Decimal
    won_count: int
    attainment_pct: float | None
    ordered_amount: Decimal
    order_count: int
    order_attainment_pct: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ForecastVsActualRow:
        return cls(
            owner_id=strawberry.ID(row["owner_id"]),
            period=row["period"],
            product_id=strawberry.ID(row["product_id"]) if row["product_id"] else None,
            currency=row["currency"],
            forecast_amount=row["forecast_amount"],
            won_amount=row["won_amount"],
            won_count=row["won_count"],
            attainment_pct=row["attainment_pct"],
            ordered_amount=row["ordered_amount"],
            order_count=row["order_count"],
            order_attainment_pct=row["order_attainment_pct"],
        )


# inputs


@strawberry.input
class OpportunityFilter:
    owner_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = None
    stage: str | None = None
    q: str | None = None
    updated_since: dt.datetime | None = None


@strawberry.input
class ForecastFilter:
    owner_id: strawberry.ID | None = None
    period: str | None = None


@strawberry.input
class CreateOpportunityInput:
    account_id: strawberry.ID
    name: str
    amount: Decimal
    currency: str
    expected_close_date: dt.date
    product_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the account's owner."
    )
    stage: str = "prospecting"
    occurred_at: dt.datetime | None = None

    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields sent change; productId null clears the product.")
class UpdateOpportunityInput:
    name: str | None = strawberry.UNSET
    amount: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    expected_close_date: dt.date | None = strawberry.UNSET
    product_id: strawberry.ID | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET

    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes a value."
    )


@strawberry.input
class ForecastLineInput:
    amount: Decimal
    product_id: strawberry.ID | None = None


@strawberry.input
class PutForecastInput:
    currency: str
    lines: list[ForecastLineInput]


def _stage(stage: str | None) -> str | None:
    if stage is not None and stage not in STAGES:
        raise ValidationFailed([FieldError("filter.stage", f"no stage '{stage}'")])
    return stage


def _period(period: str | None) -> str | None:
    if period is not None:
        Period.parse(period)
    return period


def _analytics(page: Page, node: Any) -> Connection[Any]:
    return connection(
        [node(row) for row in page.rows], [r["cursor"] for r in page.rows], page.has_more
    )


@strawberry.type
class SalesQuery:
    @strawberry.field(description="Null `asOf`/`version`: the current record.")
    async def opportunity(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: dt.datetime | None = None,
        version: int | None = None,
    ) -> Opportunity:
        def read(services: Services, principal: Principal) -> Opportunity:
            record = services.opportunities.get_opportunity(principal, id)
            past = point_in_time(
                services.app, record, OpportunityRecord, version=version, as_of=as_of
            )
            return Opportunity.from_row(opportunity_view(past))

        return await _read(info, read)

    @strawberry.field
    async def opportunities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: OpportunityFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(OPPORTUNITY_SORTS)] = None,
    ) -> Connection[Opportunity]:
        limit, given = page_size(first), filter or OpportunityFilter()

        def read(services: Services, principal: Principal) -> Connection[Opportunity]:
            principal.require("opportunities:read")
            custom = custom_field_query(services, "opportunities", custom_fields)
            return _listed(
                services,
                Sort.parse(sort, OPPORTUNITY_SORTS + custom.sort_names, "name"),
                Opportunity.from_row,
                lambda conn, sort: with_custom_fields(
                    conn,
                    "opportunities",
                    list_opportunities(
                        conn,
                        visible_owners=_visible_owners(principal),
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        owner_id=given.owner_id,
                        account_id=given.account_id,
                        stage=_stage(given.stage),
                        q=search_text(given.q),
                        updated_since=given.updated_since,
                        custom=custom,
                    ),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="Null `asOf`/`version`: the current record.")
    async def forecast(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: dt.datetime | None = None,
        version: int | None = None,
    ) -> Forecast:
        def read(services: Services, principal: Principal) -> Forecast:
            record = services.forecasts.get_forecast(principal, id)
            past = point_in_time(services.app, record, ForecastRecord, version=version, as_of=as_of)
            return Forecast.from_row(forecast_view(past))

        return await _read(info, read)

    @strawberry.field
    async def forecasts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ForecastFilter | None = None,
        sort: str | None = None,
    ) -> Connection[Forecast]:
        limit, given = page_size(first), filter or ForecastFilter()

        def read(services: Services, principal: Principal) -> Connection[Forecast]:
            principal.require("forecasts:read")
            return _listed(
                services,
                Sort.parse(sort, FORECAST_SORTS, "period"),
                Forecast.from_row,
                lambda conn, sort: list_forecasts(
                    conn,
                    visible_owners=_visible_owners(principal),
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    owner_id=given.owner_id,
                    period=_period(given.period),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="The funnel of the cohort created in [from, to).")
    async def funnel(
        self,
        info: Info,
        from_: Annotated[dt.date | None, strawberry.argument(name="from")] = None,
        to: dt.date | None = None,
        owner_id: strawberry.ID | None = None,
        group_by: str = "total",
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FunnelRow]:
        limit = page_size(first)
        if group_by not in ("total", "rep", "month"):
            raise ValidationFailed([FieldError("groupBy", "one of total, rep, month")])
        if from_ is not None and to is not None and to <= from_:
            raise ValidationFailed([FieldError("to", "must be after from")])

        def read(services: Services, principal: Principal) -> Connection[FunnelRow]:
            principal.require("analytics:read")
            with services.read() as conn:
                page = funnel(
                    conn,
                    visible_owners=_visible_owners(principal),
                    group_by=group_by,
                    cursor=after,
                    limit=limit,
                    start=from_,
                    end=to,
                    owner_id=owner_id,
                )
            return _analytics(page, FunnelRow.from_row)

        return await _read(info, read)

    @strawberry.field(description="Forecast against won opportunities, per owner and period.")
    async def forecast_vs_actual(
        self,
        info: Info,
        period: str | None = None,
        owner_id: strawberry.ID | None = None,
        group_by: str = "total",
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ForecastVsActualRow]:
        limit = page_size(first)
        if group_by not in ("total", "product"):
            raise ValidationFailed([FieldError("groupBy", "one of total, product")])

        def read(services: Services, principal: Principal) -> Connection[ForecastVsActualRow]:
            principal.require("analytics:read")
            with services.read() as conn:
                page = forecast_vs_actual_page(
                    conn,
                    visible_owners=_visible_owners(principal),
                    group_by=group_by,
                    cursor=after,
                    limit=limit,
                    period=_period(period),
                    owner_id=owner_id,
                )
            return _analytics(page, ForecastVsActualRow.from_row)

        return await _read(info, read)


@strawberry.type
class SalesMutation:
    @strawberry.mutation
    async def create_opportunity(
        self, info: Info, input: CreateOpportunityInput, idempotency_key: IdempotencyKey = None
    ) -> Opportunity:
        details = opportunity_details(validated(OpportunityCreate, input))
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.open_opportunity(ctx, **details),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation
    async def update_opportunity(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateOpportunityInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Opportunity:
        changes = opportunity_changes(validated(OpportunityUpdate, input))
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.change_opportunity(ctx, id, changes, if_match),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation
    async def move_opportunity_stage(
        self,
        info: Info,
        id: strawberry.ID,
        stage: str,
        occurred_at: dt.datetime | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Opportunity:
        body = validated(StageMove, {"stage": stage, "occurred_at": occurred_at})
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.move_stage(ctx, id, body.stage, body.occurred_at, if_match),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation
    async def win_opportunity(
        self,
        info: Info,
        id: strawberry.ID,
        occurred_at: dt.datetime | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Opportunity:
        body = validated(Win, {"occurred_at": occurred_at})
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.win(ctx, id, body.occurred_at, if_match),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation
    async def lose_opportunity(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        occurred_at: dt.datetime | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Opportunity:
        body = validated(Lose, {"reason": reason, "occurred_at": occurred_at})
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.lose(ctx, id, body.reason, body.occurred_at, if_match),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation
    async def reopen_opportunity(
        self,
        info: Info,
        id: strawberry.ID,
        stage: str,
        occurred_at: dt.datetime | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Opportunity:
        body = validated(Reopen, {"stage": stage, "occurred_at": occurred_at})
        opportunities = info.context.services.opportunities
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: opportunities.reopen(ctx, id, body.stage, body.occurred_at, if_match),
            opportunity_view,
        )
        return Opportunity.from_row(row)

    @strawberry.mutation(description="Creates or revises the owner's forecast for the period.")
    async def put_forecast(
        self,
        info: Info,
        owner_id: strawberry.ID,
        period: str,
        input: PutForecastInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Forecast:
        body = validated(ForecastPut, input)
        lines = put_lines(body)
        forecasts = info.context.services.forecasts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: forecasts.put_forecast(
                ctx,
                str(owner_id),
                period,
                currency=body.currency,
                lines=lines,
                expected_version=if_match,
            ),
            forecast_view,
        )
        return Forecast.from_row(row)
