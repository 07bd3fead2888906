"""Analytics and alerts read times at scale: p50/p95 per endpoint over 100k accounts and as many
orders as can be made in the time budget, with the peak RSS.

    python benchmarks/analytics.py [--store sqlite|postgres] [--accounts 100000]
                                   [--seconds 120] [--reads 30]

Accounts (with manual grades, 50 owners) and orders (1–3 lines over 50 products, dated over the
last two years) are saved through the bare application in batches of 1,000 and the read models
this benchmark reads (directory, insights, kpis, alerts, accounts, orders) catch up after each
batch (together, as the projection group does), so memory
stays flat. A first watchers' tick grades every account (all are due after the import) and
raises the dormancy alerts. Then each endpoint is called `--reads` times through the ASGI app as
an admin. Last, the watchers' tick is timed at the instant when about `--due` accounts' stored
grades have come due by ageing (with the dormancy alerts due by then).
Targets: analytics p95 ≤ 50 ms per endpoint (issue 6); the list/search endpoints (accounts,
orders; plain, sorted, text search) p95 ≤ 20 ms (issue 9).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

ADMIN = "00000000-0000-4000-8000-000000000001"
PRODUCTS = 50
OWNERS = 50
BATCH = 1000
TARGET_P95_MS = 50.0
READ_MODELS = ("directory", "insights", "kpis", "alerts", "accounts", "orders")
ENDPOINTS = (
    ("customer-value", "/api/v1/analytics/customer-value"),
    ("customer-value by recency", "/api/v1/analytics/customer-value?sort=recency"),
    ("customer-value page 2", None),
    ("customer-value 1 month", "/api/v1/analytics/customer-value?from={month}&to={next_month}"),
    ("top-customers", "/api/v1/analytics/top-customers?limit=20"),
    ("pareto", "/api/v1/analytics/pareto"),
    ("pareto 1 month", "/api/v1/analytics/pareto?from={month}&to={next_month}"),
    ("grades", "/api/v1/analytics/grades"),
    ("grades page 2", None),
    ("grades (GraphQL)", None),
    ("margins by product", "/api/v1/analytics/margins?group_by=product"),
    ("margins by month", "/api/v1/analytics/margins?group_by=month"),
    ("kpis/data-entry", "/api/v1/kpis/data-entry"),
    ("alerts (open)", "/api/v1/alerts?open=true"),
    ("list accounts", "/api/v1/accounts?limit=50"),
    ("list accounts by name", "/api/v1/accounts?limit=50&sort=name"),
    ("search accounts", "/api/v1/accounts?q=customer%204711&limit=50"),
    ("list orders", "/api/v1/orders?limit=50"),
    ("list orders newest first", "/api/v1/orders?limit=50&sort=-ordered_at"),
)
LISTS = frozenset(label for label, _ in ENDPOINTS if label.startswith(("list ", "search ")))
"""The list/search endpoints (target p95 ≤ 20 ms); the others are analytics (≤ 50 ms)."""
LIST_TARGET_P95_MS = 20.0


def seed_accounts(app: Any, n: int, owners: list[str]) -> Iterator[list[str]]:
    """Accounts in batches (yielding their ids), saved through the bare application."""
    from crm_api.domain.accounts import Account
    from crm_api.domain.context import recording

    rng = random.Random(11)
    for first in range(0, n, BATCH):
        now = datetime.now(UTC) - timedelta(days=800)
        with recording(_common.bench_meta(now), now):
            batch = [
                Account(
                    id=uuid4(),
                    name=f"Customer {i}",
                    owner_id=owners[i % len(owners)],
                    industry=None,
                    phone=None,
                    address=None,
                    manual_grade=rng.choice(["A", "B", "C", "D", None]),
                )
                for i in range(first, min(first + BATCH, n))
            ]
        app.save(*batch)
        yield [str(a.id) for a in batch]


def order_batches(accounts: list[str], products: list[str], deadline: float) -> Iterator[list[Any]]:
    """Orders, a batch at a time, until the deadline."""
    from crm_api.domain.context import recording
    from crm_api.domain.orders import Order, order_line

    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=730)
    i = 0
    while time.perf_counter() < deadline:
        now = datetime.now(UTC)
        batch = []
        with recording(_common.bench_meta(now), now):
            for _ in range(BATCH):
                lines = []
                for number in range(1, rng.randint(1, 3) + 1):
                    p = rng.randrange(len(products))
                    price = Decimal(10 + p)
                    lines.append(
                        order_line(
                            number,
                            product_id=products[p],
                            sku=f"L{p % 5}-{p:03d}",
                            quantity=Decimal(rng.randint(1, 20)),
                            unit_price=price,
                            unit_cost=price * Decimal("0.6"),
                        )
                    )
                batch.append(
                    Order.place(
                        source="erp",
                        external_id=f"SO-{i:08d}",
                        account_id=accounts[rng.randrange(len(accounts))],
                        quote_id=None,
                        ordered_at=start + timedelta(minutes=rng.randrange(730 * 24 * 60)),
                        currency="EUR",
                        reference=None,
                        lines=lines,
                    )
                )
                i += 1
        yield batch


def catch_up(services: Any) -> None:
    services.projections.catch_up(READ_MODELS)


def _get(client: Any, path: str, headers: dict[str, str]) -> Any:
    return lambda: client.get(path, headers=headers)


GRADES_QUERY = """{ grades(first: 10) { gradedAccounts agreementPct matrix { manualGrade A B C D }
  disagreements { edges { node { name manualGrade autoGrade } } pageInfo { hasNextPage } } } }"""


def _graphql_grades(client: Any, headers: dict[str, str]) -> Any:
    return lambda: client.post("/graphql", json={"query": GRADES_QUERY}, headers=headers)


def _due_tick(services: Any, due: int) -> dict[str, Any]:
    """The watchers' tick at the instant when about `due` stored grades have come due by
    ageing: its grading part alone, then (at the same instant, in a second run) the whole tick
    with the dormancy alerts due by then."""
    from sqlalchemy import func, select

    from crm_api.projections.insights import cv_accounts

    now = datetime.now(UTC)
    a = cv_accounts.c
    with services.read() as conn:
        at = conn.execute(
            select(a.grade_due)
            .where(a.grade_due > now)
            .order_by(a.grade_due)
            .offset(due - 1)
            .limit(1)
        ).scalar()
        accounts = conn.execute(select(func.count()).select_from(cv_accounts)).scalar()
    if at is None:
        return {"skipped": "fewer accounts come due"}
    began = time.perf_counter()
    graded = services.insights.refresh_grades(at)
    grading = time.perf_counter() - began
    with services.read() as conn:
        dormant_due = sum(
            len(_dormant(conn, grade, at - timedelta(days=days)))
            for grade, days in services.watchers.rule.windows()
        )
    began = time.perf_counter()
    report = services.run_watchers(at)
    whole = time.perf_counter() - began
    return {
        "accounts": accounts,
        "at": at.isoformat(),
        "grades_due": graded,
        "grading_ms": round(grading * 1000, 1),
        "dormancy_due": dormant_due,
        "tick_ms": round(whole * 1000, 1),
        "alerts_raised": report.raised,
    }


def _dormant(conn: Any, grade: str | None, idle_since: datetime) -> list[Any]:
    from crm_api.projections.alerts import due_dormant

    return due_dormant(conn, grade, idle_since, 1_000_000)


def measure(
    store: str,
    n_accounts: int,
    seconds: float,
    reads: int,
    due: int = 1000,
    dormancy_days: int = 90,
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.application.services import Services
    from crm_api.auth import mint_token
    from crm_api.settings import Settings

    with _common.fresh_store(store) as url:
        settings = Settings(
            database_url=url, jwt_secret="bench-secret-" + "x" * 32, dormancy_days=dormancy_days
        )
        services = Services(settings)
        owners = [str(uuid4()) for _ in range(OWNERS)]
        products = [str(uuid4()) for _ in range(PRODUCTS)]
        began = time.perf_counter()
        accounts: list[str] = []
        for ids in seed_accounts(services.app, n_accounts, owners):
            accounts.extend(ids)
            catch_up(services)
        seeded = time.perf_counter() - began
        orders = 0
        began = time.perf_counter()
        for batch in order_batches(accounts, products, began + seconds):
            services.app.save(*batch)
            catch_up(services)
            orders += len(batch)
        made = time.perf_counter() - began
        began = time.perf_counter()
        graded_all = services.insights.refresh_grades()
        first_grading = time.perf_counter() - began
        began = time.perf_counter()
        services.run_watchers()
        first_tick = time.perf_counter() - began
        # Reads are timed in steady state: PostgreSQL's autovacuum gathers planner statistics
        # within a minute or so of a bulk load; measured at once, the plans assume the empty
        # tables the seeding started from (the grade page: 58 ms without, 12 ms with).
        if services.store.is_postgres:
            with services.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        token = mint_token(settings, ADMIN, roles=["admin"], now=datetime.now(UTC))
        headers = {"Authorization": f"Bearer {token}"}
        today = datetime.now(UTC).date()
        month = today.replace(day=1) - timedelta(days=62)
        month = month.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        timings: dict[str, list[float]] = {}
        with TestClient(create_app(settings, services=services, run_workers=False)) as client:
            first = client.get(ENDPOINTS[0][1] or "", headers=headers).json()
            grades = client.get("/api/v1/analytics/grades", headers=headers).json()
            special = {
                "customer-value page 2": (
                    f"/api/v1/analytics/customer-value?cursor={first['next_cursor']}"
                ),
                "grades page 2": (
                    f"/api/v1/analytics/grades?cursor={grades['disagreements']['next_cursor']}"
                ),
            }
            for label, path in ENDPOINTS:
                if label == "grades (GraphQL)":
                    call = _graphql_grades(client, headers)
                else:
                    url_path = special[label] if path is None else path
                    call = _get(
                        client, url_path.format(month=month, next_month=next_month), headers
                    )
                call()
                spent = []
                for _ in range(reads):
                    t = time.perf_counter()
                    response = call()
                    spent.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, (label, response.text)
                    assert "errors" not in response.json(), (label, response.text)
                timings[label] = spent
            tick = _due_tick(services, due)
        services.close()
    rows = {
        label: {
            "p50_ms": round(statistics.median(spent), 1),
            "p95_ms": round(statistics.quantiles(spent, n=20)[18], 1),
        }
        for label, spent in timings.items()
    }
    return {
        "accounts": n_accounts,
        "orders": orders,
        "seed_seconds": round(seeded, 1),
        "orders_seconds": round(made, 1),
        "orders_per_second": round(orders / made) if made else 0,
        "first_grading": {"accounts": graded_all, "seconds": round(first_grading, 1)},
        "first_tick_seconds": round(first_tick, 1),
        "dormancy_days": dormancy_days,
        "due_tick": tick,
        "endpoints": rows,
        "analytics_p95_ms_max": max(r["p95_ms"] for k, r in rows.items() if k not in LISTS),
        "list_p95_ms_max": max(r["p95_ms"] for k, r in rows.items() if k in LISTS),
        "peak_rss_mib": round(_common.peak_rss_mib(), 1),
        "target_p95_ms": TARGET_P95_MS,
        "list_target_p95_ms": LIST_TARGET_P95_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default="sqlite", choices=_common.STORES)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=120.0, help="order generation budget")
    parser.add_argument("--reads", type=int, default=30)
    parser.add_argument(
        "--due", type=int, default=1000, help="stored grades come due at the timed tick"
    )
    parser.add_argument(
        "--dormancy-days",
        type=int,
        default=90,
        help="CRM_DORMANCY_DAYS; the accounts are opened 800 days ago, so with 90 nearly all "
        "are dormant and the first tick raises an alert for each (slow: one command each); "
        "above 800 none is",
    )
    args = parser.parse_args(argv)
    _common.quiet_logs()
    result = measure(
        args.store, args.accounts, args.seconds, args.reads, args.due, args.dormancy_days
    )
    print(
        f"analytics on {args.store}: {result['accounts']} accounts "
        f"(seeded in {result['seed_seconds']} s), {result['orders']} orders "
        f"({result['orders_per_second']}/s with the read models caught up)"
    )
    print(f"  {'endpoint':<28}{'p50 ms':>9}{'p95 ms':>9}")
    for label, row in result["endpoints"].items():
        flag = "" if row["p95_ms"] <= TARGET_P95_MS else "  over target"
        print(f"  {label:<28}{row['p50_ms']:>9}{row['p95_ms']:>9}{flag}")
    first, tick = result["first_grading"], result["due_tick"]
    print(
        f"  first tick: {first['accounts']} grades stored in {first['seconds']} s, then the "
        f"dormancy alerts in {result['first_tick_seconds']} s"
    )
    print(f"  tick with ~{args.due} grades due among {result['accounts']} accounts: {tick}")
    print(f"  peak RSS {result['peak_rss_mib']} MiB")
    _common.write_results("analytics", args.store, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
