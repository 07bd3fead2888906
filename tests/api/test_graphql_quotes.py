"""Quotes over GraphQL: the same service, rules and codes as REST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_graphql import codes, gql
from tests.quote_support import Sales
from tests.support import Company

QUOTE = """id state revision version amount deepestDiscountPct needsApproval
  lines { sku unitPrice listPrice floorPrice discountPct belowFloor }
  approval { revision approvedBy deepestDiscountPct approvalLimitPct }"""

CREATE = f"""mutation($input: CreateQuoteInput!, $key: String) {{
  createQuote(input: $input, idempotencyKey: $key) {{ {QUOTE} }} }}"""
SUBMIT = f"""mutation($id: ID!) {{ submitQuote(id: $id) {{ {QUOTE} }} }}"""
APPROVE = f"""mutation($id: ID!, $revision: Int!, $ifMatch: Int!) {{
  approveQuote(id: $id, revision: $revision, ifMatch: $ifMatch) {{ {QUOTE} }} }}"""
REVISE = f"""mutation($id: ID!, $input: ReviseQuoteInput!) {{
  reviseQuote(id: $id, input: $input) {{ {QUOTE} }} }}"""
HISTORY = """query($id: ID!, $asOf: DateTime) { quoteHistory(id: $id, asOf: $asOf) {
  state revision approval { approvedBy }
  revisions { revision written { actor } lines { unitPrice floorPrice belowFloor }
    totals { amount margin } submitted { actor needsApproval }
    approval { approvedBy byPolicy deepestDiscountPct approvalLimitPct }
    voided { actor reason } }
  events { type version } } }"""


@pytest.fixture
def sales(company: Company) -> Sales:
    return Sales.build(company)


def create(sales: Sales, who: str, price: str) -> dict[str, Any]:
    line = sales.line("WID-1", price)
    body = gql(
        sales.company,
        who,
        CREATE,
        input={
            "accountId": sales.account["id"],
            "currency": "EUR",
            "lines": [{"productId": line["product_id"], "quantity": "1", "unitPrice": price}],
        },
    )
    assert "errors" not in body, body
    return body["data"]["createQuote"]


def submit(sales: Sales, who: str, quote: dict[str, Any]) -> dict[str, Any]:
    body = gql(sales.company, who, SUBMIT, id=quote["id"])
    assert "errors" not in body, body
    return body["data"]["submitQuote"]


def test_create_submit_and_approve_within_the_managers_limit(sales: Sales):
    pending = submit(sales, "rep_a", create(sales, "rep_a", "88.00"))
    assert pending["state"] == "PENDING_APPROVAL" and pending["needsApproval"] is True
    assert pending["lines"][0] == {
        "sku": "WID-1",
        "unitPrice": "88.00",
        "listPrice": "100.00",
        "floorPrice": "90.00",
        "discountPct": "12.00",
        "belowFloor": True,
    }
    body = gql(
        sales.company, "manager", APPROVE, id=pending["id"], revision=1, ifMatch=pending["version"]
    )
    assert "errors" not in body, body
    approved = body["data"]["approveQuote"]
    assert approved["state"] == "APPROVED"
    assert approved["approval"]["approvedBy"] == sales.company.ids["manager"]


def test_the_same_codes_as_rest(sales: Sales):
    deep = submit(sales, "rep_a", create(sales, "rep_a", "80.00"))
    body = gql(
        sales.company, "manager", APPROVE, id=deep["id"], revision=1, ifMatch=deep["version"]
    )
    assert codes(body) == ["approval_limit_exceeded"]
    stale = gql(sales.company, "manager", APPROVE, id=deep["id"], revision=1, ifMatch=1)
    assert codes(stale) == ["version_conflict"]
    own = submit(sales, "manager", create(sales, "manager", "88.00"))
    body = gql(sales.company, "manager", APPROVE, id=own["id"], revision=1, ifMatch=own["version"])
    assert codes(body) == ["self_approval"]
    send = gql(
        sales.company, "rep_a", "mutation($id: ID!) { sendQuote(id: $id) { id } }", id=deep["id"]
    )
    assert codes(send) == ["invalid_state"]
    assert send["errors"][0]["extensions"]["state"] == "pending_approval"
    # The If-Match of a decision is not optional here either: the schema requires it.
    missing = gql(
        sales.company,
        "manager",
        "mutation($id: ID!) { approveQuote(id: $id, revision: 1) { id } }",
        id=deep["id"],
    )
    assert "ifMatch" in missing["errors"][0]["message"]
    hidden = gql(sales.company, "rep_c", "query($id: ID!) { quote(id: $id) { id } }", id=deep["id"])
    assert codes(hidden) == ["not_found"]


def test_bad_lines_name_the_field(sales: Sales):
    body = gql(
        sales.company,
        "rep_a",
        CREATE,
        input={
            "accountId": sales.account["id"],
            "currency": "EUR",
            "lines": [
                {"productId": sales.products["WID-1"]["id"], "quantity": "0", "unitPrice": "1"}
            ],
        },
    )
    assert codes(body) == ["validation_failed"]
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "lines.[0].quantity"


def test_the_auditors_history_and_as_of(sales: Sales):
    c = sales.company
    pending = submit(sales, "rep_a", create(sales, "rep_a", "88.00"))
    c.clock.advance(minutes=5)
    approved = gql(c, "manager", APPROVE, id=pending["id"], revision=1, ifMatch=pending["version"])[
        "data"
    ]["approveQuote"]
    approved_at = c.clock.now().isoformat()
    c.clock.advance(minutes=5)
    line = {"productId": sales.products["WID-1"]["id"], "quantity": "1", "unitPrice": "89.00"}
    revised = gql(c, "rep_a", REVISE, id=approved["id"], input={"lines": [line]})
    assert revised["data"]["reviseQuote"]["state"] == "DRAFT"

    answer = gql(c, "auditor", HISTORY, id=pending["id"])
    assert "errors" not in answer, answer
    history = answer["data"]["quoteHistory"]
    assert history["state"] == "DRAFT" and history["revision"] == 2
    first, second = history["revisions"]
    assert first["approval"] == {
        "approvedBy": c.ids["manager"],
        "byPolicy": False,
        "deepestDiscountPct": "12.00",
        "approvalLimitPct": "15",
    }
    assert first["voided"] == {"actor": c.ids["rep_a"], "reason": "revised"}
    assert first["submitted"] == {"actor": c.ids["rep_a"], "needsApproval": True}
    assert second["lines"][0]["unitPrice"] == "89.00" and second["approval"] is None
    assert [e["type"] for e in history["events"]][-2:] == ["QuoteApprovalVoided", "QuoteRevised"]

    then = gql(c, "auditor", HISTORY, id=pending["id"], asOf=approved_at)["data"]["quoteHistory"]
    assert then["state"] == "APPROVED" and then["approval"] == {"approvedBy": c.ids["manager"]}
    assert len(then["revisions"]) == 1 and then["revisions"][0]["voided"] is None


def test_the_list_is_a_connection(sales: Sales):
    for price in ("95.00", "94.00", "93.00"):
        create(sales, "rep_a", price)
        sales.company.clock.advance(minutes=1)
    query = """query($after: String) { quotes(first: 2, after: $after, sort: "-created_at") {
      edges { node { amount lines { unitPrice } } cursor } pageInfo { hasNextPage endCursor } } }"""
    page = gql(sales.company, "rep_a", query)["data"]["quotes"]
    assert [e["node"]["amount"] for e in page["edges"]] == ["93.00", "94.00"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = gql(sales.company, "rep_a", query, after=page["pageInfo"]["endCursor"])["data"]["quotes"]
    assert [e["node"]["lines"][0]["unitPrice"] for e in rest["edges"]] == ["95.00"]
    assert gql(sales.company, "rep_c", query)["data"]["quotes"]["edges"] == []
