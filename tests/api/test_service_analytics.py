"""Service analytics over REST: requests per product through assets, the service KPIs and
complaint rates, each from aggregates kept per event."""

from __future__ import annotations

from tests.sales_support import assert_problem, list_product, ok
from tests.service_support import act, define_policy, open_request, register_asset

BY_PRODUCT = "/api/v1/analytics/service-by-product"
KPIS = "/api/v1/kpis/service"
RATES = "/api/v1/kpis/service/complaint-rates"


def test_requests_are_counted_per_product_through_assets_and_per_model_otherwise(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    ours = register_asset(company, "rep_a", account["id"], product_id=product["id"])
    foreign = register_asset(
        company,
        "rep_a",
        account["id"],
        manufacturer="Other Corp",
        model="X-100",
        serial_number="F1",
    )
    open_request(company, "rep_a", account["id"], asset_id=ours["id"], kind="complaint")
    open_request(company, "rep_a", account["id"], asset_id=ours["id"], kind="fault")
    open_request(company, "rep_a", account["id"], asset_id=foreign["id"], kind="repair")
    open_request(company, "rep_a", account["id"], kind="inquiry")
    rows = ok(client.get(BY_PRODUCT, headers=company.as_("rep_a")))["data"]
    summary = {
        r["product_key"]: (r["product_id"], r["model"], r["requests"], r["by_kind"]) for r in rows
    }
    assert summary == {
        f"product:{product['id']}": (
            product["id"],
            None,
            2,
            {"inquiry": 0, "complaint": 1, "fault": 1, "repair": 0},
        ),
        "model:Other Corp/X-100": (
            None,
            "X-100",
            1,
            {"inquiry": 0, "complaint": 0, "fault": 0, "repair": 1},
        ),
        "none": (None, None, 1, {"inquiry": 1, "complaint": 0, "fault": 0, "repair": 0}),
    }
    assert ok(client.get(BY_PRODUCT, headers=company.as_("rep_c")))["data"] == []
    paged = ok(client.get(BY_PRODUCT, params={"limit": 2}, headers=company.as_("auditor")))
    rest = ok(
        client.get(
            BY_PRODUCT, params={"cursor": paged["next_cursor"]}, headers=company.as_("auditor")
        )
    )
    assert len(paged["data"]) + len(rest["data"]) == 3 and not rest["has_more"]
    next_month = ok(
        client.get(BY_PRODUCT, params={"from": "2026-02-01"}, headers=company.as_("auditor"))
    )
    assert next_month["data"] == []


def test_service_kpis_measure_response_resolution_sla_satisfaction_and_reopens(
    client, company, clock
):
    define_policy(company, first_response_within_minutes=30, resolve_within_minutes=120)
    account = company.open_account("rep_a")
    fast = open_request(company, "rep_a", account["id"], kind="complaint")["id"]
    slow = open_request(company, "rep_a", account["id"])["id"]
    for rid in (fast, slow):
        ok(act(company, "manager", rid, "assign", {"assignee_id": company.ids["agent"]}))
    clock.advance(minutes=10)
    ok(act(company, "agent", fast, "start"))
    clock.advance(minutes=50)
    ok(act(company, "agent", slow, "start"))
    ok(act(company, "agent", fast, "resolve", {"resolution": "done"}))
    ok(act(company, "rep_a", fast, "evaluate", {"satisfied": False, "score": 2}))
    ok(act(company, "agent", fast, "start"))
    ok(act(company, "agent", fast, "resolve", {"resolution": "done again"}))
    ok(act(company, "rep_a", fast, "evaluate", {"satisfied": True, "score": 4}))
    kpis = ok(client.get(KPIS, headers=company.as_("manager")))
    assert (kpis["requests_opened"], kpis["complaints"]) == (2, 1)
    assert kpis["first_response"] == {
        "count": 2,
        "avg_minutes": 35.0,
        "p50_minutes": 15.0,
        "sla_met": 1,
        "sla_breached": 1,
        "sla_attainment_pct": 50.0,
    }
    assert kpis["resolution"]["count"] == 2 and kpis["resolution"]["avg_minutes"] == 60.0
    assert kpis["satisfaction"] == {"evaluations": 2, "avg_score": 3.0, "satisfied_pct": 50.0}
    assert kpis["reopen_rate"] == 0.5
    empty = ok(client.get(KPIS, params={"from": "2026-02-01"}, headers=company.as_("manager")))
    assert empty["requests_opened"] == 0 and empty["first_response"]["avg_minutes"] is None
    assert ok(client.get(KPIS, headers=company.as_("rep_c")))["requests_opened"] == 0


def test_complaint_rate_is_complaints_per_installed_asset(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    assets = [
        register_asset(
            company, "rep_a", account["id"], product_id=product["id"], serial_number=f"S{i}"
        )
        for i in range(4)
    ]
    open_request(company, "rep_a", account["id"], asset_id=assets[0]["id"], kind="complaint")
    open_request(company, "rep_a", account["id"], asset_id=assets[1]["id"], kind="fault")
    by_product = ok(client.get(RATES, headers=company.as_("auditor")))["data"]
    assert [(r["id"], r["complaints"], r["assets"], r["complaint_rate"]) for r in by_product] == [
        (product["id"], 1, 4, 0.25)
    ]
    by_account = ok(client.get(RATES, params={"group_by": "account"}, headers=company.as_("rep_a")))
    assert by_account["data"][0]["complaint_rate"] == 0.25


def test_analytics_need_analytics_read_and_a_sane_period(client, company):
    bad = client.get(
        KPIS, params={"from": "2026-03-01", "to": "2026-02-01"}, headers=company.as_("admin")
    )
    assert_problem(bad, 422, "validation_failed")
