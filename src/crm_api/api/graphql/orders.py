"""Orders over GraphQL: the REST reads and commands of /api/v1/orders through the same service.
Types and inputs derive from the REST models, so both transports check and describe an order
in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from anyio import to_thread
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
from crm_api.api.graphql.inputs import plain, validated
from crm_api.api.graphql.limits import embedded_lists
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _fingerprint, _run
from crm_api.api.graphql.pagination import Connection, page_size
from crm_api.api.graphql.queries import _listed, _read
from crm_api.api.rest import orders as rest
from crm_api.api.rest.conventions import point_in_time
from crm_api.application.orders import order_view
from crm_api.application.services import Services
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.orders import Order as OrderRecord
from crm_api.domain.people import Principal
from crm_api.errors import domain_problem_body
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.orders import ORDER_SORTS, lines_of, list_orders
from crm_api.projections.paging import Sort


@strawberry_pydantic.type(model=rest.OrderLineOut, all_fields=True)
class OrderLine:
    pass


@strawberry_pydantic.type(model=rest.OrderOut, all_fields=True, description="An order, whole.")
class Order:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(model=rest.OrderRow, all_fields=True, description="An order in lists.")
class OrderSummary:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.input(model=rest.OrderLineIn, all_fields=True)
class OrderLineInput:
    pass


@strawberry_pydantic.input(model=rest.AccountRefIn, all_fields=True)
class AccountRefInput:
    pass


@strawberry_pydantic.input(model=rest.OrderIn, all_fields=True)
class OrderInput:
    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value; only the keys sent change, null removes.",
    )


@strawberry.type(description="One order's outcome in a push, in request order.")
class OrderPushResult:
    index: int
    external_id: str | None
    status: str = strawberry.field(description="created, updated, unchanged or error")
    order_id: strawberry.ID | None
    error: JSON | None = strawberry.field(description="The RFC 9457 problem, for an error.")


@strawberry.input
class OrderFilter:
    account_id: strawberry.ID | None = None
    source: str | None = None
    status: str | None = None


embedded_lists("Order", "lines")
embedded_lists("OrderSummary", "lines")


def _order(view: dict[str, Any]) -> Order:
    return Order.from_pydantic(rest.OrderOut.model_validate(view))  # type: ignore[attr-defined]


def _summary(row: dict[str, Any]) -> OrderSummary:
    return OrderSummary.from_pydantic(rest.OrderRow.model_validate(row))  # type: ignore[attr-defined]


@strawberry.type
class OrderQuery:
    @strawberry.field(description="Null asOf/version: the current order.")
    async def order(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Order:
        def read(services: Services, principal: Principal) -> Order:
            order = services.orders.get_order(principal, id)
            past = point_in_time(services.app, order, OrderRecord, version=version, as_of=as_of)
            return _order(order_view(past))

        return await _read(info, read)

    @strawberry.field
    async def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: OrderFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(ORDER_SORTS)] = None,
    ) -> Connection[OrderSummary]:
        limit, given = page_size(first), filter or OrderFilter()

        def read(services: Services, principal: Principal) -> Connection[OrderSummary]:
            principal.require("orders:read")
            custom = custom_field_query(services, "orders", custom_fields)

            def page(conn: Any, sort: Sort) -> Any:
                found = with_custom_fields(
                    conn,
                    "orders",
                    list_orders(
                        conn,
                        visible_owners=None if principal.training else principal.visible_owners,
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        account_id=str(given.account_id) if given.account_id else None,
                        source=given.source,
                        status=given.status,
                        custom=custom,
                    ),
                )
                lines = lines_of(conn, [row["id"] for row in found.rows])
                for row in found.rows:
                    row["lines"] = lines[row["id"]]
                return found

            order = Sort.parse(sort, ORDER_SORTS + custom.sort_names, "-ordered_at")
            return _listed(services, order, _summary, page)

        return await _read(info, read)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        description="Upsert up to 1,000 orders by (source, externalId); one result per order."
    )
    async def push_orders(
        self,
        info: Info,
        orders: list[OrderInput],
        create_missing_accounts_owner_id: strawberry.ID | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> list[OrderPushResult]:
        services = info.context.services
        if not 1 <= len(orders) <= rest.MAX_BATCH:
            raise ValidationFailed(
                [FieldError("orders", f"between 1 and {rest.MAX_BATCH} orders per push")]
            )
        parsed = [rest._parse(plain(order)) for order in orders]
        owner = str(create_missing_accounts_owner_id) if create_missing_accounts_owner_id else None

        def command(ctx: Any) -> Any:
            # GraphQL lists have no min_position: the push answers once its orders are readable.
            outcome = services.orders.upsert(ctx, parsed, create_missing_accounts_owner=owner)
            services.wait_for(outcome.position, outcome.topics)
            return outcome

        ctx = await info.context.command(idempotency_key, _fingerprint(info))
        outcome = await to_thread.run_sync(command, ctx)
        return [
            OrderPushResult(
                index=r.index,
                external_id=r.external_id,
                status=r.status,
                order_id=strawberry.ID(r.order_id) if r.order_id else None,
                error=domain_problem_body(r.error)[1] if r.error else None,
            )
            for r in outcome.results
        ]

    @strawberry.mutation
    async def cancel_order(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Order:
        body = validated(rest.Cancellation, {"reason": reason})
        orders = info.context.services.orders
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: orders.cancel(ctx, id, body.reason, if_match),
            order_view,
        )
        return _order(row)
