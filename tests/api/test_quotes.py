"""Quotes through the REST API, on both stores: pricing against the policy, approval by a
manager within its limit, void-on-revise, the customer's answer, and the auditor's view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.quote_support import WIDGET, Sales
from tests.support import Company


@pytest.fixture
def sales(company: Company) -> Sales:
    return Sales.build(company)


def types(history: dict[str, Any]) -> list[str]:
    return [entry["type"] for entry in history["data"]]


# creating and pricing


def test_a_new_quote_is_a_draft_priced_against_the_catalogue(sales: Sales):
    quote = sales.create("rep_a", sales.line("WID-1", "95.00", "2"), sales.line("GAD-1", "50"))
    assert quote["state"] == "draft" and quote["revision"] == 1 and quote["version"] == 1
    widget, gadget = quote["lines"]
    assert widget == {
        "line": 1,
        "product_id": sales.products["WID-1"]["id"],
        "sku": "WID-1",
        "name": "Widget",
        "quantity": "2.000",
        "unit_price": "95.00",
        "amount": "190.00",
        "list_price": "100.00",
        "floor_price": "90.00",
        "unit_cost": "40.00",
        "discount_pct": "5.00",
        "below_floor": False,
    }
    assert gadget["discount_pct"] == "0.00"
    assert (quote["amount"], quote["list_amount"], quote["discount_amount"]) == (
        "240.00",
        "250.00",
        "10.00",
    )
    assert (quote["cost"], quote["margin"]) == ("100.00", "140.00")
    assert quote["owner_id"] == sales.company.ids["rep_a"]
    assert quote["title"] == "Quote for Acme"
    assert quote["valid_until"] == "2026-02-04"  # 30 days from the clock's today
    assert quote["authors"] == [sales.company.ids["rep_a"]]


def test_a_revision_keeps_the_prices_of_its_moment_when_the_catalogue_changes(sales: Sales):
    quote = sales.create("rep_a", sales.line("WID-1", "95.00"))
    widget = sales.products["WID-1"]
    repriced = sales.client.post(
        f"/api/v1/products/{widget['id']}/prices",
        json={
            **{k: WIDGET[k] for k in ("unit_cost", "currency")},
            "list_price": "120.00",
            "floor_price": "110.00",
        },
        headers=sales.company.as_("admin"),
    )
    assert repriced.status_code == 200, repriced.text
    line = sales.get(quote)["lines"][0]
    assert (line["list_price"], line["floor_price"]) == ("100.00", "90.00")
    submitted = sales.do("rep_a", quote, "submit")
    assert submitted["state"] == "approved"  # against the policy the revision was priced on
    # A new revision is priced against today's catalogue: now below floor.
    revised = sales.do("rep_a", submitted, "revise", {"lines": [sales.line("WID-1", "95.00")]})
    assert revised["lines"][0]["floor_price"] == "110.00"
    assert revised["lines"][0]["below_floor"] is True
    assert revised["needs_approval"] is True


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            {
                "product_id": "00000000-0000-4000-8000-00000000dead",
                "quantity": "1",
                "unit_price": "1",
            },
            "lines[0].product_id",
        ),
        ({"quantity": "1", "unit_price": "1"}, "lines[0].product_id"),
        ({"product_id": "WID", "quantity": "0", "unit_price": "1"}, "lines[0].quantity"),
        ({"product_id": "WID", "quantity": "-2", "unit_price": "1"}, "lines[0].quantity"),
        ({"product_id": "WID", "quantity": "1.0001", "unit_price": "1"}, "lines[0].quantity"),
        ({"product_id": "WID", "quantity": "1", "unit_price": "1.001"}, "lines[0].unit_price"),
        ({"product_id": "WID", "quantity": "1", "unit_price": "-1"}, "lines[0].unit_price"),
        (
            {"product_id": "WID", "quantity": "1", "unit_price": "1", "discount": "5"},
            "lines[0].discount",
        ),
    ],
)
def test_bad_lines_are_refused_naming_the_field(sales: Sales, line: dict[str, Any], field: str):
    if line.get("product_id") == "WID":
        line = {**line, "product_id": sales.products["WID-1"]["id"]}
    response = sales.client.post(
        "/api/v1/quotes",
        json={"account_id": sales.account["id"], "currency": "EUR", "lines": [line]},
        headers=sales.company.as_("rep_a"),
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_a_product_in_another_currency_or_discontinued_is_refused(sales: Sales):
    body = {
        "account_id": sales.account["id"],
        "currency": "USD",
        "lines": [sales.line("WID-1", "95")],
    }
    response = sales.client.post("/api/v1/quotes", json=body, headers=sales.company.as_("rep_a"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines[0].product_id"
    assert "EUR" in response.json()["errors"][0]["message"]
    gadget = sales.products["GAD-1"]
    off = sales.client.post(
        f"/api/v1/products/{gadget['id']}/discontinue", headers=sales.company.as_("admin")
    )
    assert off.status_code == 200
    body = {
        "account_id": sales.account["id"],
        "currency": "EUR",
        "lines": [sales.line("WID-1", "95"), sales.line("GAD-1", "50")],
    }
    response = sales.client.post("/api/v1/quotes", json=body, headers=sales.company.as_("rep_a"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lines[1].product_id"]


def test_a_quote_needs_an_account_the_caller_sees_and_a_future_validity(sales: Sales):
    for who, body, field in [
        ("rep_c", {}, "account_id"),  # rep C does not see rep A's account
        ("rep_a", {"account_id": "00000000-0000-4000-8000-000000000000"}, "account_id"),
        ("rep_a", {"valid_until": "2026-01-04"}, "valid_until"),
        ("rep_a", {"currency": "eur"}, "currency"),
        ("rep_a", {"title": ""}, "title"),
        ("rep_a", {"lines": [sales.line("WID-1", "95")] * 201}, "lines"),
    ]:
        payload = {"account_id": sales.account["id"], "currency": "EUR", **body}
        response = sales.client.post("/api/v1/quotes", json=payload, headers=sales.company.as_(who))
        assert response.status_code == 422, (who, body, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.text


def test_an_empty_draft_cannot_be_submitted(sales: Sales):
    quote = sales.create("rep_a", lines=[])
    problem = sales.do("rep_a", quote, "submit", status=422)
    assert problem["errors"] == [{"field": "lines", "message": "a quote needs at least one line"}]


# submitting and approving


def test_within_policy_a_submitted_quote_is_approved_by_the_policy(sales: Sales):
    quote = sales.create()
    approved = sales.do("rep_a", quote, "submit")
    assert approved["state"] == "approved"
    assert approved["approval"] == {
        "revision": 1,
        "approved_by": "policy",
        "deepest_discount_pct": "5.00",
        "approval_limit_pct": None,
    }
    assert types(sales.history(quote))[-2:] == ["QuoteSubmitted", "QuoteApproved"]


def test_below_floor_waits_for_a_manager_whose_limit_covers_the_deepest_discount(sales: Sales):
    pending = sales.below_floor(price="88.00")  # 12% off list, manager's limit is 15%
    assert pending["state"] == "pending_approval"
    assert pending["approval"] is None and pending["needs_approval"] is True
    approved = sales.approve("manager", pending)
    assert approved["state"] == "approved"
    assert approved["approval"] == {
        "revision": 1,
        "approved_by": sales.company.ids["manager"],
        "deepest_discount_pct": "12.00",
        "approval_limit_pct": "15",
    }


def test_a_manager_whose_limit_is_too_low_gets_approval_limit_exceeded(sales: Sales):
    pending = sales.below_floor(price="80.00")  # 20% off list
    problem = sales.approve("manager", pending, status=403)
    assert problem["code"] == "approval_limit_exceeded"
    assert problem["deepest_discount_pct"] == "20.00"
    assert problem["approval_limit_pct"] == "15"
    assert sales.get(pending)["state"] == "pending_approval"
    # Raised by an admin, the same manager may approve it.
    raised = sales.client.patch(
        f"/api/v1/users/{sales.company.ids['manager']}",
        json={"approval_limit_pct": "20"},
        headers=sales.company.as_("admin"),
    )
    assert raised.status_code == 200, raised.text
    assert sales.approve("manager", pending)["state"] == "approved"


def test_only_managers_approve(sales: Sales):
    pending = sales.below_floor()
    assert sales.approve("rep_b", pending, status=403)["code"] == "forbidden"
    assert sales.approve("auditor", pending, status=403)["code"] == "read_only_role"
    assert sales.approve("admin", pending, status=403)["code"] == "forbidden"


def test_the_author_never_approves_its_own_quote(sales: Sales):
    # The manager writes a quote on its team's account, then tries to approve it.
    pending = sales.below_floor("manager")
    problem = sales.approve("manager", pending, status=403)
    assert problem["code"] == "self_approval"
    # Nor after a rep revised it: having written revision 1 is authorship.
    revised = sales.do("rep_a", pending, "revise", {"lines": [sales.line("WID-1", "89.00")]})
    resubmitted = sales.do("rep_a", revised, "submit")
    assert sales.approve("manager", resubmitted, status=403)["code"] == "self_approval"


def test_approve_requires_if_match_and_names_the_current_revision(sales: Sales):
    pending = sales.below_floor()
    problem = sales.do("manager", pending, "approve", {"revision": 1}, status=428)
    assert problem["code"] == "if_match_required"
    stale = sales.do(
        "manager", pending, "approve", {"revision": 1}, if_match=pending["version"] - 1, status=412
    )
    assert stale["code"] == "version_conflict"
    assert stale["current_version"] == pending["version"]
    wrong = sales.do(
        "manager", pending, "approve", {"revision": 2}, if_match=pending["version"], status=409
    )
    assert wrong["code"] == "stale_revision" and wrong["current_revision"] == 1
    assert sales.get(pending)["state"] == "pending_approval"


def test_an_approval_decided_on_a_revision_since_revised_is_refused(sales: Sales):
    pending = sales.below_floor()
    revised = sales.do("rep_a", pending, "revise", {"lines": [sales.line("WID-1", "87.00")]})
    assert revised["state"] == "draft" and revised["revision"] == 2
    # The manager reviewed the old version: 412, nothing approved.
    stale = sales.do(
        "manager", pending, "approve", {"revision": 1}, if_match=pending["version"], status=412
    )
    assert stale["current_version"] == revised["version"]


def test_a_manager_rejects_a_pending_quote_and_the_author_may_revise_it(sales: Sales):
    pending = sales.below_floor()
    assert (
        sales.do("manager", pending, "reject", {"revision": 1, "reason": "too cheap"}, status=428)[
            "code"
        ]
        == "if_match_required"
    )
    rejected = sales.do(
        "manager",
        pending,
        "reject",
        {"revision": 1, "reason": "too cheap"},
        if_match=pending["version"],
    )
    assert rejected["state"] == "rejected" and rejected["closed_reason"] == "too cheap"
    assert types(sales.history(pending))[-1] == "QuoteApprovalRejected"
    revised = sales.do("rep_a", rejected, "revise", {"lines": [sales.line("WID-1", "90.00")]})
    assert (revised["state"], revised["revision"], revised["closed_reason"]) == ("draft", 2, None)
    assert sales.do("rep_a", revised, "submit")["approval"]["approved_by"] == "policy"


def test_a_rep_cannot_decide_on_a_pending_quote(sales: Sales):
    pending = sales.below_floor()
    problem = sales.do(
        "rep_a",
        pending,
        "reject",
        {"revision": 1, "reason": "no"},
        if_match=pending["version"],
        status=403,
    )
    assert problem["code"] == "forbidden"


# revising voids the approval


def test_revising_an_approved_quote_voids_the_approval_and_returns_it_to_draft(sales: Sales):
    approved = sales.approve("manager", sales.below_floor())
    revised = sales.do("rep_a", approved, "revise", {"terms": "Net 30", "reason": "terms"})
    assert (revised["state"], revised["revision"]) == ("draft", 2)
    assert revised["approval"] is None and revised["voided_approvals"] == 1
    assert types(sales.history(approved))[-2:] == ["QuoteApprovalVoided", "QuoteRevised"]
    sent = sales.do("rep_a", revised, "send", status=409)
    assert sent["code"] == "invalid_state" and sent["state"] == "draft"


def test_revising_a_sent_quote_voids_its_approval_too(sales: Sales):
    approved = sales.do("rep_a", sales.create(), "submit")
    sent = sales.do("rep_a", approved, "send")
    revised = sales.do("rep_a", sent, "revise", {"lines": [sales.line("WID-1", "91.00")]})
    assert (revised["state"], revised["approval"]) == ("draft", None)
    last = sales.history(sent)["data"][-2]
    assert last["type"] == "QuoteApprovalVoided"
    assert last["data"] == {"revision": 1, "approved_by": "policy", "reason": "revised"}


def test_a_revision_that_changes_nothing_records_nothing(sales: Sales):
    approved = sales.do("rep_a", sales.create(), "submit")
    same = sales.do("rep_a", approved, "revise", {"lines": [sales.line("WID-1", "95.00", "2")]})
    assert (same["version"], same["state"], same["revision"]) == (
        approved["version"],
        "approved",
        1,
    )


def test_revise_refuses_null_for_required_parts(sales: Sales):
    quote = sales.create()
    problem = sales.do("rep_a", quote, "revise", {"lines": None}, status=422)
    assert problem["errors"][0]["field"] == "lines"


# the customer's answer, expiry, withdrawal


def test_send_then_accept(sales: Sales):
    approved = sales.do("rep_a", sales.create(), "submit")
    sent = sales.do("rep_a", approved, "send")
    assert sent["state"] == "sent"
    accepted = sales.do("rep_a", sent, "accept", {"note": "PO 4711"})
    assert accepted["state"] == "accepted"
    entry = sales.history(sent)["data"][-1]
    assert (entry["type"], entry["data"]) == ("QuoteAccepted", {"revision": 1, "note": "PO 4711"})
    again = sales.do("rep_a", accepted, "accept", status=409)
    assert again == {**again, "code": "invalid_state", "state": "accepted"}


def test_the_customer_rejects_a_sent_quote(sales: Sales):
    sent = sales.do("rep_a", sales.do("rep_a", sales.create(), "submit"), "send")
    rejected = sales.do(
        "rep_a",
        sent,
        "reject",
        {"revision": 1, "reason": "went elsewhere"},
        if_match=sent["version"],
    )
    assert rejected["state"] == "rejected"
    assert types(sales.history(sent))[-1] == "QuoteRejectedByCustomer"


def test_expiry_follows_valid_until(sales: Sales):
    approved = sales.do("rep_a", sales.create(valid_until="2026-01-10"), "submit")
    early = sales.do("rep_a", approved, "expire", status=409)
    assert early["code"] == "not_yet_expired" and early["valid_until"] == "2026-01-10"
    sales.company.clock.advance(days=6)  # 2026-01-11: past valid_until
    late = sales.do("rep_a", approved, "send", status=409)
    assert late["code"] == "quote_expired"
    expired = sales.do("rep_a", approved, "expire")
    assert expired["state"] == "expired"
    assert (
        sales.do("rep_a", expired, "revise", {"title": "again"}, status=409)["state"] == "expired"
    )


def test_withdraw_from_any_open_state_but_not_twice(sales: Sales):
    withdrawn = sales.do("rep_a", sales.below_floor(), "withdraw", {"reason": "duplicate"})
    assert (withdrawn["state"], withdrawn["closed_reason"]) == ("withdrawn", "duplicate")
    again = sales.do("rep_a", withdrawn, "withdraw", status=409)
    assert (again["code"], again["state"]) == ("invalid_state", "withdrawn")


# who sees and writes


def test_quotes_follow_the_accounts_visibility(sales: Sales):
    quote = sales.create()
    url = f"/api/v1/quotes/{quote['id']}"
    c = sales.company
    assert sales.client.get(url, headers=c.as_("rep_c")).status_code == 404
    assert sales.client.get(url, headers=c.as_("rep_b")).status_code == 404
    assert sales.client.get(url, headers=c.as_("manager")).status_code == 200
    assert sales.client.get(url, headers=c.as_("auditor")).status_code == 200
    assert sales.client.post(f"{url}/submit", headers=c.as_("rep_c")).status_code == 404
    refused = sales.client.post(f"{url}/submit", headers=c.as_("auditor"))
    assert refused.status_code == 403 and refused.json()["code"] == "read_only_role"
    assert sales.client.post(f"{url}/submit", headers=c.as_("assistant")).json()["code"] == (
        "on_behalf_of_required"
    )
    assert (
        sales.client.post(f"{url}/submit", headers=c.as_("assistant", "rep_a")).status_code == 200
    )


def test_the_list_filters_by_visibility_state_and_account_and_follows_ownership(sales: Sales):
    c = sales.company
    first = sales.create(title="First")
    c.clock.advance(minutes=1)
    second = sales.do("rep_a", sales.create(title="Second"), "submit")
    listed = sales.client.get("/api/v1/quotes", headers=c.as_("rep_a")).json()
    assert [q["title"] for q in listed["data"]] == ["Second", "First"]
    assert listed["data"][0]["approved_by"] == "policy"
    assert listed["data"][0]["lines"][0]["sku"] == "WID-1"
    approved = sales.client.get(
        "/api/v1/quotes", params={"state": "approved"}, headers=c.as_("rep_a")
    ).json()
    assert [q["id"] for q in approved["data"]] == [second["id"]]
    assert sales.client.get("/api/v1/quotes", headers=c.as_("rep_b")).json()["data"] == []
    moved = sales.client.post(
        f"/api/v1/accounts/{sales.account['id']}/transfer",
        json={"to_owner_id": c.ids["rep_b"]},
        headers=c.as_("manager"),
    )
    assert moved.status_code == 200, moved.text
    seen = sales.client.get("/api/v1/quotes", headers=c.as_("rep_b")).json()["data"]
    assert {q["id"] for q in seen} == {first["id"], second["id"]}
    assert sales.client.get("/api/v1/quotes", headers=c.as_("rep_a")).json()["data"] == []


def test_commands_are_idempotent(sales: Sales):
    pending = sales.below_floor()
    headers = {
        **sales.company.as_("manager"),
        "If-Match": f'"{pending["version"]}"',
        "Idempotency-Key": "approve-1",
    }
    url = f"/api/v1/quotes/{pending['id']}/approve"
    first = sales.client.post(url, json={"revision": 1}, headers=headers)
    again = sales.client.post(url, json={"revision": 1}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert types(sales.history(pending)).count("QuoteApproved") == 1


# the auditor's view


def test_the_auditor_sees_every_revision_its_pricing_and_every_decision(sales: Sales):
    c = sales.company
    pending = sales.below_floor(price="88.00")
    c.clock.advance(hours=1)
    approved = sales.approve("manager", pending)
    approved_at = c.clock.now()
    c.clock.advance(hours=1)
    revised = sales.do(
        "rep_a",
        approved,
        "revise",
        {"lines": [sales.line("WID-1", "80.00")], "reason": "customer pushed"},
    )
    c.clock.advance(hours=1)
    resubmitted = sales.do("rep_a", revised, "submit")
    problem = sales.approve("manager", resubmitted, status=403)
    assert problem["code"] == "approval_limit_exceeded"

    history = sales.history(pending)
    assert history["state"] == "pending_approval" and history["revision"] == 2
    first, second = history["revisions"]
    assert first["lines"][0]["unit_price"] == "88.00"
    assert (first["lines"][0]["list_price"], first["lines"][0]["floor_price"]) == (
        "100.00",
        "90.00",
    )
    assert first["lines"][0]["below_floor"] is True
    assert first["written"]["actor"] == c.ids["rep_a"]
    assert first["submitted"]["actor"] == c.ids["rep_a"]
    assert first["approval"]["approved_by"] == c.ids["manager"]
    assert first["approval"]["deepest_discount_pct"] == "12.00"
    assert first["approval"]["approval_limit_pct"] == "15"
    assert first["voided"]["reason"] == "revised"
    assert first["voided"]["actor"] == c.ids["rep_a"]
    assert first["totals"]["amount"] == "88.00"
    assert second["reason"] == "customer pushed"
    assert second["lines_below_floor"] == [1]
    assert second["approval"] is None and second["submitted"]["needs_approval"] is True
    assert types(history) == [
        "QuoteCreated",
        "QuoteSubmitted",
        "QuoteApproved",
        "QuoteApprovalVoided",
        "QuoteRevised",
        "QuoteSubmitted",
    ]

    # As of the moment of approval: exactly what was approved, nothing later.
    then = sales.history(pending, as_of=approved_at.isoformat())
    assert then["state"] == "approved" and then["revision"] == 1
    assert then["approval"]["approved_by"] == c.ids["manager"]
    assert len(then["revisions"]) == 1 and then["revisions"][0]["voided"] is None
    assert types(then)[-1] == "QuoteApproved"
    quote_then = sales.get(pending, who="auditor", as_of=approved_at.isoformat())
    assert quote_then["state"] == "approved" and quote_then["lines"][0]["unit_price"] == "88.00"
    assert quote_then["approval"]["approved_by"] == c.ids["manager"]


def test_history_pages_its_events(sales: Sales):
    quote = sales.create()
    for price in ("94.00", "93.00", "92.00"):
        quote = sales.do("rep_a", quote, "revise", {"lines": [sales.line("WID-1", price)]})
    page = sales.history(quote, limit=2)
    assert [e["version"] for e in page["data"]] == [1, 2] and page["has_more"] is True
    rest = sales.history(quote, limit=10, cursor=page["next_cursor"])
    assert [e["version"] for e in rest["data"]] == [3, 4] and rest["has_more"] is False
    assert len(rest["revisions"]) == 4
    bad = sales.client.get(
        f"/api/v1/quotes/{quote['id']}/history",
        params={"cursor": "x"},
        headers=sales.company.as_("auditor"),
    )
    assert bad.status_code == 400


def test_history_before_the_quote_existed_is_not_found(sales: Sales):
    quote = sales.create()
    before = (sales.company.clock.now() - timedelta(days=1)).isoformat()
    response = sales.client.get(
        f"/api/v1/quotes/{quote['id']}/history",
        params={"as_of": before},
        headers=sales.company.as_("auditor"),
    )
    assert response.status_code == 404


def test_a_quote_at_a_version_and_naive_times_are_utc(sales: Sales):
    quote = sales.create()
    created_at = sales.company.clock.now()
    sales.company.clock.advance(minutes=1)
    approved = sales.do("rep_a", quote, "submit")
    first = sales.get(approved, version=1)
    assert (first["state"], first["version"]) == ("draft", 1)
    naive = created_at.replace(tzinfo=None).isoformat()
    assert sales.get(approved, as_of=naive)["state"] == "draft"
    both = sales.client.get(
        f"/api/v1/quotes/{quote['id']}",
        params={"version": 1, "as_of": naive},
        headers=sales.company.as_("rep_a"),
    )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "as_of"
    beyond = sales.client.get(
        f"/api/v1/quotes/{quote['id']}", params={"version": 99}, headers=sales.company.as_("rep_a")
    )
    assert beyond.status_code == 404


def test_open_quotes_past_valid_until_are_expired_by_the_system(sales: Sales, services):
    c = sales.company
    approved = sales.do("rep_a", sales.create(valid_until="2026-01-10"), "submit")
    sent = sales.do(
        "rep_a", sales.do("rep_a", sales.create(valid_until="2026-01-20"), "submit"), "send"
    )
    accepted = sales.do(
        "rep_a",
        sales.do(
            "rep_a", sales.do("rep_a", sales.create(valid_until="2026-01-10"), "submit"), "send"
        ),
        "accept",
    )
    assert services.expire_due_quotes() == 0
    c.clock.advance(days=6)  # 2026-01-11
    assert services.expire_due_quotes() == 1
    assert services.expire_due_quotes() == 0  # nothing twice
    assert sales.get(approved)["state"] == "expired"
    assert sales.get(sent)["state"] == "sent"
    assert sales.get(accepted)["state"] == "accepted"
    entry = sales.history(approved)["data"][-1]
    assert (entry["type"], entry["actor"], entry["actor_type"]) == (
        "QuoteExpired",
        "system",
        "system",
    )


@pytest.mark.parametrize("sort", ["amount", "-amount", "valid_until", "-valid_until"])
def test_every_page_of_a_list_sorted_by_money_or_date(sales: Sales, sort: str):
    made = []
    for i, price in enumerate(("91.00", "92.00", "93.00", "94.00", "95.00")):
        made.append(
            sales.create(lines=[sales.line("WID-1", price)], valid_until=f"2026-02-0{i + 1}")
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "sort": sort, **({"cursor": cursor} if cursor else {})}
        page = sales.client.get("/api/v1/quotes", params=params, headers=sales.company.as_("rep_a"))
        assert page.status_code == 200, page.text
        seen += [q["id"] for q in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    expected = [q["id"] for q in made]
    assert seen == (expected if not sort.startswith("-") else expected[::-1])
