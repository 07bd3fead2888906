"""How fast the "accounts" read model is rebuilt from the log, and whether memory stays flat.

    python benchmarks/projection_rebuild.py [--store sqlite|postgres] [--n 20000]

For M = n and M = 2n: a fresh store gets M AccountOpened events through the bare application
(fast path, 100 accounts per save); then a fresh subprocess builds Services and times, in order:
  - bare: a batched read-and-insert loop (recorder reads, the library's mapper, one executemany
    and commit per batch; no handlers, no tracking) — the baseline in the same run;
  - accounts: `services.projections.rebuild(["accounts"])` (target ≥ 30,000 events/s on
    PostgreSQL and ≥ 0.5 × bare);
  - all: every read model rebuilt together (`crm-api projections rebuild all`);
reporting events/s, the ratio, RSS before and peak RSS. One subprocess per size, so each peak
RSS belongs to one rebuild only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

OWNER = "00000000-0000-4000-8000-000000000002"


def append(url: str, m: int) -> float:
    app = _common.bare_application(url)
    try:
        start = time.perf_counter()
        _common.open_bare_accounts(app, m, OWNER, batch=100, prefix="Rebuild")
        elapsed = time.perf_counter() - start
        head = app.head()
    finally:
        app.close()
    if head < m:
        raise SystemExit(f"expected {m} events in the log, found {head}")
    return m / elapsed


def bare_read_and_insert(services: Any, batch_size: int) -> float:
    """The floor: read the accounts' events in batches from the recorder, decode each with the
    library's own mapper, insert one row per event with one executemany per batch and commit.
    No handlers, no tracking, no gathering: what any projection has to pay at least."""
    from sqlalchemy import Column, MetaData, String, Table

    from crm_api.projections.accounts import AccountsProjection

    scratch = Table(
        "bench_bare_rows",
        MetaData(),
        Column("id", String(36), primary_key=True),
        Column("name", String(200)),
        Column("owner_id", String(36)),
    )
    scratch.drop(services.writer, checkfirst=True)
    scratch.create(services.writer)
    app, topics = services.app, AccountsProjection.topics()
    head = app.recorder.max_notification_id() or 0
    start, position = time.perf_counter(), 0
    while position < head:
        notifications = app.recorder.select_notifications(
            start=position + 1, limit=batch_size, stop=head, topics=topics
        )
        if not notifications:
            break
        rows = []
        for notification in notifications:
            event = app.mapper.to_domain_event(notification)
            rows.append(
                {"id": str(event.originator_id), "name": event.name, "owner_id": event.owner_id}
            )
        with services.writer.begin() as conn:
            conn.execute(scratch.insert(), rows)
        position = notifications[-1].id
    elapsed = time.perf_counter() - start
    scratch.drop(services.writer)
    return head / elapsed


def rebuild_in_this_process(url: str, m: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from crm_api.application.services import Services
    from crm_api.projections.accounts import accounts as accounts_table
    from crm_api.settings import Settings

    services = Services(Settings(database_url=url))
    try:
        rss_before = _common.current_rss_mib()
        group = services.projections
        bare = bare_read_and_insert(services, group.batch_size)
        start = time.perf_counter()
        group.rebuild(["accounts"])
        elapsed = time.perf_counter() - start
        with services.read() as conn:
            rows = conn.execute(select(func.count()).select_from(accounts_table)).scalar_one()
        if rows != m:
            raise SystemExit(f"rebuild produced {rows} accounts, expected {m}")
        start = time.perf_counter()
        group.rebuild()
        elapsed_all = time.perf_counter() - start
        return {
            "events": m,
            "seconds": round(elapsed, 3),
            "events_per_s": round(m / elapsed, 1),
            "bare_events_per_s": round(bare, 1),
            "ratio_to_bare": round(m / elapsed / bare, 3),
            "all_projections": len(services.runners),
            "all_seconds": round(elapsed_all, 3),
            "all_events_per_s": round(m / elapsed_all, 1),
            "batch_size": group.batch_size,
            "rss_before_mib": round(rss_before, 1),
            "rss_after_mib": round(_common.current_rss_mib(), 1),
            "peak_rss_mib": round(_common.peak_rss_mib(), 1),
        }
    finally:
        services.close()


def measure(store: str, m: int) -> dict[str, Any]:
    with _common.fresh_store(store, suffix=f"_{m}") as url:
        append_rate = append(url, m)
        child = subprocess.run(
            [sys.executable, "-W", "ignore", __file__, "--child-url", url, "--n", str(m)],
            capture_output=True,
            text=True,
            check=False,
        )
    if child.returncode != 0:
        raise SystemExit(f"rebuild subprocess failed:\n{child.stdout}\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result["append_per_s"] = round(append_rate, 1)
    return result


def run(store: str, n: int) -> dict[str, Any]:
    sizes = [measure(store, m) for m in (n, 2 * n)]
    small, large = sizes
    result = {
        "n": n,
        "sizes": sizes,
        "events_per_s": small["events_per_s"],
        "bare_events_per_s": small["bare_events_per_s"],
        "ratio_to_bare": small["ratio_to_bare"],
        "all_events_per_s": small["all_events_per_s"],
        "peak_rss_mib": small["peak_rss_mib"],
        "peak_rss_growth_2x_mib": round(large["peak_rss_mib"] - small["peak_rss_mib"], 1),
    }
    _common.write_results("projection_rebuild", store, result)
    print(f"\nprojection_rebuild  store={store}  (accounts projection, one subprocess per size)")
    print(
        f"  {'events':>8}{'append/s':>11}{'rebuild s':>11}{'events/s':>10}{'bare/s':>10}"
        f"{'ratio':>7}{'all/s':>9}{'RSS before':>12}{'RSS after':>11}{'peak RSS':>10}"
    )
    for s in sizes:
        print(
            f"  {s['events']:>8}{s['append_per_s']:>11.0f}{s['seconds']:>11.2f}{s['events_per_s']:>10.0f}"
            f"{s['bare_events_per_s']:>10.0f}{s['ratio_to_bare']:>7.2f}{s['all_events_per_s']:>9.0f}"
            f"{s['rss_before_mib']:>10.1f}Mi{s['rss_after_mib']:>9.1f}Mi{s['peak_rss_mib']:>8.1f}Mi"
        )
    growth = result["peak_rss_growth_2x_mib"]
    verdict = "flat" if growth < 0.25 * small["peak_rss_mib"] else "GROWS with log size"
    print(f"  peak RSS 2×M − M = {growth:+.1f} MiB ({verdict})")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=_common.STORES, default="sqlite")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--child-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _common.quiet_logs()
    if args.child_url:
        print(json.dumps(rebuild_in_this_process(args.child_url, args.n)))
        return 0
    run(args.store, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
