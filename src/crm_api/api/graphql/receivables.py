"""Shipments, invoices, payments and receivables over GraphQL: the REST reads and commands
through the same services. The types are derived from the REST response models, so both
transports describe an invoice, a receivable and a fulfilment in one place."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.experimental import pydantic as strawberry_pydantic

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.inputs import validated
from crm_api.api.graphql.limits import embedded_lists
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, keyset_connection, page_size
from crm_api.api.graphql.queries import _read
from crm_api.api.rest import invoices as rest
from crm_api.api.rest import shipments as rest_shipments
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.invoices import invoice_view, payment_id_for
from crm_api.application.services import Services
from crm_api.application.shipments import shipment_view
from crm_api.domain.errors import NotFound
from crm_api.domain.fulfilment import Shipment as ShipmentRecord
from crm_api.domain.invoices import Invoice as InvoiceRecord
from crm_api.domain.people import Principal
from crm_api.projections.fulfilment import fulfilment_of
from crm_api.projections.paging import Sort
from crm_api.projections.receivables import (
    INVOICE_SORTS,
    OVERDUE_SORT,
    RECEIVABLE_SORT,
    list_invoices,
    overdue,
    receivables,
)


@strawberry_pydantic.type(model=rest.PaymentOut, all_fields=True)
class Payment:
    pass


@strawberry_pydantic.type(model=rest.InvoiceOut, all_fields=True, description="An invoice.")
class Invoice:
    pass


@strawberry_pydantic.type(model=rest.InvoiceRow, all_fields=True)
class InvoiceSummary:
    pass


@strawberry_pydantic.type(model=rest.PaymentRecorded, all_fields=True)
class PaymentRecorded:
    pass


@strawberry_pydantic.type(
    model=rest.AgingOut,
    description="Open balances by days past due at asOfDate; the bucket names are the REST "
    "ones (camel case would make d0_30 unreadable).",
)
class ReceivableAging:
    not_due: strawberry.auto
    d0_30: strawberry.auto = strawberry.field(name="d0_30")
    d31_60: strawberry.auto = strawberry.field(name="d31_60")
    d61_90: strawberry.auto = strawberry.field(name="d61_90")
    over_90: strawberry.auto


@strawberry_pydantic.type(
    model=rest.ReceivableOut,
    all_fields=True,
    description="What one account owes in one currency at asOfDate, with its aging.",
)
class Receivable:
    pass


@strawberry_pydantic.type(model=rest.OverdueOut, all_fields=True)
class OverdueInvoice:
    pass


@strawberry_pydantic.type(model=rest_shipments.ShipmentLineOut, all_fields=True)
class ShipmentLine:
    pass


@strawberry_pydantic.type(model=rest_shipments.TrackingOut, all_fields=True)
class ShipmentTracking:
    pass


@strawberry_pydantic.type(model=rest_shipments.ShipmentOut, all_fields=True)
class Shipment:
    pass


@strawberry_pydantic.type(model=rest_shipments.FulfilmentLineOut, all_fields=True)
class FulfilmentLine:
    pass


@strawberry_pydantic.type(model=rest_shipments.FulfilmentShipmentOut, all_fields=True)
class FulfilmentShipment:
    pass


@strawberry_pydantic.type(
    model=rest_shipments.FulfilmentOut,
    all_fields=True,
    description="How far an order is shipped and delivered.",
)
class Fulfilment:
    pass


# Read with their record, in one load: not a fan-out.
embedded_lists("Invoice", "payments")
embedded_lists("Shipment", "lines", "tracking")
embedded_lists("Fulfilment", "lines", "shipments")


@strawberry.input
class InvoiceFilter:
    account_id: strawberry.ID | None = None
    order_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    status: rest.InvoiceStatus | None = None
    number: str | None = None


@strawberry.input
class CreateInvoiceInput:
    number: str
    amount: Decimal
    due_at: date
    order_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = None
    currency: str | None = None
    issued_at: date | None = None
    note: str | None = None


@strawberry.input
class RecordPaymentInput:
    amount: Decimal
    paid_at: date | None = None
    method: str | None = None
    reference: str | None = None


@strawberry.input
class ShipmentLineInput:
    line: int
    quantity: Decimal


@strawberry.input
class CreateShipmentInput:
    carrier: str
    lines: list[ShipmentLineInput]
    tracking_number: str | None = None
    shipped_at: datetime | None = None


def _id(value: Any) -> str | None:
    return str(value) if value else None


def _visible(principal: Principal) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


def _invoice(view: dict[str, Any]) -> Invoice:
    return Invoice.from_pydantic(rest.InvoiceOut.model_validate(view))  # type: ignore[attr-defined,no-any-return]


def _today(services: Services, as_of_date: date | None) -> date:
    return as_of_date or services.clock.now().date()


@strawberry.type
class ReceivablesQuery:
    @strawberry.field
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice:
        def read(services: Services, principal: Principal) -> Invoice:
            return _invoice(invoice_view(services.invoices.get_invoice(principal, id)))

        return await _read(info, read)

    @strawberry.field
    async def invoices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: InvoiceFilter | None = None,
        sort: str | None = None,
    ) -> Connection[InvoiceSummary]:
        limit, given = page_size(first), filter or InvoiceFilter()

        def read(services: Services, principal: Principal) -> Connection[InvoiceSummary]:
            principal.require("invoices:read")
            order = Sort.parse(sort, INVOICE_SORTS, "-created_at")
            with services.read() as conn:
                page = list_invoices(
                    conn,
                    visible_owners=_visible(principal),
                    sort=order,
                    cursor=after,
                    limit=limit,
                    account_id=_id(given.account_id),
                    order_id=_id(given.order_id),
                    owner_id=_id(given.owner_id),
                    status=given.status.value if given.status else None,
                    number=given.number,
                )
            return keyset_connection(
                page,
                order,
                lambda row: InvoiceSummary.from_pydantic(rest.InvoiceRow.model_validate(row)),  # type: ignore[attr-defined]
            )

        return await _read(info, read)

    @strawberry.field(
        description="Per account and currency at asOfDate (default today): invoiced, paid, "
        "balance and the aging of open balances."
    )
    async def receivables(
        self,
        info: Info,
        as_of_date: date | None = None,
        account_id: strawberry.ID | None = None,
        owner_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Receivable]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[Receivable]:
            principal.require("invoices:read")
            with services.read() as conn:
                page = receivables(
                    conn,
                    as_of=_today(services, as_of_date),
                    visible_owners=_visible(principal),
                    cursor=after,
                    limit=limit,
                    account_id=_id(account_id),
                    owner_id=_id(owner_id),
                )
            return keyset_connection(
                page,
                RECEIVABLE_SORT,
                lambda row: Receivable.from_pydantic(rest.ReceivableOut.model_validate(row)),  # type: ignore[attr-defined]
            )

        return await _read(info, read)

    @strawberry.field(description="Open invoices due before asOfDate, oldest first.")
    async def overdue_invoices(
        self,
        info: Info,
        as_of_date: date | None = None,
        account_id: strawberry.ID | None = None,
        owner_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[OverdueInvoice]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[OverdueInvoice]:
            principal.require("invoices:read")
            with services.read() as conn:
                page = overdue(
                    conn,
                    as_of=_today(services, as_of_date),
                    visible_owners=_visible(principal),
                    cursor=after,
                    limit=limit,
                    account_id=_id(account_id),
                    owner_id=_id(owner_id),
                )
            return keyset_connection(
                page,
                OVERDUE_SORT,
                lambda row: OverdueInvoice.from_pydantic(rest.OverdueOut.model_validate(row)),  # type: ignore[attr-defined]
            )

        return await _read(info, read)

    @strawberry.field
    async def fulfilment(self, info: Info, order_id: strawberry.ID) -> Fulfilment:
        def read(services: Services, principal: Principal) -> Fulfilment:
            order = services.shipments.get_order(principal, order_id)
            with services.read() as conn:
                found = fulfilment_of(conn, str(order.id))
            if found is None:
                raise NotFound(f"order {order_id} not found")
            return Fulfilment.from_pydantic(  # type: ignore[attr-defined,no-any-return]
                rest_shipments.FulfilmentOut.model_validate(found)
            )

        return await _read(info, read)

    @strawberry.field
    async def shipment(self, info: Info, id: strawberry.ID) -> Shipment:
        def read(services: Services, principal: Principal) -> Shipment:
            shipment = services.shipments.get_shipment(principal, id)
            return _shipment(shipment_view(shipment))

        return await _read(info, read)


def _shipment(view: dict[str, Any]) -> Shipment:
    return Shipment.from_pydantic(rest_shipments.ShipmentOut.model_validate(view))  # type: ignore[attr-defined,no-any-return]


@strawberry.type
class ReceivablesMutation:
    @strawberry.mutation(
        description="Ship some or all of an order's lines, never beyond what remains."
    )
    async def create_shipment(
        self,
        info: Info,
        order_id: strawberry.ID,
        input: CreateShipmentInput,
        idempotency_key: IdempotencyKey = None,
    ) -> Shipment:
        body = validated(rest_shipments.ShipmentCreate, input)
        shipments = info.context.services.shipments

        def command(ctx: CommandContext) -> Outcome[ShipmentRecord]:
            return shipments.create_shipment(
                ctx,
                order_id,
                carrier=body.carrier,
                tracking_number=body.tracking_number,
                shipped_at=rest_shipments._utc(body.shipped_at),
                lines=rest_shipments.shipment_lines(body),
            )

        return _shipment(await _run(info, idempotency_key, command, shipment_view))

    @strawberry.mutation
    async def create_invoice(
        self, info: Info, input: CreateInvoiceInput, idempotency_key: IdempotencyKey = None
    ) -> Invoice:
        body = validated(rest.InvoiceCreate, input)
        invoices = info.context.services.invoices

        def command(ctx: CommandContext) -> Outcome[InvoiceRecord]:
            return invoices.create_invoice(
                ctx,
                number=body.number,
                account_id=_id(body.account_id),
                order_id=_id(body.order_id),
                currency=body.currency,
                amount=body.amount,
                issued_at=body.issued_at,
                due_at=body.due_at,
                note=body.note,
            )

        return _invoice(await _run(info, idempotency_key, command, invoice_view))

    @strawberry.mutation(description="At most the open balance; settling it pays the invoice.")
    async def record_payment(
        self,
        info: Info,
        invoice_id: strawberry.ID,
        input: RecordPaymentInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> PaymentRecorded:
        body = validated(rest.PaymentCreate, input)
        invoices = info.context.services.invoices
        command_ids: list[str] = []

        def command(ctx: CommandContext) -> Outcome[InvoiceRecord]:
            command_ids.append(ctx.command_id)
            return invoices.record_payment(
                ctx,
                invoice_id,
                amount=body.amount,
                paid_at=body.paid_at,
                method=body.method,
                reference=body.reference,
                expected_version=if_match,
            )

        def view(invoice: InvoiceRecord) -> dict[str, Any]:
            return rest.recorded_payment(invoice, payment_id_for(command_ids[-1]))

        row = await _run(info, idempotency_key, command, view)
        return PaymentRecorded.from_pydantic(rest.PaymentRecorded.model_validate(row))  # type: ignore[attr-defined,no-any-return]

    @strawberry.mutation(description="Only an open invoice without payments.")
    async def void_invoice(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Invoice:
        body = validated(rest.VoidIn, {"reason": reason})
        invoices = info.context.services.invoices
        return _invoice(
            await _run(
                info,
                idempotency_key,
                lambda ctx: invoices.void(ctx, id, reason=body.reason, expected_version=if_match),
                invoice_view,
            )
        )
