"""How fast accounts are opened: bare eventsourcing save vs. the full REST path.

    python benchmarks/create_account_rate.py [--store sqlite|postgres] [--n 2000] [--profile 200]

(a) bare: CrmApplication.save(Account(...)) in a loop, one aggregate per save;
(b) REST: POST /api/v1/accounts through TestClient with lifespan and projection threads
    running (each write waits for read-your-writes), plain and with an Idempotency-Key.
Both run in this one process against one fresh store of the chosen kind. Target: REST/bare ≥ 0.5.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

ADMIN_ID = "00000000-0000-4000-8000-000000000001"
WARMUP = 50
TARGET_RATIO = 0.5


def bare_rate(url: str, n: int) -> float:
    app = _common.bare_application(url)
    try:
        _common.open_bare_accounts(app, 20, ADMIN_ID, prefix="Warm")  # warm-up, not counted
        start = time.perf_counter()
        _common.open_bare_accounts(app, n, ADMIN_ID, prefix="Bare")
        elapsed = time.perf_counter() - start
    finally:
        app.close()
    return n / elapsed


def _post_accounts(
    client: Any, headers: dict[str, str], owner: str, n: int, prefix: str, idempotent: bool
) -> float:
    start = time.perf_counter()
    for i in range(n):
        h = headers
        if idempotent:
            h = {**headers, "Idempotency-Key": f"{prefix}-{i}-{uuid4().hex}"}
        response = client.post(
            "/api/v1/accounts",
            json={"name": f"{prefix} {i}", "owner_id": owner, "industry": "Manufacturing"},
            headers=h,
        )
        if response.status_code != 201:
            raise SystemExit(f"POST /api/v1/accounts → {response.status_code}: {response.text}")
    return n / (time.perf_counter() - start)


def rest_rates(url: str, n: int, profile: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.auth import mint_token
    from crm_api.settings import Settings

    settings = Settings(database_url=url)
    app = create_app(settings)
    out: dict[str, Any] = {}
    with TestClient(app) as client:
        now = datetime.now(UTC)
        admin = {
            "Authorization": "Bearer "
            + mint_token(settings, ADMIN_ID, roles=["admin"], ttl=timedelta(days=1), now=now)
        }
        response = client.post(
            "/api/v1/users",
            json={
                "name": "Bench Rep",
                "email": f"rep-{uuid4().hex[:8]}@example.com",
                "role": "rep",
            },
            headers=admin,
        )
        if response.status_code != 201:
            raise SystemExit(f"POST /api/v1/users → {response.status_code}: {response.text}")
        rep_id = response.json()["id"]
        rep = {
            "Authorization": "Bearer "
            + mint_token(settings, rep_id, ttl=timedelta(days=1), now=now)
        }

        _post_accounts(client, rep, rep_id, WARMUP, "Warm", idempotent=False)
        _post_accounts(client, rep, rep_id, WARMUP // 2, "WarmKey", idempotent=True)
        services = app.state.services
        services.wait_for(services.app.head(), timeout=30)

        out["rest_per_s"] = _post_accounts(client, rep, rep_id, n, "Rest", idempotent=False)
        out["rest_idempotent_per_s"] = _post_accounts(
            client, rep, rep_id, n, "Keyed", idempotent=True
        )

    if profile:
        out["profile"] = profile_requests(settings, admin, profile)
    return out


def profile_requests(settings: Any, admin: dict[str, str], n: int) -> str:
    """cProfile n plain POSTs on a second app over the same store. The ASGI app runs in the
    TestClient's portal thread and sync endpoints in AnyIO worker threads, so every thread
    started from here on gets its own profiler (threading.setprofile); the request path
    (all threads but the projection runners) and the projection threads are reported apart."""
    import cProfile
    import io
    import pstats
    import threading

    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.auth import mint_token

    profiles: list[tuple[str, cProfile.Profile]] = []
    lock = threading.Lock()

    def per_thread(frame: Any, event: str, arg: Any) -> None:
        p = cProfile.Profile()
        with lock:
            profiles.append((threading.current_thread().name, p))
        p.enable()

    app = create_app(settings)
    main = cProfile.Profile()
    threading.setprofile(per_thread)
    try:
        with TestClient(app) as client:
            response = client.post(
                "/api/v1/users",
                json={
                    "name": "Prof Rep",
                    "email": f"prof-{uuid4().hex[:8]}@example.com",
                    "role": "rep",
                },
                headers=admin,
            )
            rep_id = response.json()["id"]
            now = datetime.now(UTC)
            rep = {
                "Authorization": "Bearer "
                + mint_token(settings, rep_id, ttl=timedelta(days=1), now=now)
            }
            _post_accounts(client, rep, rep_id, 20, "ProfWarm", idempotent=False)
            with lock:
                for _, p in profiles:
                    p.clear()
            main.enable()
            start = time.perf_counter()
            _post_accounts(client, rep, rep_id, n, "Prof", idempotent=False)
            wall = time.perf_counter() - start
            main.disable()
    finally:
        threading.setprofile(None)
    stream = io.StringIO()
    stream.write(f"{n} POSTs in {wall:.2f}s wall ({n / wall:.0f}/s under the profiler)\n")
    request_path = [p for name, p in profiles if not name.startswith("projection-")]
    projection = [p for name, p in profiles if name.startswith("projection-")]
    stats = pstats.Stats(main, stream=stream)
    for p in request_path:
        stats.add(p)
    stream.write("\n## request path (client, portal and worker threads), by own time\n")
    stats.sort_stats("tottime").print_stats(25)
    stream.write("\n## request path, by cumulative time (crm_api frames)\n")
    stats.sort_stats("cumulative").print_stats("crm_api|eventsourcing|sqlalchemy", 30)
    if projection:
        pstats_proj = pstats.Stats(projection[0], stream=stream)
        for p in projection[1:]:
            pstats_proj.add(p)
        stream.write("\n## projection threads, by own time\n")
        pstats_proj.sort_stats("tottime").print_stats(15)
    return stream.getvalue()


def run(store: str, n: int, profile: int = 0) -> dict[str, Any]:
    with _common.fresh_store(store) as url:
        bare = bare_rate(url, n)
        rest = rest_rates(url, n, profile)
    result: dict[str, Any] = {
        "n": n,
        "bare_per_s": round(bare, 1),
        "rest_per_s": round(rest["rest_per_s"], 1),
        "rest_idempotent_per_s": round(rest["rest_idempotent_per_s"], 1),
        "ratio_rest_bare": round(rest["rest_per_s"] / bare, 3),
        "ratio_rest_idempotent_bare": round(rest["rest_idempotent_per_s"] / bare, 3),
        "target_ratio": TARGET_RATIO,
        "peak_rss_mib": round(_common.peak_rss_mib(), 1),
    }
    _common.write_results("create_account_rate", store, result)
    print_result(store, result)
    if rest.get("profile"):
        print(f"\n--- cProfile of {profile} REST POSTs ({store}) ---")
        print(rest["profile"])
    return result


def print_result(store: str, r: dict[str, Any]) -> None:
    print(f"\ncreate_account_rate  store={store}  n={r['n']}")
    print(f"  {'path':<24}{'accounts/s':>12}{'vs bare':>10}")
    print(f"  {'bare eventsourcing':<24}{r['bare_per_s']:>12.1f}{1.0:>10.2f}")
    print(f"  {'REST':<24}{r['rest_per_s']:>12.1f}{r['ratio_rest_bare']:>10.2f}")
    print(
        f"  {'REST + Idempotency-Key':<24}{r['rest_idempotent_per_s']:>12.1f}{r['ratio_rest_idempotent_bare']:>10.2f}"
    )
    flag = lambda x: "ok" if x >= TARGET_RATIO else "BELOW TARGET"  # noqa: E731
    print(
        f"  ratio REST/bare = {r['ratio_rest_bare']:.2f} ({flag(r['ratio_rest_bare'])}), "
        f"REST+idempotency/bare = {r['ratio_rest_idempotent_bare']:.2f} "
        f"({flag(r['ratio_rest_idempotent_bare'])}); target ≥ {TARGET_RATIO}"
    )
    print(f"  peak RSS {r['peak_rss_mib']:.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=_common.STORES, default="sqlite")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile N REST POSTs and print the top costs",
    )
    args = parser.parse_args(argv)
    _common.quiet_logs()
    run(args.store, args.n, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
