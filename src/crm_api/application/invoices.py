"""Commands and reads on invoices and payments: whoever sees the account invoices it and
records its payments (invoices:write); numbers are unique (case-insensitive) through a claim
saved atomically with the invoice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from crm_api.domain.invoices import NUMBER_NAMESPACE, Invoice
from crm_api.domain.orders import Order
from crm_api.domain.people import Principal


def invoice_view(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": str(invoice.id),
        "number": invoice.number,
        "account_id": invoice.account_id,
        "order_id": invoice.order_id,
        "currency": invoice.currency,
        "amount": invoice.amount,
        "paid": invoice.paid,
        "balance": invoice.balance,
        "status": invoice.status,
        "issued_at": invoice.issued_at,
        "due_at": invoice.due_at,
        "paid_on": invoice.paid_on,
        "note": invoice.note,
        "void_reason": invoice.void_reason,
        "payments": [payment_view(invoice, p) for p in invoice.payments],
        "version": invoice.version,
        "created_at": invoice.created_on,
        "updated_at": invoice.modified_on,
    }


def payment_view(invoice: Invoice, payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": payment["payment_id"],
        "invoice_id": str(invoice.id),
        "account_id": invoice.account_id,
        "currency": invoice.currency,
        "amount": payment["amount"],
        "paid_at": payment["paid_at"],
        "method": payment["method"],
        "reference": payment["reference"],
    }


def payment_id_for(command_id: str) -> str:
    """A payment's id derives from its command id: a retried payment finds itself."""
    return str(uuid5(NAMESPACE_URL, f"crm-record:payment:{command_id}"))


class InvoiceService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    def _today(self) -> date:
        return self.app.clock.now().date()

    # commands

    @command
    def create_invoice(
        self,
        ctx: CommandContext,
        *,
        number: str,
        account_id: str | None,
        order_id: str | None,
        currency: str | None,
        amount: Decimal,
        issued_at: date | None,
        due_at: date,
        note: str | None,
    ) -> Outcome[Invoice]:
        principal = ctx.principal
        principal.require("invoices:write")
        if order_id is not None:
            order = self._order_for(principal, order_id)
            errors = []
            if account_id is not None and account_id != order.account_id:
                errors.append(FieldError("account_id", "the order belongs to another account"))
            if currency is not None and currency != order.currency:
                errors.append(FieldError("currency", f"the order is in {order.currency}"))
            if errors:
                raise ValidationFailed(errors)
            if order.status != "open":
                raise InvalidTransition(
                    f"a {order.status} order cannot be invoiced",
                    code="invalid_state",
                    state=order.status,
                )
            account_id, currency = order.account_id, order.currency
        elif account_id is None:
            raise ValidationFailed([FieldError("account_id", "give account_id or order_id")])
        else:
            self._account_for(principal, account_id)
            if currency is None:
                raise ValidationFailed([FieldError("currency", "required without order_id")])
        assert account_id is not None and currency is not None
        issued = issued_at or self._today()

        def build(invoice_id: UUID) -> list[CrmAggregate]:
            invoice = Invoice.issue(
                invoice_id,
                number=number,
                account_id=account_id,
                order_id=order_id,
                currency=currency,
                amount=amount,
                issued_at=issued,
                due_at=due_at,
                note=note,
            )
            claim = self.app.claim_unique(
                NUMBER_NAMESPACE, invoice.number, str(invoice_id), "invoice_number_taken"
            )
            return [invoice, claim]

        return self.app.create(ctx, Invoice, build)

    @command
    def record_payment(
        self,
        ctx: CommandContext,
        invoice_id: str,
        *,
        amount: Decimal,
        paid_at: date | None,
        method: str | None,
        reference: str | None,
        expected_version: int | None,
    ) -> Outcome[Invoice]:
        ctx.principal.require("invoices:write")
        today = self._today()
        payment_id = payment_id_for(ctx.command_id)
        return self._change(
            ctx,
            invoice_id,
            lambda invoice: invoice.record_payment(
                payment_id,
                amount=amount,
                paid_at=paid_at or today,
                method=method,
                reference=reference,
                today=today,
            ),
            expected_version,
        )

    @command
    def void(
        self,
        ctx: CommandContext,
        invoice_id: str,
        *,
        reason: str | None,
        expected_version: int | None,
    ) -> Outcome[Invoice]:
        ctx.principal.require("invoices:write")
        return self._change(ctx, invoice_id, lambda i: i.void(reason), expected_version)

    # reads

    def get_invoice(self, principal: Principal, invoice_id: str) -> Invoice:
        principal.require("invoices:read")
        invoice = self.app.load(invoice_id, Invoice)
        self._visible_to(principal)(invoice)
        return invoice

    # rules

    def _change(
        self,
        ctx: CommandContext,
        invoice_id: str,
        decide: Callable[[Invoice], Any],
        expected_version: int | None,
    ) -> Outcome[Invoice]:
        return self.app.change(
            ctx,
            invoice_id,
            Invoice,
            decide,
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    def _visible_to(self, principal: Principal) -> Callable[[Invoice], None]:
        def authorize(invoice: Invoice) -> None:
            account = self.app.load(invoice.account_id, Account)
            principal.require_sees_owner(account.owner_id, "invoice", invoice.id)

        return authorize

    def _account_for(self, principal: Principal, account_id: str) -> Account:
        try:
            account = self.app.load(account_id, Account)
        except NotFound:
            account = None
        if account is None or not principal.sees_owner(account.owner_id):
            raise ValidationFailed([FieldError("account_id", f"no account {account_id}")])
        return account

    def _order_for(self, principal: Principal, order_id: str) -> Order:
        try:
            order = self.app.load(order_id, Order)
            account = self.app.load(order.account_id, Account)
        except NotFound:
            raise ValidationFailed([FieldError("order_id", f"no order {order_id}")]) from None
        if not principal.sees_owner(account.owner_id):
            raise ValidationFailed([FieldError("order_id", f"no order {order_id}")])
        return order
