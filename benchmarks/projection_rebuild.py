"""How fast the "accounts" read model is rebuilt from the log, and whether memory stays flat.

    python benchmarks/projection_rebuild.py [--store sqlite|postgres] [--n 20000]

For M = n and M = 2n: a fresh store gets M AccountOpened events through the bare application
(fast path, 100 accounts per save); then a fresh subprocess builds Services and times
`services.runners["accounts"].rebuild()`, reporting events/s, RSS before and peak RSS. One
subprocess per size, so each peak RSS belongs to one rebuild only.
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


def rebuild_in_this_process(url: str, m: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from crm_api.application.services import Services
    from crm_api.projections.accounts import accounts as accounts_table
    from crm_api.settings import Settings

    services = Services(Settings(database_url=url))
    try:
        rss_before = _common.current_rss_mib()
        runner = services.runners["accounts"]
        start = time.perf_counter()
        runner.rebuild()
        elapsed = time.perf_counter() - start
        with services.read() as conn:
            rows = conn.execute(select(func.count()).select_from(accounts_table)).scalar_one()
        if rows != m:
            raise SystemExit(f"rebuild produced {rows} accounts, expected {m}")
        return {
            "events": m,
            "seconds": round(elapsed, 3),
            "events_per_s": round(m / elapsed, 1),
            "batch_size": runner.batch_size,
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
        "peak_rss_mib": small["peak_rss_mib"],
        "peak_rss_growth_2x_mib": round(large["peak_rss_mib"] - small["peak_rss_mib"], 1),
    }
    _common.write_results("projection_rebuild", store, result)
    print(f"\nprojection_rebuild  store={store}  (accounts projection, one subprocess per size)")
    print(
        f"  {'events':>8}{'append/s':>11}{'rebuild s':>11}{'events/s':>10}"
        f"{'RSS before':>12}{'RSS after':>11}{'peak RSS':>10}"
    )
    for s in sizes:
        print(
            f"  {s['events']:>8}{s['append_per_s']:>11.0f}{s['seconds']:>11.2f}{s['events_per_s']:>10.0f}"
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
