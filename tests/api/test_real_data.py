"""A check on real data: the CDNOW sample (6,919 purchases of 2,357 customers of the CDNOW
music shop, 1997–98; tests/data/cdnow/README.md) imported through `POST /api/v1/orders:batch`,
then each customer's figures from the API compared with a computation from the file alone.

To keep `make test` short (it runs on both stores), the test takes the customers with an odd
sample id: 3,578 purchases of 1,179 customers (five of 0.00). `CRM_REAL_DATA_ALL=1` takes the
whole sample.

Each purchase is one order (`cdnow-<line number>`, one line: quantity 1 × the amount paid;
the number of CDs goes in the order's reference) of the account found or created by
`account_ref` = the customer's sample id. A purchase of 0.00 (eight in the sample) is kept as
an order: it is a real purchase (of one CD) that counts for order count and dates, and adds
nothing to revenue.

The clock starts before the first purchase, so the accounts are opened before their orders
and dormancy runs from the last purchase; it then moves to AS_OF, where a watchers' tick
raises the dormancy alerts and stores the automatic grades.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from crm_api.application.services import Services
from tests.support import Company, FrozenClock

ALL = os.environ.get("CRM_REAL_DATA_ALL") == "1"
DATA = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
BATCH = 1000
AS_OF = datetime(1998, 7, 15, 12, 0, tzinfo=UTC)
"""Two weeks after the last purchase in the data (1998-06-30)."""
DORMANCY_DAYS = 90
"""The default rule: dormant when the last order is at least this many days old."""
WINDOW_DAYS = 365
"""The default grading window, and its default thresholds below (docs/analytics.md)."""
RECENCY, FREQUENCY, MONETARY = (30, 90, 180), (12, 6, 3), (100000, 25000, 5000)


@dataclass
class Customer:
    orders: int = 0
    revenue: Decimal = Decimal(0)
    days: list[date] = field(default_factory=list)
    amounts: list[Decimal] = field(default_factory=list)


def read_purchases() -> list[tuple[int, str, date, int, str]]:
    """(line number, customer id, day, CDs, amount) per line of the file."""
    rows = []
    for number, line in enumerate(DATA.read_text().splitlines(), start=1):
        _, customer, day, cds, amount = line.split()
        if not ALL and int(customer) % 2 == 0:
            continue
        rows.append(
            (number, customer, date(int(day[:4]), int(day[4:6]), int(day[6:])), int(cds), amount)
        )
    return rows


def expected(rows: list[tuple[int, str, date, int, str]]) -> dict[str, Customer]:
    """Plain Python over the file: nothing of crm_api."""
    customers: dict[str, Customer] = defaultdict(Customer)
    for _, customer, day, _, amount in rows:
        c = customers[customer]
        c.orders += 1
        c.revenue += Decimal(amount)
        c.days.append(day)
        c.amounts.append(Decimal(amount))
    return dict(customers)


def grade(c: Customer, today: date) -> tuple[int, Decimal, str]:
    """Frequency, monetary and the A/B/C/D grade over the window ending `today`, by the rule
    as docs/analytics.md states it."""
    inside = [
        (d, a)
        for d, a in zip(c.days, c.amounts, strict=True)
        if today - timedelta(days=WINDOW_DAYS) < d <= today
    ]
    if not inside:
        return 0, Decimal("0.00"), "D"
    frequency = len(inside)
    monetary = sum((a for _, a in inside), Decimal(0))
    recency = (today - max(d for d, _ in inside)).days
    r = (
        4
        if recency <= RECENCY[0]
        else 3
        if recency <= RECENCY[1]
        else 2
        if recency <= RECENCY[2]
        else 1
    )
    f = (
        4
        if frequency >= FREQUENCY[0]
        else 3
        if frequency >= FREQUENCY[1]
        else 2
        if frequency >= FREQUENCY[2]
        else 1
    )
    m = (
        4
        if monetary >= MONETARY[0]
        else 3
        if monetary >= MONETARY[1]
        else 2
        if monetary >= MONETARY[2]
        else 1
    )
    score = r + f + m
    letter = "A" if score >= 10 else "B" if score >= 8 else "C" if score >= 6 else "D"
    return frequency, monetary.quantize(Decimal("0.01")), letter


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(1996, 12, 31, 9, 0, tzinfo=UTC))


def _integrator(company: Company) -> dict[str, str]:
    response = company.client.post(
        "/api/v1/api-keys",
        json={"name": "cdnow import", "role": "integrator", "scopes": ["orders:write"]},
        headers=company.as_("admin"),
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _import(
    company: Company, services: Services, rows: list[tuple[int, str, date, int, str]]
) -> None:
    product = company.client.post(
        "/api/v1/products",
        json={
            "sku": "CDNOW-CD",
            "name": "CDs bought at CDNOW",
            "list_price": "15.00",
            "unit_cost": "9.00",
            "floor_price": "1.00",
            "currency": "USD",
        },
        headers=company.as_("admin"),
    )
    assert product.status_code == 201, product.text
    headers = _integrator(company)
    owner = {"owner_id": company.ids["rep_a"]}
    for first in range(0, len(rows), BATCH):
        orders = [
            {
                "source": "cdnow",
                "external_id": f"cdnow-{number}",
                "account_ref": {"source": "cdnow", "id": customer, "name": f"CDNOW {customer}"},
                "ordered_at": f"{day.isoformat()}T12:00:00Z",
                "currency": "USD",
                "reference": f"{cds} CDs",
                "lines": [{"sku": "CDNOW-CD", "quantity": "1", "unit_price": amount}],
            }
            for number, customer, day, cds, amount in rows[first : first + BATCH]
        ]
        response = company.client.post(
            "/api/v1/orders:batch",
            json={"orders": orders, "create_missing_accounts": owner},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["created"] * len(orders), [
            r for r in results if r["status"] != "created"
        ][:3]
        services.wait_for(int(response.headers["X-Log-Position"]))


def _all(company: Company, path: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        response = company.client.get(path, params=query, headers=company.as_("admin"))
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["data"])
        cursor = body["next_cursor"]
        if not cursor:
            return rows


def at_noon(day: date) -> str:
    return f"{day.isoformat()}T12:00:00Z"


def test_cdnow_purchases_match_an_independent_computation(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    rows = read_purchases()
    customers = expected(rows)
    assert (len(rows), len(customers)) == ((6919, 2357) if ALL else (3578, 1179))
    began = time.perf_counter()
    _import(company, services, rows)
    imported = time.perf_counter()

    clock.advance(seconds=(AS_OF - clock.now()).total_seconds())
    report = services.run_watchers()
    ticked = time.perf_counter()
    today = AS_OF.date()

    # Customer value: every customer, every figure.
    values = _all(company, "/api/v1/analytics/customer-value", as_of=AS_OF.isoformat())
    found = {row["name"].removeprefix("CDNOW "): row for row in values}
    assert set(found) == set(customers)
    for customer, c in customers.items():
        row = found[customer]
        frequency, monetary, letter = grade(c, today)
        assert (
            row["order_count"],
            row["revenue"],
            row["first_order_at"],
            row["last_order_at"],
            row["recency_days"],
            row["frequency"],
            row["monetary"],
            row["auto_grade"],
        ) == (
            c.orders,
            str(c.revenue.quantize(Decimal("0.01"))),
            at_noon(min(c.days)),
            at_noon(max(c.days)),
            (today - max(c.days)).days,
            frequency,
            str(monetary),
            letter,
        ), customer

    # Dormancy as of AS_OF: an open alert for exactly the customers whose last purchase is at
    # least 90 days old, raised once.
    dormant = {
        customer for customer, c in customers.items() if (today - max(c.days)).days >= DORMANCY_DAYS
    }
    assert 0 < len(dormant) < len(customers)
    alerts = _all(company, "/api/v1/alerts", kind="account_dormant", open="true")
    names = {row["account_id"]: row["name"].removeprefix("CDNOW ") for row in values}
    assert sorted(names[a["account_id"]] for a in alerts) == sorted(dormant)
    for alert in alerts:
        last = max(customers[names[alert["account_id"]]].days)
        assert alert["threshold_at"] == at_noon(last + timedelta(days=DORMANCY_DAYS))
    assert report.raised == len(dormant)
    assert services.run_watchers().raised == 0

    # The stored automatic grades (the tick graded every account) give the same matrix as the
    # independent grades: no manual grades here, so all are in `without_manual_grade`.
    grades = company.client.get("/api/v1/analytics/grades", headers=company.as_("admin")).json()
    letters = [grade(c, today)[2] for c in customers.values()]
    assert grades["without_manual_grade"] == {g: letters.count(g) for g in "ABCD"}

    # Pareto: the smallest set of customers (largest revenue first) making 80 % of revenue.
    revenue = sum((c.revenue for c in customers.values()), Decimal(0))
    running, needed = Decimal(0), 0
    for amount in sorted((c.revenue for c in customers.values()), reverse=True):
        if running >= revenue * Decimal("0.8"):
            break
        running += amount
        needed += 1
    pareto = _all(company, "/api/v1/analytics/pareto")
    assert len(pareto) == needed
    assert [Decimal(r["revenue"]) for r in pareto] == sorted(
        (c.revenue for c in customers.values()), reverse=True
    )[:needed]
    print(
        f"\nCDNOW sample: {len(rows)} orders, {len(customers)} customers, revenue {revenue}; "
        f"dormant on {today}: {len(dormant)}; grades { ({g: letters.count(g) for g in 'ABCD'}) }; "
        f"80 % of revenue from {needed} customers; import {imported - began:.1f} s, "
        f"tick {ticked - imported:.1f} s, checks {time.perf_counter() - ticked:.1f} s"
    )
