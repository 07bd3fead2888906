"""Real purchases through POST /api/v1/orders:batch: the whole CDNOW data set (69,659 purchases
of 23,570 customers of the CDNOW music shop, 1997–98; see tests/data/cdnow/README.md), imported
in-process, 1,000 orders per call, each customer's account created by `account_ref`.

    python benchmarks/real_data_import.py [--store sqlite|postgres] [--wheel PATH | --file PATH]
                                          [--batch 1000] [--limit N]

Opt-in: not run by `make test` nor by benchmarks/run.py. The data comes from the wheel of the
MIT-licensed package lifetimes 0.11.3 (`lifetimes/datasets/CDNOW_master.txt`, read straight from
the zip). Without it:

    pip download --no-deps lifetimes==0.11.3 -d /tmp/ds

Each purchase becomes one order (`cdnow-<line>`, one line: quantity 1 × the amount; 0.00
purchases are kept). The projection threads run as in `crm-api serve`; reported: orders/s over
the calls, the time until the read models caught up, orders/s end to end, peak RSS, and a check
that the analytics totals equal the file's (orders, revenue).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

ADMIN = "00000000-0000-4000-8000-000000000001"
OWNER = "00000000-0000-4000-8000-0000000000c1"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
CANDIDATES = (
    Path(os.environ.get("CRM_CDNOW_WHEEL", WHEEL)),
    _common.ROOT / "benchmarks" / "data" / WHEEL,
    Path("/tmp/ds") / WHEEL,
)


@contextmanager
def master_file(wheel: Path | None, file: Path | None) -> Iterator[TextIO]:
    if file is not None:
        with file.open() as text:
            yield text
        return
    found = wheel or next((p for p in CANDIDATES if p.is_file()), None)
    if found is None or not found.is_file():
        raise SystemExit(
            f"{WHEEL} not found (looked in {', '.join(map(str, CANDIDATES))}).\n"
            "Fetch it with: pip download --no-deps lifetimes==0.11.3 -d /tmp/ds\n"
            "or pass --wheel PATH, or --file PATH to an extracted CDNOW_master.txt."
        )
    with zipfile.ZipFile(found) as zipped, zipped.open(MEMBER) as raw:
        yield io.TextIOWrapper(raw, encoding="ascii")


def purchases(text: TextIO) -> Iterator[tuple[int, str, str, int, str]]:
    """(line number, customer, YYYY-MM-DD, CDs, amount), one at a time (the header skipped)."""
    for number, line in enumerate(text, start=1):
        parts = line.split()
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        customer, day, cds, amount = parts
        yield number, customer, f"{day[:4]}-{day[4:6]}-{day[6:]}", int(cds), amount


def batches(
    rows: Iterator[tuple[int, str, str, int, str]], size: int, totals: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for number, customer, day, cds, amount in rows:
        totals["orders"] += 1
        totals["revenue"] += Decimal(amount)
        totals["customers"].add(customer)
        batch.append(
            {
                "source": "cdnow",
                "external_id": f"cdnow-{number}",
                "account_ref": {"source": "cdnow", "id": customer, "name": f"CDNOW {customer}"},
                "ordered_at": f"{day}T12:00:00Z",
                "currency": "USD",
                "reference": f"{cds} CDs",
                "lines": [{"sku": "CDNOW-CD", "quantity": "1", "unit_price": amount}],
            }
        )
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def measure(
    store: str, wheel: Path | None, file: Path | None, size: int, limit: int | None
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.application.services import Services
    from crm_api.auth import mint_token
    from crm_api.settings import Settings

    totals: dict[str, Any] = {"orders": 0, "revenue": Decimal(0), "customers": set()}
    with _common.fresh_store(store) as url, master_file(wheel, file) as text:
        settings = Settings(database_url=url, jwt_secret="bench-secret-" + "x" * 32)
        services = Services(settings)
        token = mint_token(settings, ADMIN, roles=["admin"], now=datetime.now(UTC))
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings, services=services)) as client:
            owner = client.post(
                "/api/v1/users",
                json={"name": "CDNOW rep", "email": "cdnow@example.com", "role": "rep"},
                headers=headers,
            )
            assert owner.status_code == 201, owner.text
            product = client.post(
                "/api/v1/products",
                json={
                    "sku": "CDNOW-CD",
                    "name": "CDs bought at CDNOW",
                    "list_price": "15.00",
                    "unit_cost": "9.00",
                    "floor_price": "1.00",
                    "currency": "USD",
                },
                headers=headers,
            )
            assert product.status_code == 201, product.text
            envelope = {"create_missing_accounts": {"owner_id": owner.json()["id"]}}
            calls = 0.0
            position = 0
            began = time.perf_counter()
            rows = itertools.islice(purchases(text), limit)
            for orders in batches(rows, size, totals):
                body = json.dumps({"orders": orders, **envelope})
                start = time.perf_counter()
                response = client.post(
                    "/api/v1/orders:batch",
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                calls += time.perf_counter() - start
                if response.status_code != 200:
                    raise SystemExit(
                        f"orders:batch → {response.status_code}: {response.text[:500]}"
                    )
                bad = [r for r in response.json()["results"] if r["status"] != "created"]
                if bad:
                    raise SystemExit(f"not created: {bad[:3]}")
                position = int(response.headers["X-Log-Position"])
            sent = time.perf_counter()
            caught_up = services.wait_for(position, timeout=1800)
            done = time.perf_counter()
            pareto = client.get("/api/v1/analytics/pareto?limit=1", headers=headers).json()
            top = client.get("/api/v1/analytics/customer-value?limit=1", headers=headers).json()[
                "data"
            ]
        services.close()
    n = totals["orders"]
    return {
        "orders": n,
        "customers": len(totals["customers"]),
        "orders_per_s_calls": round(n / calls, 1),
        "seconds_in_calls": round(calls, 1),
        "catch_up_after_last_call_s": round(done - sent, 1),
        "orders_per_s_end_to_end": round(n / (done - began), 1),
        "read_models_caught_up": caught_up,
        "revenue_file": str(totals["revenue"]),
        "revenue_api": pareto["total_revenue"],
        "top_customer": {k: top[0][k] for k in ("name", "revenue", "order_count")} if top else None,
        "peak_rss_mib": round(_common.peak_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default="sqlite", choices=_common.STORES)
    parser.add_argument("--wheel", type=Path, default=None, help=f"path to {WHEEL}")
    parser.add_argument("--file", type=Path, default=None, help="an extracted CDNOW_master.txt")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=None, help="only the first N purchases")
    args = parser.parse_args(argv)
    _common.quiet_logs()
    result = measure(args.store, args.wheel, args.file, args.batch, args.limit)
    print(
        f"CDNOW through orders:batch on {args.store}: {result['orders']} orders of "
        f"{result['customers']} customers\n"
        f"  calls: {result['orders_per_s_calls']} orders/s ({result['seconds_in_calls']} s); "
        f"read models caught up {result['catch_up_after_last_call_s']} s later "
        f"({result['orders_per_s_end_to_end']} orders/s end to end)\n"
        f"  revenue: file {result['revenue_file']}, analytics {result['revenue_api']}; "
        f"top customer {result['top_customer']}\n"
        f"  peak RSS {result['peak_rss_mib']} MiB"
    )
    return 0 if result["revenue_file"] == result["revenue_api"] else 1


if __name__ == "__main__":
    sys.exit(main())
