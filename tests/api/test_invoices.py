"""Invoices and payments through the REST API, on both stores: invoices for an order or an
account, unique numbers, payments within the open balance, paid and void, visibility, roles,
idempotent replays and history."""

from __future__ import annotations

import pytest

from crm_api.application.services import Services
from tests.receivables_support import Books, cancel_order
from tests.support import Company


@pytest.fixture
def books(company: Company, services: Services) -> Books:
    return Books(company, services)


def test_an_invoice_for_an_order_takes_account_and_currency_from_it(books: Books):
    order_id = books.order(books.acme)
    invoice = books.invoice(order_id=order_id, amount="30.00", issued_at="2026-01-02")
    assert invoice["account_id"] == books.acme["id"] and invoice["currency"] == "EUR"
    assert (invoice["amount"], invoice["paid"], invoice["balance"]) == ("30.00", "0.00", "30.00")
    assert (invoice["status"], invoice["issued_at"], invoice["due_at"]) == (
        "open",
        "2026-01-02",
        "2026-02-04",
    )
    listed = books.get("rep_a", "invoices", order_id=order_id)["data"]
    assert [(x["id"], x["balance"]) for x in listed] == [(invoice["id"], "30.00")]
    other = books.invoice(order_id=order_id, currency="USD", status=422)
    assert other["errors"][0]["field"] == "currency"


def test_an_account_invoice_needs_a_currency_and_due_not_before_issue(books: Books):
    problem = books.post(
        "rep_a",
        "invoices",
        {"number": "X-1", "account_id": books.acme["id"], "amount": "1", "due_at": "2026-02-01"},
        status=422,
    )
    assert problem["errors"][0]["field"] == "currency"
    early = books.invoice(issued_at="2026-01-05", due_at="2026-01-04", status=422)
    assert early["errors"][0]["field"] == "due_at"
    zero = books.invoice(amount="0", status=422)
    assert zero["errors"][0]["field"] == "amount"
    cancelled = books.order()
    cancel_order(books.services, cancelled)
    problem = books.invoice(order_id=cancelled, status=409)
    assert (problem["code"], problem["state"]) == ("invalid_state", "cancelled")


def test_invoice_numbers_are_unique_whatever_their_case(books: Books):
    books.invoice(number="INV-2026-001")
    taken = books.invoice(number="inv-2026-001", account=books.zeta, who="rep_c", status=409)
    assert taken["code"] == "invoice_number_taken"


def test_partial_payments_bring_the_balance_down_and_the_last_one_pays_it(books: Books):
    invoice = books.invoice(amount="100.00")
    first = books.pay(invoice, "30.00", paid_at="2026-01-05", method="transfer", reference="R1")
    assert (first["amount"], first["invoice_balance"], first["invoice_status"]) == (
        "30.00",
        "70.00",
        "open",
    )
    assert first["paid_at"] == "2026-01-05" and first["method"] == "transfer"
    second = books.pay(invoice, "45.50")
    assert second["invoice_balance"] == "24.50"
    over = books.pay(invoice, "24.51", status=422)
    assert over["errors"][0]["field"] == "amount"
    assert "open balance of 24.50 EUR" in over["errors"][0]["message"]
    last = books.pay(invoice, "24.50")
    assert (last["invoice_status"], last["invoice_balance"]) == ("paid", "0.00")
    paid = books.get("rep_a", f"invoices/{invoice['id']}")
    assert (paid["status"], paid["paid"], paid["balance"], paid["paid_on"]) == (
        "paid",
        "100.00",
        "0.00",
        "2026-01-05",
    )
    assert [p["amount"] for p in paid["payments"]] == ["30.00", "45.50", "24.50"]
    more = books.pay(invoice, "1.00", status=409)
    assert (more["code"], more["state"]) == ("invalid_state", "paid")
    history = books.get("auditor", f"invoices/{invoice['id']}/history")
    assert [e["type"] for e in history["data"]] == [
        "InvoiceIssued",
        "InvoicePaymentRecorded",
        "InvoicePaymentRecorded",
        "InvoicePaymentRecorded",
        "InvoicePaid",
    ]
    assert history["data"][1]["data"]["amount"] == "30.00"
    assert history["data"][1]["actor"] == books.company.ids["rep_a"]
    payments = books.get("rep_a", f"invoices/{invoice['id']}/payments")["data"]
    assert [p["amount"] for p in payments] == ["30.00", "45.50", "24.50"]
    assert books.get("rep_a", f"payments/{first['id']}")["reference"] == "R1"


def test_a_payment_in_the_future_is_refused(books: Books):
    invoice = books.invoice()
    problem = books.pay(invoice, "1.00", paid_at="2026-01-06", status=422)
    assert problem["errors"][0]["field"] == "paid_at"


def test_void_only_without_payments(books: Books):
    clean = books.invoice()
    voided = books.post("rep_a", f"invoices/{clean['id']}/void", {"reason": "typo"}, status=200)
    assert (voided["status"], voided["balance"], voided["void_reason"]) == ("void", "0.00", "typo")
    again = books.post("rep_a", f"invoices/{clean['id']}/void", status=409)
    assert (again["code"], again["state"]) == ("invalid_state", "void")
    assert books.pay(clean, "1.00", status=409)["state"] == "void"
    with_payment = books.invoice()
    books.pay(with_payment, "10.00")
    refused = books.post("rep_a", f"invoices/{with_payment['id']}/void", status=409)
    assert (refused["code"], refused["state"], refused["paid"]) == (
        "invalid_state",
        "open",
        "10.00",
    )
    assert books.get("rep_a", f"invoices/{with_payment['id']}")["status"] == "open"


def test_invoices_and_payments_are_visible_only_to_those_who_see_the_account(books: Books):
    invoice = books.invoice()
    payment = books.pay(invoice, "5.00")
    for who in ("rep_b", "rep_c"):
        assert books.get(who, f"invoices/{invoice['id']}", status=404)["code"] == "not_found"
        assert books.get(who, f"payments/{payment['id']}", status=404)["code"] == "not_found"
        books.pay(invoice, "1.00", who=who, status=404)
        assert books.get(who, "invoices")["data"] == []
        assert books.get(who, "payments")["data"] == []
    # an invoice for an account the caller cannot see names the field, never leaks it
    hidden = books.invoice(who="rep_c", status=422)
    assert hidden["errors"][0]["field"] == "account_id"
    assert books.get("manager", f"invoices/{invoice['id']}")["id"] == invoice["id"]
    assert [x["id"] for x in books.get("auditor", "invoices")["data"]] == [invoice["id"]]


def test_auditors_read_and_never_write(books: Books):
    invoice = books.invoice()
    denied = books.invoice(who="auditor", status=403)
    assert denied["code"] == "read_only_role"
    assert books.pay(invoice, "1.00", who="auditor", status=403)["code"] == "read_only_role"
    refused = books.post("auditor", f"invoices/{invoice['id']}/void", status=403)
    assert refused["code"] == "read_only_role"
    assert books.get("auditor", f"invoices/{invoice['id']}")["status"] == "open"


def test_an_assistant_invoices_on_behalf_of_its_rep(books: Books):
    books.invoice(who="assistant", status=403)
    response = books.client.post(
        "/api/v1/invoices",
        json={
            "number": "A-1",
            "account_id": books.acme["id"],
            "currency": "EUR",
            "amount": "12.00",
            "due_at": "2026-02-01",
        },
        headers=books.company.as_("assistant", "rep_a"),
    )
    assert response.status_code == 201, response.text
    history = books.get("auditor", f"invoices/{response.json()['id']}/history")
    assert history["data"][0]["on_behalf_of"] == books.company.ids["rep_a"]


def test_a_replayed_payment_is_recorded_once(books: Books):
    invoice = books.invoice(amount="50.00")
    headers = {**books.company.as_("rep_a"), "Idempotency-Key": "pay-once"}
    path = f"/api/v1/invoices/{invoice['id']}/payments"
    first = books.client.post(path, json={"amount": "20.00"}, headers=headers)
    again = books.client.post(path, json={"amount": "20.00"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert first.headers["Location"] == f"/api/v1/payments/{first.json()['id']}"
    other = books.client.post(path, json={"amount": "21.00"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    current = books.get("rep_a", f"invoices/{invoice['id']}")
    assert (current["paid"], current["balance"], len(current["payments"])) == (
        "20.00",
        "30.00",
        1,
    )


def test_a_replayed_invoice_is_created_once(books: Books):
    body = {
        "number": "R-1",
        "account_id": books.acme["id"],
        "currency": "EUR",
        "amount": "9.99",
        "due_at": "2026-02-01",
    }
    headers = {**books.company.as_("rep_a"), "Idempotency-Key": "invoice-once"}
    first = books.client.post("/api/v1/invoices", json=body, headers=headers)
    again = books.client.post("/api/v1/invoices", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert len(books.get("rep_a", "invoices")["data"]) == 1
