"""Invoices and payments (/api/v1/invoices, /api/v1/payments) and receivables with aging
(/api/v1/receivables, /api/v1/receivables/overdue)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    Day,
    HistoryEntry,
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
from crm_api.application.invoices import invoice_view, payment_id_for, payment_view
from crm_api.application.services import Services
from crm_api.domain.errors import NotFound
from crm_api.domain.invoices import Invoice
from crm_api.domain.people import Principal
from crm_api.projections.paging import Sort
from crm_api.projections.receivables import (
    INVOICE_SORTS,
    PAYMENT_SORTS,
    invoice_of_payment,
    list_invoices,
    list_payments,
    overdue,
    receivables,
)

invoices_router = APIRouter(prefix="/api/v1/invoices", tags=["invoices"], responses=PROBLEMS)
payments_router = APIRouter(prefix="/api/v1/payments", tags=["invoices"], responses=PROBLEMS)
receivables_router = APIRouter(
    prefix="/api/v1/receivables", tags=["receivables"], responses=PROBLEMS
)

Amount = Annotated[
    Decimal,
    Field(gt=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "19.90"'),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class Bucket(StrEnum):
    """Days past due at as_of_date: after it, 0–30, 31–60, 61–90, more than 90."""

    NOT_DUE = "not_due"
    D0_30 = "d0_30"
    D31_60 = "d31_60"
    D61_90 = "d61_90"
    OVER_90 = "over_90"


class InvoiceCreate(Strict):
    """For an order (account and currency come from it; the amount may be part of it) or for
    an account (then currency is required)."""

    number: str = Field(min_length=1, max_length=64, description="Unique, case-insensitive.")
    order_id: UUID | None = None
    account_id: UUID | None = None
    currency: Currency | None = None
    amount: Amount
    issued_at: date | None = Field(None, description="Defaults to today.")
    due_at: date = Field(description="Not before issued_at.")
    note: str | None = Field(None, max_length=1000)


class PaymentCreate(Strict):
    amount: Amount = Field(description="Above zero, at most the invoice's open balance.")
    paid_at: date | None = Field(None, description="Defaults to today; not in the future.")
    method: str | None = Field(None, min_length=1, max_length=50)
    reference: str | None = Field(None, min_length=1, max_length=200)


class VoidIn(Strict):
    reason: str | None = Field(None, min_length=1, max_length=500)


class PaymentOut(BaseModel):
    id: UUID
    invoice_id: UUID
    account_id: UUID
    currency: str
    amount: Decimal
    paid_at: date
    method: str | None
    reference: str | None


class PaymentRow(PaymentOut):
    recorded_at: datetime


class InvoiceOut(BaseModel):
    id: UUID
    number: str
    account_id: UUID
    order_id: UUID | None
    currency: str
    amount: Decimal
    paid: Decimal
    balance: Decimal = Field(description="amount − paid; 0 when void.")
    status: InvoiceStatus
    issued_at: date
    due_at: date
    paid_on: date | None = Field(description="The date of the payment that settled it.")
    note: str | None
    void_reason: str | None
    payments: list[PaymentOut]
    version: int
    created_at: datetime
    updated_at: datetime


class InvoiceRow(BaseModel):
    id: UUID
    number: str
    account_id: UUID
    order_id: UUID | None
    currency: str
    amount: Decimal
    paid: Decimal
    balance: Decimal
    status: InvoiceStatus
    issued_at: date
    due_at: date
    paid_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


class PaymentRecorded(PaymentOut):
    invoice_status: InvoiceStatus
    invoice_balance: Decimal
    invoice_version: int


class AgingOut(BaseModel):
    """Open balances by days past due at as_of_date (due date after it: not_due; due on it
    up to 30 days before it: d0_30; 31–60; 61–90; more than 90: over_90)."""

    not_due: Decimal
    d0_30: Decimal
    d31_60: Decimal
    d61_90: Decimal
    over_90: Decimal


class ReceivableOut(BaseModel):
    account_id: UUID
    account_name: str | None
    owner_id: str | None
    currency: str
    as_of_date: date
    invoice_count: int
    open_invoices: int
    invoiced: Decimal
    paid: Decimal
    balance: Decimal = Field(description="invoiced − paid (void invoices excluded).")
    aging: AgingOut


class OverdueOut(BaseModel):
    id: UUID
    number: str
    account_id: UUID
    account_name: str | None
    owner_id: str | None
    order_id: UUID | None
    currency: str
    amount: Decimal
    balance: Decimal
    issued_at: date
    due_at: date
    days_overdue: int
    aging_bucket: Bucket


def recorded_payment(invoice: Invoice, payment_id: str) -> dict[str, Any]:
    payment = invoice.payment(payment_id)
    if payment is None:  # pragma: no cover - the command recorded it
        raise NotFound(f"payment {payment_id} not found")
    return {
        **payment_view(invoice, payment),
        "invoice_status": invoice.status,
        "invoice_balance": invoice.balance,
        "invoice_version": invoice.version,
    }


def visible(principal: Principal) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


def today(services: Services, as_of_date: date | None) -> date:
    return as_of_date or services.clock.now().date()


# invoices


@invoices_router.post("", status_code=201, response_model=InvoiceOut)
def create_invoice(
    body: InvoiceCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.invoices.create_invoice(
        ctx,
        number=body.number,
        account_id=str(body.account_id) if body.account_id else None,
        order_id=str(body.order_id) if body.order_id else None,
        currency=body.currency,
        amount=body.amount,
        issued_at=body.issued_at,
        due_at=body.due_at,
        note=body.note,
    )
    return written(services, response, outcome, invoice_view, created_at=invoices_router.prefix)


@invoices_router.get("", response_model=ListEnvelope[InvoiceRow])
def search_invoices(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    account_id: UUID | None = None,
    order_id: UUID | None = None,
    owner_id: UUID | None = None,
    status: InvoiceStatus | None = None,
    number: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Any:
    principal.require("invoices:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, INVOICE_SORTS, "-created_at")
    with services.read() as conn:
        page = list_invoices(
            conn,
            visible_owners=visible(principal),
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            order_id=str(order_id) if order_id else None,
            owner_id=str(owner_id) if owner_id else None,
            status=status.value if status else None,
            number=number,
        )
    return listed(page)


@invoices_router.get("/{invoice_id}", response_model=InvoiceOut)
def get_invoice(
    invoice_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    invoice = services.invoices.get_invoice(principal, invoice_id)
    invoice = point_in_time(services.app, invoice, Invoice, version=version, as_of=as_of)
    return one(response, invoice, invoice_view)


@invoices_router.get("/{invoice_id}/history", response_model=ListEnvelope[HistoryEntry])
def invoice_history(
    invoice_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    invoice = services.invoices.get_invoice(principal, invoice_id)
    return history(services.app, invoice, Invoice, cursor, limit)


@invoices_router.post("/{invoice_id}/void", response_model=InvoiceOut)
def void_invoice(
    invoice_id: str,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
    body: VoidIn | None = None,
) -> Any:
    """Only an open invoice without payments (409 invalid_state otherwise)."""
    outcome = services.invoices.void(
        ctx, invoice_id, reason=body.reason if body else None, expected_version=if_match
    )
    return written(services, response, outcome, invoice_view)


@invoices_router.post("/{invoice_id}/payments", status_code=201, response_model=PaymentRecorded)
def record_payment(
    invoice_id: str,
    body: PaymentCreate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """At most the open balance (422 naming amount); the payment that settles the balance
    makes the invoice paid. ETag is the invoice's version."""
    outcome = services.invoices.record_payment(
        ctx,
        invoice_id,
        amount=body.amount,
        paid_at=body.paid_at,
        method=body.method,
        reference=body.reference,
        expected_version=if_match,
    )
    payment_id = payment_id_for(ctx.command_id)
    answer = written(services, response, outcome, lambda i: recorded_payment(i, payment_id))
    response.status_code = 201
    response.headers["Location"] = f"{payments_router.prefix}/{payment_id}"
    return answer


@invoices_router.get("/{invoice_id}/payments", response_model=ListEnvelope[PaymentRow])
def invoice_payments(
    invoice_id: str, principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep
) -> Any:
    invoice = services.invoices.get_invoice(principal, invoice_id)
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, PAYMENT_SORTS, "position")
    with services.read() as conn:
        page = list_payments(
            conn,
            visible_owners=None,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            invoice_id=str(invoice.id),
        )
    return listed(page)


# payments


@payments_router.get("", response_model=ListEnvelope[PaymentRow])
def search_payments(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    invoice_id: UUID | None = None,
    account_id: UUID | None = None,
) -> Any:
    principal.require("invoices:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, PAYMENT_SORTS, "-position")
    with services.read() as conn:
        page = list_payments(
            conn,
            visible_owners=visible(principal),
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            invoice_id=str(invoice_id) if invoice_id else None,
            account_id=str(account_id) if account_id else None,
        )
    return listed(page)


@payments_router.get("/{payment_id}", response_model=PaymentOut)
def get_payment(payment_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Any:
    principal.require("invoices:read")
    with services.read() as conn:
        invoice_id = invoice_of_payment(conn, payment_id)
    if invoice_id is None:
        raise NotFound(f"payment {payment_id} not found")
    invoice = services.invoices.get_invoice(principal, invoice_id)
    payment = invoice.payment(payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found")
    return payment_view(invoice, payment)


# receivables

AsOfDate = Annotated[
    Day | None, Query(description="The day the balances and aging are taken at; default today.")
]


@receivables_router.get("", response_model=ListEnvelope[ReceivableOut])
def list_receivables(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    as_of_date: AsOfDate = None,
    account_id: UUID | None = None,
    owner_id: UUID | None = None,
) -> Any:
    """Per account and currency: invoiced, paid, balance and aging of the open balances, at
    as_of_date (invoices issued and payments made on or before it; void invoices left out).
    Sorted by account id, then currency."""
    principal.require("invoices:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = receivables(
            conn,
            as_of=today(services, as_of_date),
            visible_owners=visible(principal),
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            owner_id=str(owner_id) if owner_id else None,
        )
    return listed(page)


@receivables_router.get("/overdue", response_model=ListEnvelope[OverdueOut])
def list_overdue(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    as_of_date: AsOfDate = None,
    account_id: UUID | None = None,
    owner_id: UUID | None = None,
) -> Any:
    """Invoices with an open balance that were due before as_of_date, oldest due date first,
    with days_overdue = as_of_date − due_at (≥ 1)."""
    principal.require("invoices:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = overdue(
            conn,
            as_of=today(services, as_of_date),
            visible_owners=visible(principal),
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            owner_id=str(owner_id) if owner_id else None,
        )
    return listed(page)


router = APIRouter()
"""What create_app includes: invoices, payments and receivables."""
for _part in (invoices_router, payments_router, receivables_router):
    router.include_router(_part)
