"""Reading the history and the as-of state of a quote with 100 revisions (target ≤ 10 ms).

    python benchmarks/quote_history.py [--store sqlite|postgres] [--revisions 100] [--reads 200]

A fresh store gets one quote revised `--revisions` times through QuoteService (each revision
submitted and approved by the policy: ~3 events per revision), one minute apart on an injected
clock. Then, in the same process, it times (median and p95 of `--reads` reads):
  - baseline: loading the quote's raw events from the store (no folding);
  - audit: `QuoteService.audit` — every revision with lines, totals, approvals (the auditor view);
  - audit as_of: the same, as of the middle of the quote's life;
  - audit cold: the same from a fresh service (nothing cached: what a first read costs);
  - quote as_of / at version: `QuoteService.point_in_time` (what GET /quotes/{id}?as_of= runs);
  - library as_of uncached: `CrmApplication.as_of`, the generic replay, for comparison;
  - REST: GET /api/v1/quotes/{id}/history?as_of=… and GET /api/v1/quotes/{id}?as_of=…
    through the ASGI app (TestClient).
and prints each as milliseconds and as a ratio to the baseline, with peak RSS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

ADMIN = "00000000-0000-4000-8000-000000000001"
OWNER = "00000000-0000-4000-8000-000000000002"
TARGET_MS = 10.0


class StepClock:
    """Moves one minute every time it is read: each command lands at its own instant."""

    def __init__(self) -> None:
        self._now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(minutes=1)
        return self._now

    def peek(self) -> datetime:
        return self._now


def timed(fn: Callable[[], Any], reads: int) -> dict[str, float]:
    fn()  # warm
    samples = []
    for _ in range(reads):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
    }


def build_quote(services: Any, clock: StepClock, revisions: int) -> tuple[str, datetime, int]:
    from crm_api.application.app import CommandContext
    from crm_api.domain.accounts import Account
    from crm_api.domain.catalog import Prices, Product
    from crm_api.domain.context import recording
    from crm_api.domain.people import Principal, Role
    from crm_api.domain.quotes import LineRequest

    now = clock.now()
    with recording(_common.bench_meta(now), now):
        product = Product.list_new(
            uuid4(),
            sku="BENCH-1",
            name="Bench widget",
            prices=Prices.of(
                list_price=Decimal("100"),
                unit_cost=Decimal("40"),
                floor_price=Decimal("80"),
                currency="EUR",
            ),
        )
        account = Account(
            id=uuid4(),
            name="Bench account",
            owner_id=OWNER,
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )
    services.app.save(product, account)
    principal = Principal(id=ADMIN, kind="user", role=Role.ADMIN, visible_owners=None)

    def ctx() -> CommandContext:
        return CommandContext(principal=principal, command_id=str(uuid4()), correlation_id="bench")

    def lines(i: int) -> list[LineRequest]:
        return [
            LineRequest(str(product.id), Decimal(1 + n), Decimal(99 - (i + n) % 19))
            for n in range(3)
        ]

    quote = services.quotes.create_quote(
        ctx(),
        account_id=str(account.id),
        opportunity_id=None,
        title="Bench quote",
        currency="EUR",
        valid_until=None,
        terms=None,
        lines=lines(0),
    ).record
    quote_id = str(quote.id)
    middle: datetime | None = None
    for i in range(1, revisions + 1):
        services.quotes.submit(ctx(), quote_id, None)
        services.quotes.revise(
            ctx(),
            quote_id,
            lines=lines(i),
            title=None,
            valid_until=None,
            terms=f"revision {i + 1}",
            terms_given=True,
            reason=None,
            expected_version=None,
        )
        if i == revisions // 2:
            middle = clock.peek()
    version = services.app.load(quote_id, type(quote)).version
    assert middle is not None
    return quote_id, middle, version


def run(store: str, revisions: int, reads: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.application.quotes import QuoteService
    from crm_api.application.services import Services
    from crm_api.auth import mint_token
    from crm_api.domain.people import Principal, Role
    from crm_api.domain.quotes import Quote
    from crm_api.settings import Settings

    with _common.fresh_store(store, "_quote") as url:
        clock = StepClock()
        settings = Settings(database_url=url, jwt_secret="bench-secret-" + "x" * 32)
        services = Services(settings, clock)
        try:
            quote_id, middle, version = build_quote(services, clock, revisions)
            auditor = Principal(id=ADMIN, kind="user", role=Role.AUDITOR, visible_owners=None)
            app, quotes = services.app, services.quotes
            uuid = app.load(quote_id, Quote).id
            events = len(list(app.events.get(uuid)))
            audit = quotes.audit(auditor, quote_id, None)
            assert len(audit.revisions) == revisions + 1, len(audit.revisions)
            results = {
                "baseline_raw_events": timed(lambda: list(app.events.get(uuid)), reads),
                "audit": timed(lambda: quotes.audit(auditor, quote_id, None), reads),
                "audit_as_of": timed(lambda: quotes.audit(auditor, quote_id, middle), reads),
                "audit_cold": timed(
                    lambda: QuoteService(app).audit(auditor, quote_id, None), reads
                ),
                "quote_as_of": timed(
                    lambda: quotes.point_in_time(auditor, quote_id, as_of=middle, version=None),
                    reads,
                ),
                "quote_at_version": timed(
                    lambda: quotes.point_in_time(
                        auditor, quote_id, as_of=None, version=version // 2
                    ),
                    reads,
                ),
                "library_as_of_uncached": timed(lambda: app.as_of(quote_id, Quote, middle), reads),
            }
            token = mint_token(settings, ADMIN, roles=["admin"], now=datetime.now(UTC))
            with TestClient(create_app(settings, clock=clock, services=services)) as client:
                url_ = f"/api/v1/quotes/{quote_id}/history"
                params = {"as_of": middle.isoformat(), "limit": 200}
                headers = {"Authorization": f"Bearer {token}"}
                assert client.get(url_, params=params, headers=headers).status_code == 200
                results["rest_history_as_of"] = timed(
                    lambda: client.get(url_, params=params, headers=headers), max(reads // 4, 20)
                )
                one = f"/api/v1/quotes/{quote_id}"
                results["rest_quote_as_of"] = timed(
                    lambda: client.get(one, params={"as_of": middle.isoformat()}, headers=headers),
                    max(reads // 4, 20),
                )
        finally:
            services.close()
    base = results["baseline_raw_events"]["median_ms"]
    for figures in results.values():
        figures["ratio_to_baseline"] = round(figures["median_ms"] / base, 2) if base else None
    return {
        "revisions": revisions,
        "events": events,
        "reads": reads,
        "target_ms": TARGET_MS,
        "timings": results,
        "peak_rss_mib": round(_common.peak_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="sqlite", choices=_common.STORES)
    parser.add_argument("--revisions", type=int, default=100)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args(argv)
    _common.quiet_logs()
    data = run(args.store, args.revisions, args.reads)
    _common.write_results("quote_history", args.store, data)
    print(
        f"\nquote history — {args.store}: {data['revisions']} revisions, {data['events']} events, "
        f"peak RSS {data['peak_rss_mib']} MiB"
    )
    for name, figures in data["timings"].items():
        mark = (
            ""
            if name == "baseline_raw_events"
            else ("  ok" if figures["median_ms"] <= TARGET_MS else "  OVER TARGET")
        )
        print(
            f"  {name:<22} median {figures['median_ms']:8.3f} ms   p95 {figures['p95_ms']:8.3f} ms"
            f"   ×{figures['ratio_to_baseline']:<6}{mark}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
