"""Orders over GraphQL: the same upsert, results, codes and visibility as REST."""

from __future__ import annotations

import pytest

from tests.api.test_graphql import codes, gql
from tests.quote_support import Sales
from tests.support import Company

PUSH = """mutation($orders: [OrderInput!]!) { pushOrders(orders: $orders) {
  index externalId status orderId error } }"""


@pytest.fixture
def sales(company: Company) -> Sales:
    return Sales.build(company)


def order(sales: Sales, external_id: str, **overrides):
    body = {
        "source": "shop",
        "externalId": external_id,
        "accountId": sales.account["id"],
        "orderedAt": "2025-06-01T12:00:00Z",
        "currency": "EUR",
        "lines": [{"sku": "WID-1", "quantity": "2", "unitPrice": "95.00"}],
    }
    body.update(overrides)
    return body


def test_push_reports_each_order_and_reads_back(sales: Sales):
    c = sales.company
    pushed = gql(
        c, "rep_a", PUSH, orders=[order(sales, "G-1"), order(sales, "G-2", currency="eur")]
    )
    assert "errors" not in pushed, pushed
    first, second = pushed["data"]["pushOrders"]
    assert (first["status"], second["status"]) == ("created", "error")
    assert second["error"]["code"] == "validation_failed"
    assert second["error"]["errors"][0]["field"] == "currency"
    again = gql(c, "rep_a", PUSH, orders=[order(sales, "G-1")])["data"]["pushOrders"]
    assert again[0]["status"] == "unchanged" and again[0]["orderId"] == first["orderId"]

    one = gql(
        c,
        "rep_a",
        "query($id: ID!) { order(id: $id) { amount status lines { sku quantity } } }",
        id=first["orderId"],
    )
    assert one["data"]["order"] == {
        "amount": "190.00",
        "status": "OPEN",
        "lines": [{"sku": "WID-1", "quantity": "2.000"}],
    }
    listed = gql(c, "rep_a", "{ orders(first: 5) { edges { node { externalId lineCount } } } }")
    assert listed["data"]["orders"]["edges"] == [{"node": {"externalId": "G-1", "lineCount": 1}}]
    assert (
        gql(c, "rep_c", "{ orders(first: 5) { edges { node { id } } } }")["data"]["orders"]["edges"]
        == []
    )


def test_cancel_and_codes(sales: Sales):
    c = sales.company
    pushed = gql(c, "rep_a", PUSH, orders=[order(sales, "H-1")])["data"]["pushOrders"][0]
    cancel = 'mutation($id: ID!) { cancelOrder(id: $id, reason: "dup") { status version } }'
    done = gql(c, "rep_a", cancel, id=pushed["orderId"])
    assert done["data"]["cancelOrder"] == {"status": "CANCELLED", "version": 2}
    again = gql(c, "rep_a", cancel, id=pushed["orderId"])
    assert codes(again) == ["invalid_state"]
    assert codes(gql(c, "auditor", PUSH, orders=[order(sales, "H-2")])) == ["read_only_role"]
    hidden = gql(c, "rep_c", "query($id: ID!) { order(id: $id) { id } }", id=pushed["orderId"])
    assert codes(hidden) == ["not_found"]
