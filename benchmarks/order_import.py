"""Import of N orders through POST /api/v1/orders:batch (1,000 per call), against the bare
library saving the same order aggregates in batches of the same size, and a raw COPY of the
same rows (PostgreSQL).

    python benchmarks/order_import.py [--store postgres|sqlite] [--n 50000] [--batch 1000]

Each variant runs on its own fresh store in this one process:
  (a) REST: `orders:batch` through the ASGI app (TestClient) with the projection threads
      running; orders/s for the calls, then how long the read models took to catch up;
  (b) bare: `CrmApplication.save(*orders)` of the same Order aggregates, `--batch` per save;
  (c) COPY (PostgreSQL only): the same rows (id, version, topic, JSON state) copied into a
      table shaped like the event table, in one COPY per batch.
Orders are generated batch by batch (never all in memory); peak RSS is reported.
Targets (issue 4): REST ≥ 10,000 orders/s and REST/bare ≥ 0.5.
"""

from __future__ import annotations

import argparse
import json
import random
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
OWNER = "00000000-0000-4000-8000-000000000002"
PRODUCTS = 100
ACCOUNTS = 500
TARGET_RATE = 10_000
TARGET_RATIO = 0.5


def seed(app: Any) -> tuple[list[tuple[str, str, Decimal]], list[str]]:
    """Products (id, sku, list price) and accounts, saved through the bare application."""
    from crm_api.domain.accounts import Account
    from crm_api.domain.catalog import Prices, Product
    from crm_api.domain.context import recording
    from crm_api.domain.uniqueness import UniqueClaim

    now = datetime.now(UTC)
    products, accounts, aggregates = [], [], []
    with recording(_common.bench_meta(now), now):
        for i in range(PRODUCTS):
            price = Decimal(10 + i)
            product = Product.list_new(
                uuid4(),
                sku=f"SKU-{i:04d}",
                name=f"Product {i}",
                prices=Prices.of(
                    list_price=price,
                    unit_cost=price / 2,
                    floor_price=price * Decimal("0.8"),
                    currency="EUR",
                ),
            )
            claim = UniqueClaim.with_id(
                UniqueClaim.id_for("sku", product.sku),
                namespace="sku",
                value=product.sku.lower(),
                holder_id=str(product.id),
            )
            aggregates += [product, claim]
            products.append((str(product.id), product.sku, price))
        for i in range(ACCOUNTS):
            account = Account(
                id=uuid4(),
                name=f"Customer {i}",
                owner_id=OWNER,
                industry=None,
                phone=None,
                address=None,
                manual_grade=None,
            )
            aggregates.append(account)
            accounts.append(str(account.id))
    for start in range(0, len(aggregates), 200):
        app.save(*aggregates[start : start + 200])
    return products, accounts


def generate(
    n: int, batch: int, products: list[tuple[str, str, Decimal]], accounts: list[str]
) -> Iterator[list[dict[str, Any]]]:
    """Batches of realistic orders (1–5 lines by sku, with costs), made as they are needed."""
    rng = random.Random(7)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    for first in range(0, n, batch):
        orders = []
        for i in range(first, min(first + batch, n)):
            lines = []
            for _ in range(rng.randint(1, 5)):
                _, sku, price = products[rng.randrange(len(products))]
                lines.append(
                    {
                        "sku": sku,
                        "quantity": str(rng.randint(1, 20)),
                        "unit_price": str(price - rng.randint(0, 3)),
                        "unit_cost": str(price / 2),
                    }
                )
            orders.append(
                {
                    "source": "erp",
                    "external_id": f"SO-{i:07d}",
                    "account_id": accounts[rng.randrange(len(accounts))],
                    "ordered_at": (start + timedelta(minutes=37 * i)).isoformat(),
                    "currency": "EUR",
                    "lines": lines,
                }
            )
        yield orders


def rest(url: str, n: int, batch: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.application.services import Services
    from crm_api.auth import mint_token
    from crm_api.settings import Settings

    settings = Settings(database_url=url, jwt_secret="bench-secret-" + "x" * 32)
    services = Services(settings)
    products, accounts = seed(services.app)
    token = mint_token(settings, ADMIN, roles=["admin"], now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, services=services)) as client:
        services.wait_for(services.app.head(), timeout=60)
        calls = 0.0
        created = 0
        position = 0
        for orders in generate(n, batch, products, accounts):
            body = json.dumps({"orders": orders})
            start = time.perf_counter()
            response = client.post(
                "/api/v1/orders:batch",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            calls += time.perf_counter() - start
            if response.status_code != 200:
                raise SystemExit(f"orders:batch → {response.status_code}: {response.text[:500]}")
            results = response.json()["results"]
            errors = [r for r in results if r["status"] == "error"]
            if errors:
                raise SystemExit(f"unexpected errors: {errors[:3]}")
            created += sum(r["status"] == "created" for r in results)
            position = int(response.headers["X-Log-Position"])
        start = time.perf_counter()
        caught_up = services.wait_for(position, timeout=600)
        catch_up = time.perf_counter() - start
        resend_start = time.perf_counter()
        unchanged = 0
        for orders in generate(min(n, 5 * batch), batch, products, accounts):
            response = client.post("/api/v1/orders:batch", json={"orders": orders}, headers=headers)
            unchanged += sum(r["status"] == "unchanged" for r in response.json()["results"])
        resend = time.perf_counter() - resend_start
    services.close()
    if created != n:
        raise SystemExit(f"expected {n} created, got {created}")
    return {
        "orders_per_s": round(n / calls, 1),
        "seconds_in_calls": round(calls, 2),
        "read_models_caught_up": caught_up,
        "catch_up_after_last_call_s": round(catch_up, 2),
        "resend_unchanged_per_s": round(unchanged / resend, 1),
    }


def bare(url: str, n: int, batch: int) -> dict[str, Any]:
    from crm_api.domain.context import recording
    from crm_api.domain.orders import Order, order_line

    app = _common.bare_application(url)
    products, accounts = seed(app)
    by_sku = {sku: product_id for product_id, sku, _ in products}
    elapsed = 0.0
    for orders in generate(n, batch, products, accounts):
        start = time.perf_counter()
        aggregates = []
        for o in orders:
            now = datetime.now(UTC)
            with recording(_common.bench_meta(now), now):
                aggregates.append(
                    Order.place(
                        source=o["source"],
                        external_id=o["external_id"],
                        account_id=o["account_id"],
                        quote_id=None,
                        ordered_at=datetime.fromisoformat(o["ordered_at"]),
                        currency=o["currency"],
                        reference=None,
                        lines=[
                            order_line(
                                k + 1,
                                product_id=by_sku[x["sku"]],
                                sku=x["sku"],
                                quantity=Decimal(x["quantity"]),
                                unit_price=Decimal(x["unit_price"]),
                                unit_cost=Decimal(x["unit_cost"]),
                            )
                            for k, x in enumerate(o["lines"])
                        ],
                    )
                )
        app.save(*aggregates)
        elapsed += time.perf_counter() - start
    app.close()
    return {"orders_per_s": round(n / elapsed, 1), "seconds": round(elapsed, 2)}


def copy(url: str, n: int, batch: int) -> dict[str, Any]:
    import psycopg

    from crm_api.db import Store

    products = [(str(uuid4()), f"SKU-{i:04d}", Decimal(10 + i)) for i in range(PRODUCTS)]
    accounts = [str(uuid4()) for _ in range(ACCOUNTS)]
    elapsed = 0.0
    with psycopg.connect(Store(url).psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_copy (originator_id uuid, originator_version int, topic text, "
            "state bytea, PRIMARY KEY (originator_id, originator_version))"
        )
        for orders in generate(n, batch, products, accounts):
            rows = [
                (uuid4(), 1, "crm_api.domain.orders:Order.Placed", json.dumps(o).encode())
                for o in orders
            ]
            start = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(
                    "COPY bench_copy (originator_id, originator_version, topic, state) FROM STDIN"
                ) as out,
            ):
                for row in rows:
                    out.write_row(row)
            elapsed += time.perf_counter() - start
    return {"orders_per_s": round(n / elapsed, 1), "seconds": round(elapsed, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="postgres", choices=_common.STORES)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args(argv)
    _common.quiet_logs()
    data: dict[str, Any] = {"n": args.n, "batch": args.batch}
    with _common.fresh_store(args.store, "_orders_rest") as url:
        data["rest"] = rest(url, args.n, args.batch)
    with _common.fresh_store(args.store, "_orders_bare") as url:
        data["bare"] = bare(url, args.n, args.batch)
    if args.store == "postgres":
        with _common.fresh_store(args.store, "_orders_copy") as url:
            data["copy"] = copy(url, args.n, args.batch)
    rate = data["rest"]["orders_per_s"]
    data["ratio_rest_to_bare"] = round(rate / data["bare"]["orders_per_s"], 3)
    if "copy" in data:
        data["ratio_rest_to_copy"] = round(rate / data["copy"]["orders_per_s"], 3)
    data["peak_rss_mib"] = round(_common.peak_rss_mib(), 1)
    _common.write_results("order_import", args.store, data)
    print(f"\norder import — {args.store}: {args.n} orders, batches of {args.batch}")
    print(
        f"  REST orders:batch  {rate:>10,.0f} orders/s  (target ≥ {TARGET_RATE:,})"
        f"  read models caught up {data['rest']['catch_up_after_last_call_s']} s after the"
        f" last call; re-send unchanged {data['rest']['resend_unchanged_per_s']:,.0f}/s"
    )
    print(
        f"  bare library save  {data['bare']['orders_per_s']:>10,.0f} orders/s"
        f"  → REST/bare {data['ratio_rest_to_bare']} (target ≥ {TARGET_RATIO})"
    )
    if "copy" in data:
        print(
            f"  raw COPY           {data['copy']['orders_per_s']:>10,.0f} orders/s"
            f"  → REST/COPY {data['ratio_rest_to_copy']}"
        )
    print(f"  peak RSS {data['peak_rss_mib']} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
