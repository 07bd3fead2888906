"""The funnel and forecast vs actual, exact for a known set of opportunities moved through
their stages as the (frozen) clock advances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm_api.projections.forecasts import forecast_vs_actual as fva_rows
from crm_api.projections.opportunities import funnel_opportunities
from tests.sales_support import (
    FUNNEL,
    FVA,
    assert_problem,
    command,
    fields,
    list_product,
    ok,
    open_opportunity,
    put_forecast,
)
from tests.support import Company


def stage(company: Company, who: str, opportunity: dict[str, Any], to: str) -> None:
    ok(command(company, who, opportunity["id"], "stage", {"stage": to}))


def scenario(company: Company) -> dict[str, Any]:
    """From 2026-01-05 09:00 (rep_a: o1 o2 o3 EUR, o5 USD; rep_b: o4; rep_c: o7 entered late in
    December; rep_a: o6 in February)."""
    clock = company.clock
    a = company.open_account("rep_a", "A")
    b = company.open_account("rep_b", "B")
    c = company.open_account("rep_c", "C")
    product = list_product(company)
    o = {
        "product": product,
        "o1": open_opportunity(company, "rep_a", a["id"], amount="1000", product_id=product["id"]),
        "o2": open_opportunity(company, "rep_a", a["id"], amount="500"),
        "o3": open_opportunity(company, "rep_a", a["id"], amount="200"),
        "o4": open_opportunity(company, "rep_b", b["id"], amount="2000"),
        "o5": open_opportunity(company, "rep_a", a["id"], amount="300", currency="USD"),
        "o7": open_opportunity(
            company, "rep_c", c["id"], amount="100", occurred_at="2025-12-20T09:00:00Z"
        ),
    }
    ok(command(company, "rep_c", o["o7"]["id"], "win", {"occurred_at": "2025-12-30T09:00:00Z"}))
    clock.advance(days=1)  # Jan 6
    stage(company, "rep_a", o["o1"], "qualification")
    stage(company, "rep_a", o["o2"], "qualification")
    clock.advance(days=1)  # Jan 7
    stage(company, "rep_a", o["o1"], "proposal")
    clock.advance(days=1)  # Jan 8
    ok(command(company, "rep_a", o["o1"]["id"], "win"))
    ok(command(company, "rep_a", o["o2"]["id"], "lose", {"reason": "price"}))
    ok(command(company, "rep_a", o["o5"]["id"], "win"))
    clock.advance(days=3, hours=12)  # Jan 11 21:00
    ok(command(company, "rep_b", o["o4"]["id"], "win"))
    clock.advance(days=22)  # Feb 2 21:00
    o["o6"] = open_opportunity(company, "rep_a", a["id"], amount="700")
    stage(company, "rep_a", o["o6"], "negotiation")
    return o


def row(
    group: str,
    currency: str,
    counts: list[int],
    amounts: list[str],
    conversion: list[float | None],
    win_rate: float | None,
    cycle: float | None,
    owner_id: str | None = None,
    month: str | None = None,
) -> dict[str, Any]:
    stages = ["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
    steps = [
        "prospecting_to_qualification",
        "qualification_to_proposal",
        "proposal_to_negotiation",
        "negotiation_to_won",
    ]
    return {
        "group": group,
        "owner_id": owner_id,
        "month": month,
        "currency": currency,
        "counts": dict(zip(stages, counts, strict=True)),
        "amounts": dict(zip(stages, amounts, strict=True)),
        "conversion": dict(zip(steps, conversion, strict=True)),
        "win_rate": win_rate,
        "avg_cycle_days": cycle,
    }


JANUARY_EUR = (
    [4, 3, 2, 2, 2, 1],
    ["3700.00", "3500.00", "3000.00", "3000.00", "3000.00", "500.00"],
    [0.75, 0.6667, 1.0, 1.0],
    0.6667,
    4.75,
)
USD = ([1, 1, 1, 1, 1, 0], ["300.00"] * 5 + ["0.00"], [1.0, 1.0, 1.0, 1.0], 1.0, 3.0)


def funnel(company: Company, who: str, **params: Any) -> dict[str, Any]:
    return ok(company.client.get(FUNNEL, params=params, headers=company.as_(who)))


def test_the_funnel_of_a_january_cohort(company):
    scenario(company)
    answer = funnel(company, "admin", **{"from": "2026-01-01", "to": "2026-02-01"})
    assert answer == {
        "data": [row("total", "EUR", *JANUARY_EUR), row("total", "USD", *USD)],
        "next_cursor": None,
        "has_more": False,
    }


def test_the_funnel_by_month_pages_through_every_cohort(company):
    scenario(company)
    first = funnel(company, "auditor", group_by="month", limit=2)
    assert first["has_more"] is True
    rest = funnel(company, "auditor", group_by="month", limit=2, cursor=first["next_cursor"])
    assert rest["has_more"] is False and rest["next_cursor"] is None
    assert first["data"] + rest["data"] == [
        row(
            "2025-12",
            "EUR",
            [1, 1, 1, 1, 1, 0],
            ["100.00"] * 5 + ["0.00"],
            [1.0, 1.0, 1.0, 1.0],
            1.0,
            10.0,
            month="2025-12",
        ),
        row("2026-01", "EUR", *JANUARY_EUR, month="2026-01"),
        row("2026-01", "USD", *USD, month="2026-01"),
        row(
            "2026-02",
            "EUR",
            [1, 1, 1, 1, 0, 0],
            ["700.00"] * 4 + ["0.00", "0.00"],
            [1.0, 1.0, 1.0, 0.0],
            None,
            None,
            month="2026-02",
        ),
    ]


def test_the_funnel_by_rep_shows_each_caller_only_the_numbers_it_may_see(company):
    scenario(company)
    january = {"from": "2026-01-01", "to": "2026-02-01", "group_by": "rep"}
    rep_a, rep_b = company.ids["rep_a"], company.ids["rep_b"]
    a_eur = row(
        rep_a,
        "EUR",
        [3, 2, 1, 1, 1, 1],
        ["1700.00", "1500.00", "1000.00", "1000.00", "1000.00", "500.00"],
        [0.6667, 0.5, 1.0, 1.0],
        0.5,
        3.0,
        owner_id=rep_a,
    )
    a_usd = row(rep_a, "USD", *USD, owner_id=rep_a)
    b_eur = row(
        rep_b,
        "EUR",
        [1, 1, 1, 1, 1, 0],
        ["2000.00"] * 5 + ["0.00"],
        [1.0, 1.0, 1.0, 1.0],
        1.0,
        6.5,
        owner_id=rep_b,
    )
    team = sorted([a_eur, a_usd, b_eur], key=lambda r: (r["group"], r["currency"]))
    assert funnel(company, "manager", **january)["data"] == team
    assert funnel(company, "rep_a", **january)["data"] == [a_eur, a_usd]
    assert funnel(company, "rep_a", **january, owner_id=rep_b)["data"] == []
    assert funnel(company, "manager", **january, owner_id=rep_b)["data"] == [b_eur]
    assert funnel(company, "rep_c", **january)["data"] == []
    assert funnel(company, "assistant", **january)["data"] == [a_eur, a_usd]


def test_reopening_takes_an_opportunity_out_of_the_lost_count(company, services):
    o = scenario(company)
    ok(command(company, "rep_a", o["o2"]["id"], "reopen", {"stage": "proposal"}))
    answer = funnel(company, "rep_a", **{"from": "2026-01-01", "to": "2026-02-01"})
    eur = answer["data"][0]
    assert eur["counts"] == {
        "prospecting": 3,
        "qualification": 2,
        "proposal": 2,
        "negotiation": 1,
        "won": 1,
        "lost": 0,
    }
    assert eur["win_rate"] == 1.0
    with services.read() as conn:
        kept = conn.execute(
            select(funnel_opportunities).where(funnel_opportunities.c.id == o["o2"]["id"])
        ).one()
    assert kept.lost_at is None and kept.stage == "proposal"
    assert kept.qualification_at == datetime(2026, 1, 6, 9, tzinfo=UTC)
    assert kept.created_at == datetime(2026, 1, 5, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"from": "January"}, "from"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"owner_id": "nobody"}, "owner_id"),
    ],
)
def test_bad_funnel_parameters_are_422_naming_the_field(company, params, field):
    refused = company.client.get(FUNNEL, params=params, headers=company.as_("admin"))
    assert fields(assert_problem(refused, 422, "validation_failed")) == [field]


def test_analytics_need_a_token(client):
    assert client.get(FUNNEL).status_code == 401
    assert client.get(FVA).status_code == 401


# forecast vs actual


def fva(company: Company, who: str, **params: Any) -> list[dict[str, Any]]:
    answer = ok(company.client.get(FVA, params=params, headers=company.as_(who)))
    assert answer["has_more"] is False
    rows: list[dict[str, Any]] = answer["data"]
    return sorted(rows, key=lambda r: (r["owner_id"], r["product_id"] or "", r["currency"]))


def line(owner, period, currency, forecast, won, count, pct, product_id=None):
    return {
        "owner_id": owner,
        "period": period,
        "product_id": product_id,
        "currency": currency,
        "forecast_amount": forecast,
        "won_amount": won,
        "won_count": count,
        "attainment_pct": pct,
        # No orders in these scenarios (tests/api/test_orders.py counts them).
        "ordered_amount": "0.00",
        "order_count": 0,
        "order_attainment_pct": None if pct is None else 0.0,
    }


def test_forecast_vs_actual_by_month_quarter_and_product(company, services):
    o = scenario(company)
    rep_a, rep_b, rep_c = (company.ids[k] for k in ("rep_a", "rep_b", "rep_c"))
    product_id = o["product"]["id"]
    ok(
        put_forecast(
            company,
            "rep_a",
            "rep_a",
            "2026-01",
            [{"product_id": product_id, "amount": "800"}, {"product_id": None, "amount": "400"}],
        ),
        201,
    )
    ok(put_forecast(company, "rep_a", "rep_a", "2026-Q1", [{"amount": "5000"}]), 201)

    def by(owner: str) -> str:
        return owner

    january = sorted(
        [
            line(rep_a, "2026-01", "EUR", "1200.00", "1000.00", 1, 83.33),
            line(rep_a, "2026-01", "USD", "0.00", "300.00", 1, None),
            line(rep_b, "2026-01", "EUR", "0.00", "2000.00", 1, None),
        ],
        key=lambda r: (by(r["owner_id"]), r["currency"]),
    )
    assert fva(company, "admin", period="2026-01") == january
    assert fva(company, "admin", period="2026-Q1", owner_id=rep_a) == [
        line(rep_a, "2026-Q1", "EUR", "5000.00", "1000.00", 1, 20.0),
        line(rep_a, "2026-Q1", "USD", "0.00", "300.00", 1, None),
    ]
    assert fva(company, "rep_a", period="2026-01", group_by="product") == [
        line(rep_a, "2026-01", "EUR", "400.00", "0.00", 0, 0.0),
        line(rep_a, "2026-01", "USD", "0.00", "300.00", 1, None),
        line(rep_a, "2026-01", "EUR", "800.00", "1000.00", 1, 125.0, product_id),
    ]
    # entered late: won in December counts in December and in Q4 of 2025
    assert fva(company, "rep_c") == [
        line(rep_c, "2025-12", "EUR", "0.00", "100.00", 1, None),
        line(rep_c, "2025-Q4", "EUR", "0.00", "100.00", 1, None),
    ]
    assert fva(company, "rep_b", period="2026-01", owner_id=rep_a) == []


def test_a_revision_replaces_the_forecast_and_keeps_the_actuals(company, services):
    o = scenario(company)
    rep_a = company.ids["rep_a"]
    product_id = o["product"]["id"]
    ok(
        put_forecast(
            company,
            "rep_a",
            "rep_a",
            "2026-01",
            [{"product_id": product_id, "amount": "800"}, {"product_id": None, "amount": "400"}],
        ),
        201,
    )
    ok(put_forecast(company, "rep_a", "rep_a", "2026-01", [{"amount": "2000"}]))
    assert fva(company, "rep_a", period="2026-01", group_by="product") == [
        line(rep_a, "2026-01", "EUR", "2000.00", "0.00", 0, 0.0),
        line(rep_a, "2026-01", "USD", "0.00", "300.00", 1, None),
        line(rep_a, "2026-01", "EUR", "0.00", "1000.00", 1, None, product_id),
    ]
    assert fva(company, "rep_a", period="2026-01")[0] == line(
        rep_a, "2026-01", "EUR", "2000.00", "1000.00", 1, 50.0
    )
    ok(put_forecast(company, "rep_a", "rep_a", "2026-02", [{"amount": "10"}]), 201)
    ok(put_forecast(company, "rep_a", "rep_a", "2026-02", [{"amount": "10"}], currency="GBP"))
    assert fva(company, "rep_a", period="2026-02") == [
        line(rep_a, "2026-02", "GBP", "10.00", "0.00", 0, 0.0)
    ]
    with services.read() as conn:
        stored = conn.execute(
            select(fva_rows.c.currency, fva_rows.c.product_key).where(
                fva_rows.c.period == "2026-02"
            )
        ).all()
    assert sorted(stored) == [("GBP", "*"), ("GBP", "-")]


def test_forecast_vs_actual_pages(company):
    scenario(company)
    first = ok(company.client.get(FVA, params={"limit": 2}, headers=company.as_("admin")))
    assert len(first["data"]) == 2 and first["has_more"] is True
    rest = ok(
        company.client.get(
            FVA, params={"limit": 200, "cursor": first["next_cursor"]}, headers=company.as_("admin")
        )
    )
    everything = ok(company.client.get(FVA, params={"limit": 200}, headers=company.as_("admin")))
    assert first["data"] + rest["data"] == everything["data"]
    assert [r["period"] for r in everything["data"]] == sorted(
        r["period"] for r in everything["data"]
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [({"period": "2026-13"}, "period"), ({"group_by": "rep"}, "group_by"), ({"sort": "x"}, "sort")],
)
def test_bad_forecast_vs_actual_parameters_are_422(company, params, field):
    refused = company.client.get(FVA, params=params, headers=company.as_("admin"))
    assert fields(assert_problem(refused, 422, "validation_failed")) == [field]


@pytest.mark.parametrize("path", [FUNNEL, FVA])
@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoieCJ9", "e30"])
def test_a_bad_analytics_cursor_is_a_400(company, path, cursor):
    refused = company.client.get(path, params={"cursor": cursor}, headers=company.as_("admin"))
    assert_problem(refused, 400, "invalid_cursor")
