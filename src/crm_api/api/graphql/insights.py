"""Alerts, customer value, Pareto, grades, margins and the data-entry KPIs over GraphQL: the
reads of /api/v1/alerts, /api/v1/analytics/… and /api/v1/kpis/data-entry through the same
services and read models. Types derive from the REST models (enumerated strings are plain
strings here)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.experimental import pydantic as strawberry_pydantic

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, connection, keyset_connection, page_size
from crm_api.api.graphql.queries import _read
from crm_api.api.rest import alerts as rest_alerts
from crm_api.api.rest import insights as rest
from crm_api.application.services import Services
from crm_api.domain.people import Principal
from crm_api.projections.paging import Page, Sort, encode_cursor

BY_ID = Sort.parse("id", ("id",), "id")
FromDay = Annotated[dt.date | None, strawberry.argument(name="from")]


@strawberry_pydantic.type(model=rest_alerts.AlertOut, all_fields=True, description="An alert.")
class Alert:
    kind: str = strawberry.field(description="account_dormant, sla_warning or sla_breached")
    subject_type: str = strawberry.field(description="account or service_request")
    target: str | None = strawberry.field(description="first_response or resolution (SLA)")


@strawberry_pydantic.type(model=rest.CustomerValueRow, all_fields=True)
class CustomerValue:
    auto_grade: str
    manual_grade: str | None


@strawberry_pydantic.type(model=rest.ParetoRow, all_fields=True)
class ParetoEntry:
    pass


@strawberry_pydantic.type(model=rest.MarginRow, all_fields=True)
class Margin:
    group: str


@strawberry_pydantic.type(model=rest.GradeRow, all_fields=True)
class GradeRow:
    manual_grade: str


@strawberry_pydantic.type(model=rest.GradeCounts, all_fields=True)
class GradeCounts:
    pass


@strawberry_pydantic.type(model=rest.Disagreement, all_fields=True)
class GradeDisagreement:
    manual_grade: str
    auto_grade: str


@strawberry_pydantic.type(model=rest.Lag, all_fields=True)
class EntryLag:
    pass


@strawberry_pydantic.type(model=rest.ActivityKpis, all_fields=True)
class ActivityKpis:
    pass


@strawberry_pydantic.type(model=rest.Yesterday, all_fields=True)
class YesterdayKpis:
    pass


@strawberry_pydantic.type(model=rest.AccountFields, all_fields=True)
class AccountFieldCounts:
    pass


@strawberry_pydantic.type(model=rest.ContactFields, all_fields=True)
class ContactFieldCounts:
    pass


@strawberry_pydantic.type(model=rest.Completeness, all_fields=True)
class Completeness:
    pass


@strawberry_pydantic.type(model=rest.OpportunityKpis, all_fields=True)
class OpportunityKpis:
    pass


@strawberry_pydantic.type(model=rest.DataEntryRow, all_fields=True)
class DataEntryKpis:
    pass


@strawberry.type(description="The smallest set of customers making 80 % of the revenue.")
class ParetoSet:
    total_revenue: Decimal
    entries: Connection[ParetoEntry]


@strawberry.type(description="Manual vs automatic grades (rows: manual; columns: automatic).")
class Grades:
    as_of: dt.datetime
    matrix: list[GradeRow]
    without_manual_grade: GradeCounts
    graded_accounts: int
    agreeing: int
    agreement_pct: float | None
    disagreements: Connection[GradeDisagreement]


@strawberry.input
class AlertFilter:
    kind: str | None = None
    owner_id: strawberry.ID | None = None
    subject_id: strawberry.ID | None = None
    open: bool | None = None


def _rows_connection(page: Page, node: Any, model: Any) -> Connection[Any]:
    """Rows that carry their own `cursor` (computed sums) as a connection."""
    return connection(
        [node.from_pydantic(model.model_validate(row)) for row in page.rows],
        [row["cursor"] for row in page.rows],
        page.has_more,
    )


def _alert(row: dict[str, Any]) -> Alert:
    return Alert.from_pydantic(rest_alerts.AlertOut.model_validate(row))  # type: ignore[attr-defined,no-any-return]


def alert_node(services: Services, alert_id: Any) -> Alert:
    """An alert as the read model now has it (the subscription's items)."""
    return _alert(rest_alerts.current(services, alert_id))


@strawberry.type
class InsightsQuery:
    @strawberry.field(description="Alerts the caller sees, newest first (sort: raised_at).")
    async def alerts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AlertFilter | None = None,
        sort: str | None = None,
    ) -> Connection[Alert]:
        limit, given = page_size(first), filter or AlertFilter()

        def read(services: Services, principal: Principal) -> Connection[Alert]:
            sort_order = Sort.parse(sort, rest_alerts.ALERT_SORTS, "-raised_at")
            page = rest_alerts.search(
                services,
                principal,
                sort=sort,
                cursor=after,
                limit=limit,
                kind=given.kind,
                owner_id=str(given.owner_id) if given.owner_id else None,
                subject_id=str(given.subject_id) if given.subject_id else None,
                open_=given.open,
            )
            return keyset_connection(page, sort_order, _alert)

        return await _read(info, read)

    @strawberry.field(
        description="Per account: revenue, margin, RFM, grades (sort: revenue, margin, recency)."
    )
    async def customer_value(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        sort: str | None = None,
        from_: FromDay = None,
        to: dt.date | None = None,
        as_of: dt.datetime | None = None,
        owner_id: strawberry.ID | None = None,
    ) -> Connection[CustomerValue]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[CustomerValue]:
            page = services.insights.customer_value(
                principal,
                sort=sort,
                cursor=after,
                limit=limit,
                start=from_,
                end=to,
                as_of=as_of,
                owner_id=str(owner_id) if owner_id else None,
            )
            return _rows_connection(page, CustomerValue, rest.CustomerValueRow)

        return await _read(info, read)

    @strawberry.field(description="The largest customers by revenue.")
    async def top_customers(
        self,
        info: Info,
        limit: int = 10,
        from_: FromDay = None,
        to: dt.date | None = None,
    ) -> list[CustomerValue]:
        size = page_size(limit)

        def read(services: Services, principal: Principal) -> list[CustomerValue]:
            page = services.insights.customer_value(
                principal, sort="-revenue", cursor=None, limit=size, start=from_, end=to
            )
            return [
                CustomerValue.from_pydantic(rest.CustomerValueRow.model_validate(row))  # type: ignore[attr-defined]
                for row in page.rows
            ]

        return await _read(info, read)

    @strawberry.field
    async def pareto(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        from_: FromDay = None,
        to: dt.date | None = None,
    ) -> ParetoSet:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> ParetoSet:
            page, total = services.insights.pareto(
                principal, cursor=after, limit=limit, start=from_, end=to
            )
            return ParetoSet(
                total_revenue=total, entries=_rows_connection(page, ParetoEntry, rest.ParetoRow)
            )

        return await _read(info, read)

    @strawberry.field
    async def grades(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        as_of: dt.datetime | None = None,
    ) -> Grades:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Grades:
            found = services.insights.grades(principal, cursor=after, limit=limit, as_of=as_of)
            body = rest.GradesOut.model_validate(
                {
                    **found,
                    "disagreements": {
                        "data": found["disagreements"].rows,
                        "next_cursor": None,
                        "has_more": False,
                    },
                }
            )
            return Grades(
                as_of=body.as_of,
                matrix=[GradeRow.from_pydantic(r) for r in body.matrix],  # type: ignore[attr-defined]
                without_manual_grade=GradeCounts.from_pydantic(body.without_manual_grade),  # type: ignore[attr-defined]
                graded_accounts=body.graded_accounts,
                agreeing=body.agreeing,
                agreement_pct=body.agreement_pct,
                disagreements=keyset_connection(
                    found["disagreements"],
                    BY_ID,
                    lambda row: GradeDisagreement.from_pydantic(  # type: ignore[attr-defined]
                        rest.Disagreement.model_validate(row)
                    ),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="Most profitable first (sort: margin, revenue, key).")
    async def margins(
        self,
        info: Info,
        group_by: str = "product",
        first: int | None = None,
        after: str | None = None,
        sort: str | None = None,
        from_: FromDay = None,
        to: dt.date | None = None,
    ) -> Connection[Margin]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[Margin]:
            page = services.insights.margins(
                principal,
                group_by=group_by,
                sort=sort,
                cursor=after,
                limit=limit,
                start=from_,
                end=to,
            )
            return _rows_connection(page, Margin, rest.MarginRow)

        return await _read(info, read)

    @strawberry.field(description="Data-entry KPIs per user or team (groupBy: user, team).")
    async def data_entry_kpis(
        self,
        info: Info,
        group_by: str = "user",
        first: int | None = None,
        after: str | None = None,
        from_: FromDay = None,
        to: dt.date | None = None,
    ) -> Connection[DataEntryKpis]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[DataEntryKpis]:
            rows, page, _, _ = services.insights.data_entry(
                principal, group_by=group_by, cursor=after, limit=limit, start=from_, end=to
            )
            return connection(
                [DataEntryKpis.from_pydantic(rest.DataEntryRow.model_validate(r)) for r in rows],  # type: ignore[attr-defined]
                [encode_cursor(BY_ID, [r["id"]]) for r in rows],
                page.has_more,
            )

        return await _read(info, read)


@strawberry.type
class InsightsMutation:
    @strawberry.mutation(description="Say you have seen an alert (once).")
    async def acknowledge_alert(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Alert:
        services = info.context.services
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: services.alerts.acknowledge(ctx, id, if_match),
            lambda alert: rest_alerts.current(services, alert.id),
        )
        return _alert(row)
