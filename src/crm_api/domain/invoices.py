"""Invoices and their payments: what an account owes, and what it paid, as history.

An invoice carries its payments (each one an event on the invoice), so the rule "a payment
never exceeds the open balance" is decided against one aggregate and is race-free: two
concurrent payments both append at the same version and the store refuses the second, which
is retried against the new balance.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

CENT = Decimal("0.01")
OPEN = "open"
PAID = "paid"
VOID = "void"
INVOICE_STATUSES = (OPEN, PAID, VOID)
NUMBER_NAMESPACE = "invoice_number"


def _invalid(state: str, detail: str, **extra: Any) -> InvalidTransition:
    return InvalidTransition(detail, code="invalid_state", state=state, **extra)


class Invoice(CrmAggregate):
    id: UUID
    kind = "invoice"

    @event("Issued")
    def __init__(
        self,
        number: str,
        account_id: str,
        order_id: str | None,
        currency: str,
        amount: Decimal,
        issued_at: date,
        due_at: date,
        note: str | None,
    ) -> None:
        self.number = number
        self.account_id = account_id
        self.order_id = order_id
        self.currency = currency
        self.amount = amount
        self.issued_at = issued_at
        self.due_at = due_at
        self.note = note
        self.status = OPEN
        self.paid = Decimal("0.00")
        self.paid_on: date | None = None
        self.payments: list[dict[str, Any]] = []
        self.void_reason: str | None = None

    @classmethod
    def issue(
        cls,
        invoice_id: UUID,
        *,
        number: str,
        account_id: str,
        order_id: str | None,
        currency: str,
        amount: Decimal,
        issued_at: date,
        due_at: date,
        note: str | None,
    ) -> Invoice:
        errors: list[FieldError] = []
        if not number.strip():
            errors.append(FieldError("number", "must not be empty"))
        if amount <= 0:
            errors.append(FieldError("amount", "must be above zero"))
        if due_at < issued_at:
            errors.append(FieldError("due_at", "must not be before issued_at"))
        if errors:
            raise ValidationFailed(errors)
        return cls.with_id(
            invoice_id,
            number=number.strip(),
            account_id=account_id,
            order_id=order_id,
            currency=currency,
            amount=amount.quantize(CENT),
            issued_at=issued_at,
            due_at=due_at,
            note=note,
        )

    @property
    def balance(self) -> Decimal:
        return Decimal(0).quantize(CENT) if self.status == VOID else self.amount - self.paid

    def payment(self, payment_id: str) -> dict[str, Any] | None:
        return next((p for p in self.payments if p["payment_id"] == payment_id), None)

    def record_payment(
        self,
        payment_id: str,
        *,
        amount: Decimal,
        paid_at: date,
        method: str | None,
        reference: str | None,
        today: date,
    ) -> None:
        """A payment of at most the open balance; the one that settles it marks the invoice
        paid (its own event)."""
        if self.status != OPEN:
            raise _invalid(self.status, f"a {self.status} invoice takes no payments")
        amount = amount.quantize(CENT)
        errors: list[FieldError] = []
        if amount <= 0:
            errors.append(FieldError("amount", "must be above zero"))
        elif amount > self.balance:
            errors.append(
                FieldError(
                    "amount",
                    f"exceeds the invoice's open balance of {self.balance} {self.currency}",
                )
            )
        if paid_at > today:
            errors.append(FieldError("paid_at", "must not be in the future"))
        if errors:
            raise ValidationFailed(errors)
        self._payment_recorded(
            payment_id=payment_id,
            amount=amount,
            paid_at=paid_at,
            method=method,
            reference=reference,
        )
        if self.balance == 0:
            self._paid(amount=self.amount, paid_on=paid_at)

    @event("PaymentRecorded")
    def _payment_recorded(
        self,
        payment_id: str,
        amount: Decimal,
        paid_at: date,
        method: str | None,
        reference: str | None,
    ) -> None:
        self.paid += amount
        self.payments = [
            *self.payments,
            {
                "payment_id": payment_id,
                "amount": amount,
                "paid_at": paid_at,
                "method": method,
                "reference": reference,
            },
        ]

    @event("Paid")
    def _paid(self, amount: Decimal, paid_on: date) -> None:
        self.status = PAID
        self.paid_on = paid_on

    def void(self, reason: str | None) -> None:
        """Only an open invoice without payments is voided (a mistake, never a write-off)."""
        if self.status != OPEN:
            raise _invalid(self.status, f"a {self.status} invoice cannot be voided")
        if self.payments:
            raise _invalid(
                self.status,
                f"the invoice has payments of {self.paid} {self.currency} and cannot be voided",
                paid=str(self.paid),
            )
        self._voided(reason=reason)

    @event("Voided")
    def _voided(self, reason: str | None) -> None:
        self.status = VOID
        self.void_reason = reason


def aging_bucket(due_at: date, as_of: date) -> str:
    """The bucket of an open balance by days past due at `as_of` (docs/receivables.md)."""
    days = (as_of - due_at).days
    if days < 0:
        return "not_due"
    if days <= 30:
        return "d0_30"
    if days <= 60:
        return "d31_60"
    if days <= 90:
        return "d61_90"
    return "over_90"


AGING_BUCKETS = ("not_due", "d0_30", "d31_60", "d61_90", "over_90")
