"""Run every benchmark on SQLite and PostgreSQL; results also go to benchmarks/results/latest.json.

    python benchmarks/run.py [--quick] [--stores sqlite,postgres] [--profile N] [--no-load]

Defaults: 2000 accounts per create-rate variant, 20000 (and 40000) events per rebuild, the
load scenario (load.py) for 30 s at 200 requests/s. --quick: 300, 5000 and 10 s of load. A
store that cannot be reached is reported and skipped; the run still exits 0 (benchmarks
inform, they do not gate).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
import analytics
import create_account_rate
import load
import order_import
import projection_rebuild
import quote_history
import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--stores", default=",".join(_common.STORES))
    parser.add_argument("--accounts", type=int, help="accounts per create-rate variant")
    parser.add_argument("--events", type=int, help="events for the smaller rebuild")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also cProfile N REST POSTs per store"
    )
    parser.add_argument(
        "--no-load", action="store_true", help="skip the load scenario (benchmarks/load.py)"
    )
    parser.add_argument("--load-seconds", type=float, help="length of the load scenario")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    _common.quiet_logs()
    accounts = args.accounts or (300 if args.quick else 2000)
    events = args.events or (5000 if args.quick else 20000)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]

    analytics_accounts, analytics_seconds = ("5000", "20") if args.quick else ("100000", "120")
    load_seconds = args.load_seconds or (10.0 if args.quick else 30.0)
    load_run = () if args.no_load else (("load", load, ["--seconds", str(load_seconds)]),)
    summary: list[str] = []
    for store in stores:
        # Each benchmark in its own process, so one's peak RSS does not colour the other's.
        for label, module, extra in (
            (
                "create_account_rate",
                create_account_rate,
                ["--n", str(accounts), *(["--profile", str(args.profile)] if args.profile else [])],
            ),
            ("projection_rebuild", projection_rebuild, ["--n", str(events)]),
            ("quote_history", quote_history, ["--reads", "50" if args.quick else "200"]),
            ("order_import", order_import, ["--n", "5000" if args.quick else "50000"]),
            (
                "analytics",
                analytics,
                ["--accounts", analytics_accounts, "--seconds", analytics_seconds],
            ),
            *load_run,
        ):
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-W", "ignore", module.__file__, "--store", store, *extra],
                check=False,
            )
            took = time.perf_counter() - start
            status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            summary.append(f"  {label:<22}{store:<10}{status:<20}{took:6.1f}s")
    print("\nbenchmarks run:")
    print("\n".join(summary))
    print(f"results: {_common.RESULTS.relative_to(_common.ROOT)}")
    return report.main([])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a benchmark must never fail the build
        traceback.print_exc()
        sys.exit(0)
