"""Shipments, invoices, payments and receivables over GraphQL: the same services, rules and
codes as REST."""

from __future__ import annotations

from typing import Any

import pytest

from crm_api.application.services import Services
from tests.api.test_graphql import codes, gql
from tests.receivables_support import Books
from tests.support import Company

INVOICE = "id number status amount paid balance dueAt payments { amount paidAt }"
CREATE_INVOICE = f"""mutation($input: CreateInvoiceInput!, $key: String) {{
  createInvoice(input: $input, idempotencyKey: $key) {{ {INVOICE} }} }}"""
PAY = """mutation($id: ID!, $input: RecordPaymentInput!) {
  recordPayment(invoiceId: $id, input: $input) { id amount invoiceStatus invoiceBalance } }"""
VOID = f"""mutation($id: ID!, $reason: String) {{
  voidInvoice(id: $id, reason: $reason) {{ {INVOICE} }} }}"""
SHIP = """mutation($orderId: ID!, $input: CreateShipmentInput!) {
  createShipment(orderId: $orderId, input: $input) { id status lines { line quantity } } }"""
FULFILMENT = """query($orderId: ID!) { fulfilment(orderId: $orderId) {
  status lines { line ordered shipped remaining } shipments { id status } } }"""
RECEIVABLES = """query($asOf: Date, $first: Int, $after: String) {
  receivables(asOfDate: $asOf, first: $first, after: $after) {
    edges { cursor node { accountName currency invoiced paid balance
      aging { notDue d0_30 d31_60 d61_90 over90 } } }
    pageInfo { hasNextPage endCursor } } }"""
OVERDUE = """query($asOf: Date) { overdueInvoices(asOfDate: $asOf) {
  edges { node { number daysOverdue balance agingBucket } } } }"""
INVOICES = """query($status: InvoiceStatus) { invoices(filter: {status: $status}) {
  edges { node { number status balance } } } }"""


@pytest.fixture
def books(company: Company, services: Services) -> Books:
    return Books(company, services)


def create_invoice(books: Books, who: str = "rep_a", **fields: Any) -> dict[str, Any]:
    fields.setdefault("accountId", books.acme["id"])
    fields.setdefault("currency", "EUR")
    fields.setdefault("dueAt", "2026-01-01")
    fields.setdefault("issuedAt", "2026-01-01")
    body = gql(books.company, who, CREATE_INVOICE, input=fields)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["createInvoice"]
    return result


def test_invoice_payment_and_receivables(books: Books):
    invoice = create_invoice(books, number="G-1", amount="100.00")
    assert (invoice["status"], invoice["balance"]) == ("OPEN", "100.00")
    paid = gql(books.company, "rep_a", PAY, id=invoice["id"], input={"amount": "40.00"})
    assert paid["data"]["recordPayment"]["invoiceBalance"] == "60.00"
    over = gql(books.company, "rep_a", PAY, id=invoice["id"], input={"amount": "60.01"})
    assert codes(over) == ["validation_failed"]
    body = gql(books.company, "auditor", RECEIVABLES, asOf="2026-02-15")
    [edge] = body["data"]["receivables"]["edges"]
    assert edge["node"] == {
        "accountName": "Acme",
        "currency": "EUR",
        "invoiced": "100.00",
        "paid": "40.00",
        "balance": "60.00",
        "aging": {
            "notDue": "0.00",
            "d0_30": "0.00",
            "d31_60": "60.00",
            "d61_90": "0.00",
            "over90": "0.00",
        },
    }
    overdue = gql(books.company, "rep_a", OVERDUE, asOf="2026-01-10")
    assert [e["node"] for e in overdue["data"]["overdueInvoices"]["edges"]] == [
        {"number": "G-1", "daysOverdue": 9, "balance": "60.00", "agingBucket": "D0_30"}
    ]
    assert gql(books.company, "rep_c", RECEIVABLES)["data"]["receivables"]["edges"] == []
    listed = gql(books.company, "rep_a", INVOICES, status="OPEN")
    assert [e["node"]["number"] for e in listed["data"]["invoices"]["edges"]] == ["G-1"]


def test_void_with_payments_is_refused_and_auditors_do_not_write(books: Books):
    invoice = create_invoice(books, number="G-2", amount="10.00")
    gql(books.company, "rep_a", PAY, id=invoice["id"], input={"amount": "1.00"})
    refused = gql(books.company, "rep_a", VOID, id=invoice["id"])
    assert codes(refused) == ["invalid_state"]
    clean = create_invoice(books, number="G-3", amount="10.00")
    voided = gql(books.company, "rep_a", VOID, id=clean["id"], reason="duplicate")
    assert voided["data"]["voidInvoice"]["status"] == "VOID"
    denied = gql(
        books.company,
        "auditor",
        CREATE_INVOICE,
        input={"number": "G-4", "accountId": books.acme["id"], "currency": "EUR",
               "amount": "1", "dueAt": "2026-02-01"},
    )  # fmt: skip
    assert codes(denied) == ["read_only_role"]
    hidden = gql(books.company, "rep_c", "query($id: ID!) { invoice(id: $id) { id } }",
                 id=invoice["id"])  # fmt: skip
    assert codes(hidden) == ["not_found"]


def test_shipments_and_fulfilment(books: Books):
    order_id = books.order(None, "5")
    shipped = gql(
        books.company,
        "rep_a",
        SHIP,
        orderId=order_id,
        input={"carrier": "DHL", "lines": [{"line": 1, "quantity": "3"}]},
    )
    assert "errors" not in shipped, shipped
    assert shipped["data"]["createShipment"]["lines"] == [{"line": 1, "quantity": "3.000"}]
    too_much = gql(
        books.company,
        "rep_a",
        SHIP,
        orderId=order_id,
        input={"carrier": "DHL", "lines": [{"line": 1, "quantity": "2.001"}]},
    )
    assert codes(too_much) == ["validation_failed"]
    fulfilment = gql(books.company, "rep_a", FULFILMENT, orderId=order_id)["data"]["fulfilment"]
    assert fulfilment["status"] == "PARTIALLY_SHIPPED"
    assert fulfilment["lines"] == [
        {"line": 1, "ordered": "5.000", "shipped": "3.000", "remaining": "2.000"}
    ]
    assert fulfilment["shipments"] == [
        {"id": shipped["data"]["createShipment"]["id"], "status": "SHIPPED"}
    ]
    assert codes(gql(books.company, "rep_c", FULFILMENT, orderId=order_id)) == ["not_found"]


def test_an_idempotent_create_invoice_is_recorded_once(books: Books):
    fields = {"number": "G-9", "amount": "5.00", "accountId": books.acme["id"],
              "currency": "EUR", "dueAt": "2026-02-01"}  # fmt: skip
    first = gql(books.company, "rep_a", CREATE_INVOICE, input=fields, key="k-1")
    again = gql(books.company, "rep_a", CREATE_INVOICE, input=fields, key="k-1")
    assert again["data"]["createInvoice"]["id"] == first["data"]["createInvoice"]["id"]
    listed = gql(books.company, "rep_a", INVOICES)
    assert len(listed["data"]["invoices"]["edges"]) == 1
