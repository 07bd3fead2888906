"""/api/v1/orders: orders pushed by integrators (one or a batch of up to 1,000, upserted by
source and external id), made from accepted quotes, changed and cancelled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, ValidationError

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    Instant,
    ListEnvelope,
    Problem,
    Strict,
    history,
    one,
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.custom_fields import CustomFieldsIn, CustomFieldsOut, CustomFilter
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.orders import (
    CREATED,
    AccountRef,
    LineInput,
    OrderInput,
    order_view,
)
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.orders import Order, OrderStatus
from crm_api.errors import domain_problem_body, validation_errors
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.orders import ORDER_SORTS, lines_of, list_orders
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/orders", tags=["orders"], responses=PROBLEMS)

MAX_BATCH = 1000
MAX_LINES = 500
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "19.90"'),
]
Quantity = Annotated[Decimal, Field(gt=0, le=1_000_000_000, decimal_places=3)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Source = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$",
        description="The system the order comes from, e.g. sap or shopify.",
    ),
]
ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")]


class OrderLineIn(Strict):
    product_id: UUID | None = None
    sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    quantity: Quantity
    unit_price: Money
    unit_cost: Money | None = Field(None, description="Cost at the time, for margins.")

    def line(self, index: int) -> LineInput:
        if (self.product_id is None) == (self.sku is None):
            raise ValidationFailed(
                [FieldError(f"lines[{index}].product_id", "give exactly one of product_id and sku")]
            )
        return LineInput(
            product_id=str(self.product_id) if self.product_id else None,
            sku=self.sku,
            quantity=self.quantity,
            unit_price=self.unit_price,
            unit_cost=self.unit_cost,
        )


class AccountRefIn(Strict):
    source: Source
    id: ExternalId
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OrderIn(Strict):
    """An order as a source system knows it. Pushing it again updates it (only what differs
    is recorded) or leaves it unchanged."""

    source: Source
    external_id: ExternalId
    account_id: UUID | None = None
    account_ref: AccountRefIn | None = Field(
        None, description="The account as the source system knows it (instead of account_id)."
    )
    ordered_at: datetime = Field(description="When it was ordered; past dates are welcome.")
    currency: Currency
    reference: Annotated[str, Field(max_length=200)] | None = None
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)
    custom_fields: CustomFieldsIn | None = Field(
        None,
        description=(
            "Custom field values of orders: key → value. Only the keys sent change (null "
            "removes one); leaving it out keeps the order's values. A new order also gets the "
            "defaults, and must end up with every required field."
        ),
    )

    def order(self) -> OrderInput:
        """The order for the service; refuses what one field alone cannot say."""
        errors = []
        if (self.account_id is None) == (self.account_ref is None):
            errors.append(
                FieldError("account_id", "give exactly one of account_id and account_ref")
            )
        lines = []
        for index, line in enumerate(self.lines):
            try:
                lines.append(line.line(index))
            except ValidationFailed as error:
                errors.extend(error.errors)
        if errors:
            raise ValidationFailed(errors)
        ordered_at = self.ordered_at
        ordered_at = (
            ordered_at.replace(tzinfo=UTC) if ordered_at.tzinfo is None else ordered_at
        ).astimezone(UTC)
        ref = self.account_ref
        return OrderInput(
            source=self.source,
            external_id=self.external_id,
            ordered_at=ordered_at,
            currency=self.currency,
            lines=lines,
            account_id=str(self.account_id) if self.account_id else None,
            account_ref=AccountRef(ref.source, ref.id, ref.name) if ref else None,
            reference=self.reference,
            custom_fields=self.custom_fields,
        )


class NewAccounts(Strict):
    owner_id: UUID = Field(description="Owner of the accounts the batch creates.")


class OrderBatch(Strict):
    orders: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Up to 1,000 orders, each an OrderIn; each is checked on its own.",
        json_schema_extra={"items": {"$ref": "#/components/schemas/OrderIn"}},
    )
    create_missing_accounts: NewAccounts | None = Field(
        None, description="Create accounts for unknown account_ref values, owned by owner_id."
    )


class OrderResultOut(BaseModel):
    index: int
    external_id: str | None
    status: Literal["created", "updated", "unchanged", "error"]
    order_id: UUID | None = None
    error: Problem | None = Field(
        None, description="For an error: the problem, fields named relative to the order."
    )


class BatchOut(BaseModel):
    results: list[OrderResultOut]


class OrderLineOut(BaseModel):
    line: int
    product_id: UUID
    sku: str
    quantity: Decimal
    unit_price: Decimal
    unit_cost: Decimal | None
    amount: Decimal | None = None


class OrderOut(BaseModel):
    id: UUID
    source: str
    external_id: str
    account_id: UUID
    quote_id: UUID | None
    ordered_at: datetime
    currency: str
    reference: str | None
    status: OrderStatus
    lines: list[OrderLineOut]
    amount: Decimal
    cost: Decimal | None = Field(description="Null unless every line carries its cost.")
    margin: Decimal | None
    custom_fields: CustomFieldsOut
    version: int
    created_at: datetime
    updated_at: datetime


class OrderRow(BaseModel):
    id: UUID
    source: str
    external_id: str
    account_id: UUID
    quote_id: UUID | None
    ordered_at: datetime
    currency: str
    reference: str | None
    status: OrderStatus
    amount: Decimal
    cost: Decimal | None
    margin: Decimal | None
    line_count: int
    lines: list[OrderLineOut]
    custom_fields: CustomFieldsOut
    version: int
    created_at: datetime
    updated_at: datetime


class OrderUpdate(Strict):
    account_id: UUID | None = None
    ordered_at: datetime | None = None
    currency: Currency | None = None
    reference: Annotated[str, Field(max_length=200)] | None = None
    lines: list[OrderLineIn] | None = Field(None, min_length=1, max_length=MAX_LINES)
    custom_fields: CustomFieldsIn | None = None


class Cancellation(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


def _parse(raw: Any) -> OrderInput | ValidationFailed:
    try:
        return OrderIn.model_validate(raw).order()
    except ValidationFailed as error:
        return error
    except ValidationError as error:
        return ValidationFailed(
            [FieldError(e["field"], e["message"]) for e in validation_errors(error)]  # type: ignore[arg-type]
        )


def _result(result: Any) -> dict[str, Any]:
    out = {
        "index": result.index,
        "external_id": result.external_id,
        "status": result.status,
        "order_id": result.order_id,
    }
    if result.error is not None:
        out["error"] = domain_problem_body(result.error)[1]
    return out


@router.post(":batch", response_model=BatchOut)
def push_orders(body: OrderBatch, ctx: Command, services: ServicesDep, response: Response) -> Any:
    """Upsert up to 1,000 orders by (source, external_id). Each gets its own result, in
    request order; an invalid order never blocks the others. The answer does not wait for the
    lists: pass `min_position=<X-Log-Position>` to a list to read after this batch."""
    owner = body.create_missing_accounts
    outcome = services.orders.upsert(
        ctx,
        [_parse(raw) for raw in body.orders],
        create_missing_accounts_owner=str(owner.owner_id) if owner else None,
    )
    response.headers["X-Log-Position"] = str(outcome.position)
    return {"results": [_result(r) for r in outcome.results]}


@router.post(
    "",
    response_model=OrderOut,
    status_code=200,
    responses={201: {"model": OrderOut, "description": "Created: the order was new"}},
)
def push_order(body: OrderIn, ctx: Command, services: ServicesDep, response: Response) -> Any:
    """One order, upserted by (source, external_id): 201 when created, 200 when updated or
    unchanged."""
    outcome = services.orders.upsert(ctx, [body.order()])
    result = outcome.results[0]
    if result.error is not None:
        raise result.error
    order = outcome.orders.get(0) or services.orders.get_order(ctx.principal, result.order_id)
    services.wait_for(outcome.position, outcome.topics)
    response.headers["ETag"] = f'"{order.version}"'
    response.headers["X-Log-Position"] = str(outcome.position)
    if result.status == CREATED:
        response.status_code = 201
        response.headers["Location"] = f"{router.prefix}/{order.id}"
    return order_view(order)


@router.get("", response_model=ListEnvelope[OrderRow])
def search_orders(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("orders"),
    account_id: UUID | None = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    status: OrderStatus | None = None,
    ordered_from: Annotated[Instant | None, Query(alias="from")] = None,
    ordered_to: Annotated[Instant | None, Query(alias="to")] = None,
    updated_since: Instant | None = None,
) -> Any:
    principal.require("orders:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ORDER_SORTS + custom.sort_names, "-ordered_at")
    with services.read() as conn:
        page = list_orders(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            source=source,
            status=status.value if status else None,
            ordered_from=ordered_from,
            ordered_to=ordered_to,
            updated_since=updated_since,
            custom=custom,
        )
        page = with_custom_fields(conn, "orders", page)
        lines = lines_of(conn, [row["id"] for row in page.rows])
    return {
        "data": [{**row, "lines": lines[row["id"]]} for row in page.rows],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@router.get("/{order_id}", response_model=OrderOut)
def get_order(
    order_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    order = services.orders.get_order(principal, order_id)
    past = point_in_time(services.app, order, Order, version=version, as_of=as_of)
    return one(response, past, order_view)


@router.patch("/{order_id}", response_model=OrderOut)
def change_order(
    order_id: str,
    body: OrderUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    given = body.model_fields_set
    nulls = [
        FieldError(name, "may not be null")
        for name in ("account_id", "ordered_at", "currency", "lines")
        if name in given and getattr(body, name) is None
    ]
    if nulls:
        raise ValidationFailed(nulls)

    def update(current: dict[str, Any]) -> OrderInput:
        lines = (
            [line.line(i) for i, line in enumerate(body.lines)]
            if body.lines is not None
            else [
                LineInput(
                    product_id=x["product_id"],
                    quantity=x["quantity"],
                    unit_price=x["unit_price"],
                    unit_cost=x["unit_cost"],
                )
                for x in current["lines"]
            ]
        )
        ordered_at = body.ordered_at or current["ordered_at"]
        if ordered_at.tzinfo is None:
            ordered_at = ordered_at.replace(tzinfo=UTC)
        return OrderInput(
            source=current["source"],
            external_id=current["external_id"],
            ordered_at=ordered_at.astimezone(UTC),
            currency=body.currency or current["currency"],
            lines=lines,
            account_id=str(body.account_id) if body.account_id else current["account_id"],
            reference=body.reference if "reference" in given else current["reference"],
        )

    outcome = services.orders.change(ctx, order_id, update, if_match, body.custom_fields)
    return written(services, response, outcome, order_view)


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(
    order_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: Cancellation | None = None,
) -> Any:
    outcome = services.orders.cancel(ctx, order_id, body.reason if body else None, if_match)
    return written(services, response, outcome, order_view)


@router.get("/{order_id}/history", response_model=ListEnvelope[HistoryEntry])
def order_history(
    order_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    order = services.orders.get_order(principal, order_id)
    return history(services.app, order, Order, cursor, limit)
