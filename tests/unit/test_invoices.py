"""Invoices, payments and aging as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.invoices import Invoice, aging_bucket

D = Decimal
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
_commands = count()


def act() -> Any:
    meta = EventMeta("rep-1", "user", None, NOW, f"cmd-{next(_commands)}", "corr")
    return recording(meta, NOW)


def issue(amount: str = "100.00", **fields: Any) -> Invoice:
    values: dict[str, Any] = {
        "number": "INV-1",
        "account_id": "acc-1",
        "order_id": None,
        "currency": "EUR",
        "amount": D(amount),
        "issued_at": date(2026, 1, 2),
        "due_at": date(2026, 2, 1),
        "note": None,
    }
    values.update(fields)
    with act():
        return Invoice.issue(uuid4(), **values)


def pay(invoice: Invoice, amount: str, paid_at: date = TODAY) -> None:
    with act():
        invoice.record_payment(
            str(uuid4()),
            amount=D(amount),
            paid_at=paid_at,
            method=None,
            reference=None,
            today=TODAY,
        )


def test_an_invoice_is_open_with_its_whole_amount_due():
    invoice = issue("19.9")
    assert (invoice.status, invoice.amount, invoice.paid, invoice.balance) == (
        "open",
        D("19.90"),
        D("0.00"),
        D("19.90"),
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": D("0")}, "amount"),
        ({"amount": D("-1")}, "amount"),
        ({"due_at": date(2026, 1, 1)}, "due_at"),
        ({"number": "  "}, "number"),
    ],
)
def test_invalid_invoices_are_refused(fields: dict[str, Any], field: str):
    with pytest.raises(ValidationFailed) as error:
        issue(**fields)
    assert [e.field for e in error.value.errors] == [field]


def test_payments_reduce_the_balance_and_the_settling_one_pays_the_invoice():
    invoice = issue("100.00")
    pay(invoice, "30.00", date(2026, 1, 3))
    assert (invoice.balance, invoice.status) == (D("70.00"), "open")
    with pytest.raises(ValidationFailed) as error:
        pay(invoice, "70.01")
    assert error.value.errors[0].field == "amount"
    assert invoice.balance == D("70.00") and len(invoice.payments) == 1
    pay(invoice, "70.00", date(2026, 1, 4))
    assert (invoice.status, invoice.balance, invoice.paid_on) == ("paid", 0, date(2026, 1, 4))
    types = [type(e).__name__ for e in invoice.collect_events()]
    assert types == ["Issued", "PaymentRecorded", "PaymentRecorded", "Paid"]
    with pytest.raises(InvalidTransition) as closed:
        pay(invoice, "1.00")
    assert closed.value.extra["state"] == "paid"


def test_a_payment_is_above_zero_and_not_in_the_future():
    invoice = issue()
    with pytest.raises(ValidationFailed):
        pay(invoice, "0")
    with pytest.raises(ValidationFailed) as error:
        pay(invoice, "1.00", TODAY + timedelta(days=1))
    assert error.value.errors[0].field == "paid_at"


def test_void_only_without_payments():
    invoice = issue()
    with act():
        invoice.void("typo")
    assert (invoice.status, invoice.balance, invoice.void_reason) == ("void", 0, "typo")
    with pytest.raises(InvalidTransition):
        pay(invoice, "1.00")
    paid_in_part = issue()
    pay(paid_in_part, "1.00")
    with pytest.raises(InvalidTransition) as error, act():
        paid_in_part.void(None)
    assert (error.value.code, error.value.extra["state"], error.value.extra["paid"]) == (
        "invalid_state",
        "open",
        "1.00",
    )


@pytest.mark.parametrize(
    ("days_past_due", "bucket"),
    [
        (-30, "not_due"),
        (-1, "not_due"),
        (0, "d0_30"),
        (30, "d0_30"),
        (31, "d31_60"),
        (60, "d31_60"),
        (61, "d61_90"),
        (90, "d61_90"),
        (91, "over_90"),
        (400, "over_90"),
    ],
)
def test_aging_buckets_by_days_past_due(days_past_due: int, bucket: str):
    as_of = date(2026, 4, 30)
    assert aging_bucket(as_of - timedelta(days=days_past_due), as_of) == bucket
