"""Customer value, top customers, Pareto, grades and margins on a small book of orders whose
figures are worked out by hand below; and the read model rebuilt from the log equals the live one.

The book (ordered at 12:00 UTC; "now" is 2026-01-05 09:00 UTC):
  Acme  (rep_a, manual A)  o1 2025-12-01 WIDGET 10 × 100.00 cost 60.00  → 1000.00, margin 400.00
                           o2 2026-01-02 GADGET  2 × 250.00 no cost, revised to 3 → 750.00, margin 0
  Beta  (rep_a, manual C)  o3 2025-06-10 WIDGET  5 × 100.00 cost 60.00  →  500.00, margin 200.00
                           o4 2025-12-20 WIDGET  1 ×  80.00 cost 60.00  → cancelled
  Gamma (rep_b, manual A)  o5 2026-01-04 GADGET  4 ×  50.00 cost 20.00  →  200.00, margin 120.00
  Delta (rep_c, no grade)  no orders
Total revenue 2450.00. Grading (window 365 days; thresholds below): Acme R4+F3+M4 = 11 → A,
Beta R1+F2+M3 = 6 → C, Gamma R4+F2+M2 = 8 → B, Delta (no order) → D.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from crm_api.application.services import Services
from crm_api.domain.grading import GradingRule
from crm_api.projections.alerts import AlertsProjection
from crm_api.projections.insights import InsightsProjection, cv_accounts
from crm_api.settings import Settings
from tests.insights_support import GADGET, WIDGET, cancel, get, order, revise
from tests.sales_support import assert_problem, ok
from tests.support import Company


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(
        database_url=store_url,
        jwt_secret="test-secret-" + "x" * 32,
        grade_frequency="3,2,1",
        grade_monetary="1500,500,100",
    )


def noon(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=UTC)


@pytest.fixture
def book(company: Company, services: Services) -> dict[str, str]:
    acme = company.open_account("rep_a", "Acme", manual_grade="A")["id"]
    beta = company.open_account("rep_a", "Beta", manual_grade="C")["id"]
    gamma = company.open_account("rep_b", "Gamma", manual_grade="A")["id"]
    delta = company.open_account("rep_c", "Delta")["id"]
    order(services, acme, noon(2025, 12, 1), (WIDGET, "10", "100.00", "60.00"))
    o2 = order(services, acme, noon(2026, 1, 2), (GADGET, "2", "250.00", None))
    order(services, beta, noon(2025, 6, 10), (WIDGET, "5", "100.00", "60.00"))
    o4 = order(services, beta, noon(2025, 12, 20), (WIDGET, "1", "80.00", "60.00"))
    order(services, gamma, noon(2026, 1, 4), (GADGET, "4", "50.00", "20.00"))
    revise(services, o2, (GADGET, "3", "250.00", None))
    cancel(services, o4)
    return {"acme": acme, "beta": beta, "gamma": gamma, "delta": delta}


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


def test_customer_value_per_account(company: Company, book: dict[str, str]) -> None:
    page = get(company, "admin", "customer-value")
    assert names(page["data"]) == ["Acme", "Beta", "Gamma", "Delta"]
    acme, beta, gamma, delta = page["data"]
    assert acme == {
        "account_id": book["acme"],
        "name": "Acme",
        "owner_id": company.ids["rep_a"],
        "revenue": "1750.00",
        "margin": "400.00",
        "order_count": 2,
        "first_order_at": "2025-12-01T12:00:00Z",
        "last_order_at": "2026-01-02T12:00:00Z",
        "recency_days": 3,
        "frequency": 2,
        "monetary": "1750.00",
        "auto_grade": "A",
        "manual_grade": "A",
        "contribution_pct": 71.43,
    }
    assert (beta["revenue"], beta["margin"], beta["order_count"]) == ("500.00", "200.00", 1)
    assert (beta["recency_days"], beta["auto_grade"], beta["contribution_pct"]) == (209, "C", 20.41)
    assert (gamma["revenue"], gamma["margin"], gamma["recency_days"]) == ("200.00", "120.00", 1)
    assert (gamma["auto_grade"], gamma["contribution_pct"]) == ("B", 8.16)
    assert (delta["revenue"], delta["order_count"], delta["last_order_at"]) == ("0.00", 0, None)
    assert (delta["auto_grade"], delta["recency_days"], delta["contribution_pct"]) == (
        "D",
        None,
        0.0,
    )


def test_customer_value_sorts_pages_and_periods(company: Company, book: dict[str, str]) -> None:
    first = get(company, "admin", "customer-value", limit=2, sort="-margin")
    assert names(first["data"]) == ["Acme", "Beta"]
    rest = get(
        company, "admin", "customer-value", limit=2, sort="-margin", cursor=first["next_cursor"]
    )
    assert names(rest["data"]) == ["Gamma", "Delta"]
    assert rest["has_more"] is False
    recent = get(company, "admin", "customer-value", sort="recency")
    assert names(recent["data"]) == ["Gamma", "Acme", "Beta", "Delta"]

    december = get(company, "admin", "customer-value", **{"from": "2025-12-01", "to": "2026-01-01"})
    [acme] = december["data"]
    assert (acme["name"], acme["revenue"], acme["margin"], acme["order_count"]) == (
        "Acme",
        "1000.00",
        "400.00",
        1,
    )
    assert acme["first_order_at"] == acme["last_order_at"] == "2025-12-01T00:00:00Z"
    assert acme["contribution_pct"] == 100.0
    as_of = get(company, "admin", "customer-value", as_of="2026-01-12T09:00:00Z", limit=1)
    assert as_of["data"][0]["recency_days"] == 10

    mine = get(company, "rep_a", "customer-value")
    assert names(mine["data"]) == ["Acme", "Beta"]
    top = ok(
        company.client.get("/api/v1/analytics/top-customers?limit=2", headers=company.as_("admin"))
    )
    assert names(top) == ["Acme", "Beta"]
    bad = company.client.get(
        "/api/v1/analytics/customer-value?sort=name", headers=company.as_("admin")
    )
    assert_problem(bad, 422, "validation_failed")
    backwards = company.client.get(
        "/api/v1/analytics/customer-value?from=2026-01-01&to=2025-01-01",
        headers=company.as_("admin"),
    )
    assert assert_problem(backwards, 422, "validation_failed")["errors"][0]["field"] == "to"


def test_pareto_is_the_smallest_set_making_80_percent(
    company: Company, book: dict[str, str]
) -> None:
    first = get(company, "admin", "pareto", limit=1)
    assert first["total_revenue"] == "2450.00"
    assert [
        (r["rank"], r["name"], r["revenue"], r["share_pct"], r["cumulative_pct"])
        for r in first["data"]
    ] == [(1, "Acme", "1750.00", 71.43, 71.43)]
    second = get(company, "admin", "pareto", limit=1, cursor=first["next_cursor"])
    assert [(r["rank"], r["name"], r["cumulative_pct"]) for r in second["data"]] == [
        (2, "Beta", 91.84)
    ]
    assert second["has_more"] is False
    whole = get(company, "admin", "pareto")
    assert names(whole["data"]) == ["Acme", "Beta"]
    mine = get(company, "rep_a", "pareto")
    assert mine["total_revenue"] == "2250.00"
    assert [r["cumulative_pct"] for r in mine["data"]] == [77.78, 100.0]
    january = get(company, "admin", "pareto", **{"from": "2026-01-01"})
    assert january["total_revenue"] == "950.00"
    assert [(r["name"], r["cumulative_pct"]) for r in january["data"]] == [
        ("Acme", 78.95),
        ("Gamma", 100.0),
    ]


def test_grades_compare_manual_and_automatic(company: Company, book: dict[str, str]) -> None:
    grades = get(company, "admin", "grades")
    assert grades["matrix"] == [
        {"manual_grade": "A", "A": 1, "B": 1, "C": 0, "D": 0},
        {"manual_grade": "B", "A": 0, "B": 0, "C": 0, "D": 0},
        {"manual_grade": "C", "A": 0, "B": 0, "C": 1, "D": 0},
        {"manual_grade": "D", "A": 0, "B": 0, "C": 0, "D": 0},
    ]
    assert grades["without_manual_grade"] == {"A": 0, "B": 0, "C": 0, "D": 1}
    assert (grades["graded_accounts"], grades["agreeing"], grades["agreement_pct"]) == (3, 2, 66.67)
    [gamma] = grades["disagreements"]["data"]
    assert (gamma["name"], gamma["manual_grade"], gamma["auto_grade"]) == ("Gamma", "A", "B")
    later = get(company, "admin", "grades", as_of="2026-07-01T00:00:00Z")
    # Half a year on: Acme R2 (180 days) + F3 + M4 = 9 → B; Gamma R2 + F2 + M2 = 6 → C; Beta's
    # June order is 386 days old, outside the window → D.
    assert later["matrix"][0] == {"manual_grade": "A", "A": 0, "B": 1, "C": 1, "D": 0}
    assert later["matrix"][2] == {"manual_grade": "C", "A": 0, "B": 0, "C": 0, "D": 1}


def test_margins_by_product_line_and_month(company: Company, book: dict[str, str]) -> None:
    products = get(company, "admin", "margins", group_by="product")["data"]
    assert products == [
        {
            "group": "product",
            "key": WIDGET,
            "sku": "WID-1",
            "revenue": "1500.00",
            "costed_revenue": "1500.00",
            "cost": "900.00",
            "margin": "600.00",
            "margin_pct": 40.0,
            "quantity": "15.000",
            "order_lines": 2,
        },
        {
            "group": "product",
            "key": GADGET,
            "sku": "GAD-1",
            "revenue": "950.00",
            "costed_revenue": "200.00",
            "cost": "80.00",
            "margin": "120.00",
            "margin_pct": 60.0,
            "quantity": "7.000",
            "order_lines": 2,
        },
    ]
    lines = get(company, "admin", "margins", group_by="product_line")["data"]
    assert [(r["key"], r["margin"]) for r in lines] == [("WID", "600.00"), ("GAD", "120.00")]
    months = get(company, "admin", "margins", group_by="month")["data"]
    assert [(r["key"], r["revenue"], r["margin"]) for r in months] == [
        ("2025-12", "1000.00", "400.00"),
        ("2025-06", "500.00", "200.00"),
        ("2026-01", "950.00", "120.00"),
    ]
    december = get(
        company,
        "admin",
        "margins",
        group_by="product",
        **{"from": "2025-12-01", "to": "2026-01-01"},
    )
    assert [(r["sku"], r["revenue"]) for r in december["data"]] == [("WID-1", "1000.00")]
    # Not month-aligned: summed from the per-day rows (Acme's 1 Dec order, not Gamma's 4 Jan).
    around = get(company, "admin", "margins", **{"from": "2025-11-15", "to": "2026-01-03"})
    assert [(r["sku"], r["revenue"], r["margin"]) for r in around["data"]] == [
        ("WID-1", "1000.00", "400.00"),
        ("GAD-1", "750.00", "0.00"),
    ]
    assert_problem(
        company.client.get("/api/v1/analytics/margins", headers=company.as_("rep_a")),
        403,
        "forbidden",
    )


def _rows(services: Services, tables: tuple[Any, ...]) -> dict[str, list[tuple[Any, ...]]]:
    with services.read() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables}


def test_rebuilding_the_read_models_gives_the_live_rows(
    company: Company, services: Services, book: dict[str, str]
) -> None:
    company.clock.advance(days=120)
    services.run_watchers()
    for projection in (InsightsProjection, AlertsProjection):
        live = _rows(services, projection.tables)
        assert any(live.values())
        grades = get(company, "admin", "grades")
        services.runners[projection.name].rebuild()
        # Rebuilt, the accounts with orders are due: graded on the fly until the next tick,
        # which stores the same grades (and due instants) as the live read model had.
        assert get(company, "admin", "grades") == grades
        services.run_watchers()
        assert _rows(services, projection.tables) == live


def _stored(services: Services) -> dict[str, tuple[str, datetime | None, datetime | None]]:
    a = cv_accounts.c
    with services.read() as conn:
        return {
            name: (grade, as_of, due)
            for name, grade, as_of, due in conn.execute(
                select(a.name, a.auto_grade, a.grade_as_of, a.grade_due)
            )
        }


def midnight(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def test_grades_are_stored_and_refreshed_when_due(
    company: Company, services: Services, book: dict[str, str]
) -> None:
    now = company.clock.now()
    # Before any tick every account with orders is due: graded on the fly, same figures.
    assert get(company, "admin", "grades")["agreeing"] == 2
    assert services.insights.refresh_grades() == 3
    # Each grade holds until the first day ageing alone changes it:
    # Acme A (R4 F3 M4) until 2026-04-03, 91 days after its 2 Jan order (R2 → 9 → B);
    # Beta C (R1 F2 M3) until 2026-06-10, when its June order leaves the window (→ D);
    # Gamma B (R4 F2 M2) until 2026-02-04, 31 days after its 4 Jan order (R3 → 7 → C).
    assert _stored(services) == {
        "Acme": ("A", now, midnight(2026, 4, 3)),
        "Beta": ("C", now, midnight(2026, 6, 10)),
        "Gamma": ("B", now, midnight(2026, 2, 4)),
        "Delta": ("D", None, None),
    }
    assert services.insights.refresh_grades() == 0
    grades = get(company, "admin", "grades")
    assert grades["matrix"][0] == {"manual_grade": "A", "A": 1, "B": 1, "C": 0, "D": 0}
    assert [r["name"] for r in grades["disagreements"]["data"]] == ["Gamma"]

    # A tick on 4 Feb grades Gamma only (C until 2026-07-04, 181 days after its order → D).
    feb = company.clock.advance(days=30)
    assert services.insights.refresh_grades() == 1
    assert _stored(services)["Gamma"] == ("C", feb, midnight(2026, 7, 4))
    assert _stored(services)["Acme"] == ("A", now, midnight(2026, 4, 3))
    grades = get(company, "admin", "grades")
    assert grades["matrix"][0] == {"manual_grade": "A", "A": 1, "B": 0, "C": 1, "D": 0}

    # An order makes its account due at once: the answer grades it on the fly (Beta: R4 F3
    # M3 = 10 → A, against its manual C), the next tick stores it and nothing else.
    order(services, book["beta"], noon(2026, 2, 4), (WIDGET, "1", "100.00", None))
    assert _stored(services)["Beta"][2] == midnight(1970, 1, 1)
    grades = get(company, "admin", "grades")
    assert grades["matrix"][2] == {"manual_grade": "C", "A": 1, "B": 0, "C": 0, "D": 0}
    assert sorted(r["name"] for r in grades["disagreements"]["data"]) == ["Beta", "Gamma"]
    services.run_watchers()
    assert _stored(services)["Beta"] == ("A", feb, midnight(2026, 3, 7))
    assert get(company, "admin", "grades") == grades

    # Asked for a day before the latest tick, grades are computed from the per-day rows.
    january = get(company, "admin", "grades", as_of="2026-01-05T12:00:00Z")
    assert january["matrix"][0] == {"manual_grade": "A", "A": 1, "B": 1, "C": 0, "D": 0}
    assert january["matrix"][2] == {"manual_grade": "C", "A": 0, "B": 0, "C": 1, "D": 0}

    # Another rule (configuration): computed until a tick grades every account with orders.
    services.insights.rule = GradingRule.parse(365, "30,90,180", "12,6,3", "100000,25000,5000")
    strict = get(company, "admin", "grades")
    assert strict["matrix"][0] == {"manual_grade": "A", "A": 0, "B": 0, "C": 0, "D": 2}
    assert services.insights.refresh_grades() == 3
    assert get(company, "admin", "grades") == strict


def test_the_same_figures_over_graphql(company: Company, book: dict[str, str]) -> None:
    query = """{
      customerValue(first: 1, sort: "-revenue") {
        edges { node { name revenue margin autoGrade contributionPct } cursor }
        pageInfo { hasNextPage }
      }
      topCustomers(limit: 2) { name }
      pareto(first: 5) { totalRevenue entries { edges { node { name cumulativePct } } } }
      grades(first: 5) { agreementPct matrix { manualGrade A B } disagreements { edges { node { name } } } }
      margins(groupBy: "month", first: 1) { edges { node { key margin } } }
      dataEntryKpis(first: 1) { edges { node { newAccounts } } }
    }"""
    response = company.client.post("/graphql", json={"query": query}, headers=company.as_("admin"))
    body = ok(response)
    assert "errors" not in body, body["errors"]
    data = body["data"]
    [edge] = data["customerValue"]["edges"]
    assert edge["node"] == {
        "name": "Acme",
        "revenue": "1750.00",
        "margin": "400.00",
        "autoGrade": "A",
        "contributionPct": 71.43,
    }
    assert data["customerValue"]["pageInfo"]["hasNextPage"] is True
    assert [c["name"] for c in data["topCustomers"]] == ["Acme", "Beta"]
    assert data["pareto"]["totalRevenue"] == "2450.00"
    pareto = [e["node"] for e in data["pareto"]["entries"]["edges"]]
    assert pareto == [
        {"name": "Acme", "cumulativePct": 71.43},
        {"name": "Beta", "cumulativePct": 91.84},
    ]
    assert data["grades"]["agreementPct"] == 66.67
    assert data["grades"]["matrix"][0] == {"manualGrade": "A", "A": 1, "B": 1}
    assert data["grades"]["disagreements"]["edges"] == [{"node": {"name": "Gamma"}}]
    assert data["margins"]["edges"] == [{"node": {"key": "2025-12", "margin": "400.00"}}]
    assert len(data["dataEntryKpis"]["edges"]) == 1
