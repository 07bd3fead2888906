"""Load: a mixed read/write scenario against `crm-api serve` on loopback for a bounded time.

    python benchmarks/load.py [--store sqlite|postgres] [--seconds 30] [--rate 200] [--reps 10]

Starts the normal serve mode (uvicorn, the projection runners as threads in the same process,
the rate limiter on with a limit no client reaches) on a fresh, migrated store; seeds reps,
products, an integrator key and a few accounts per rep through the API; then sends requests
**open-loop** at `--rate` per second in total for `--seconds`: each request is due at a fixed
time and its latency is measured from that time, so a slow server shows up as latency, not as
a lower offered rate (no coordinated omission). The mix, by default 70 % reads / 30 % writes:

    list_accounts 30 %   GET  /api/v1/accounts?limit=50          (as a rep: its own)
    get_account   25 %   GET  /api/v1/accounts/{id}
    search        15 %   GET  /api/v1/accounts?q=…
    create_account 12 %  POST /api/v1/accounts
    add_contact   10 %   POST /api/v1/contacts
    push_order     8 %   POST /api/v1/orders:batch  (one order, integrator API key)

Reported: p50/p95/p99/max per kind and overall, errors (status ≥ 400, timeouts, connection
failures) by kind and status, the achieved rate, and the event→read-model lag: the p99 of the
server's `crm_projection_apply_lag_seconds` histogram (`_bucket` series, the difference of scrapes
before and after the run, all projections together and the worst one), when the server exposes
it; otherwise (older servers) the p99 of the `crm_projection_lag_seconds` gauge (age of the
oldest unapplied event, max over projections) sampled every 0.5 s during the run — say which.

The driver is asyncio + httpx, not locust: locust users are closed-loop (each waits for its
answer before sending again), so a saturated server lowers the offered rate and hides its
latency, and it would add gevent to the dependencies. The driver shares the machine's cores
with the server, as any loopback test does.

Results: benchmarks/results/load.json (per store) and, under "load", latest.json for the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common

ADMIN_ID = "00000000-0000-4000-8000-000000000001"
LOAD_RESULTS = _common.ROOT / "benchmarks" / "results" / "load.json"
MIX: tuple[tuple[str, float], ...] = (
    ("list_accounts", 0.30),
    ("get_account", 0.25),
    ("search", 0.15),
    ("create_account", 0.12),
    ("add_contact", 0.10),
    ("push_order", 0.08),
)
WRITES = {"create_account", "add_contact", "push_order"}
SKUS = ("LOAD-1", "LOAD-2", "LOAD-3")
LAG_TARGET_MS = 50
METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def crm_api_command() -> list[str]:
    script = Path(sys.executable).parent / "crm-api"
    if script.exists():
        return [str(script)]
    found = shutil.which("crm-api")
    if found is None:
        raise SystemExit("crm-api is not installed: run `make install`")
    return [found]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    secret: str
    log: Path

    def rss_mib(self) -> float:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(database_url: str, workdir: Path, rate_limit: str, log_level: str) -> Server:
    port = free_port()
    secret = secrets.token_urlsafe(36)
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_JWT_SECRET": secret,
        "CRM_RATE_LIMIT": rate_limit,
        "CRM_BLOB_DIR": str(workdir / "blobs"),
        "CRM_LOG_LEVEL": log_level,
    }
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*crm_api_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, secret, log)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"crm-api serve exited ({process.returncode}); see {log}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"crm-api serve did not answer /health within 60 s; see {log}")


# seeding


@dataclass
class Rep:
    id: str
    headers: dict[str, str]
    accounts: list[str] = field(default_factory=list)


@dataclass
class World:
    admin: dict[str, str]
    integrator: dict[str, str]
    reps: list[Rep]


def seed(server: Server, reps: int, accounts_per_rep: int) -> World:
    import httpx

    from crm_api.auth import mint_token
    from crm_api.settings import Settings

    settings = Settings(jwt_secret=server.secret, database_url="sqlite://")
    now = datetime.now(UTC)

    def token(user_id: str, roles: list[str] | None = None) -> dict[str, str]:
        minted = mint_token(settings, user_id, roles=roles, ttl=timedelta(days=1), now=now)
        return {"Authorization": f"Bearer {minted}"}

    admin = token(ADMIN_ID, ["admin"])
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
            response = client.post(path, json=body, headers=headers)
            if response.status_code not in (200, 201):
                raise SystemExit(f"seeding: POST {path} → {response.status_code}: {response.text}")
            return dict(response.json())

        for sku in SKUS:
            post(
                "/api/v1/products",
                {
                    "sku": sku,
                    "name": f"Load product {sku}",
                    "list_price": "100.00",
                    "unit_cost": "40.00",
                    "floor_price": "80.00",
                    "currency": "EUR",
                },
                admin,
            )
        key = post(
            "/api/v1/api-keys",
            {"name": "load-erp", "role": "integrator", "scopes": ["orders:write"]},
            admin,
        )
        world = World(admin, {"Authorization": f"Bearer {key['token']}"}, [])
        for i in range(reps):
            user = post(
                "/api/v1/users",
                {"name": f"Load Rep {i}", "email": f"load-rep-{i}@example.com", "role": "rep"},
                admin,
            )
            rep = Rep(user["id"], token(user["id"]))
            for j in range(accounts_per_rep):
                account = post(
                    "/api/v1/accounts",
                    {"name": f"Seed {i}-{j}", "owner_id": rep.id, "industry": "Manufacturing"},
                    rep.headers,
                )
                rep.accounts.append(account["id"])
            world.reps.append(rep)
    return world


# metrics


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        if match is None:
            continue
        name, labels, value = match.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        samples.append((name, dict(LABEL.findall(labels or "")), number))
    return samples


def lag_buckets(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, dict[float, float]]:
    """projection → {upper bound: cumulative count} of crm_projection_apply_lag_seconds."""
    out: dict[str, dict[float, float]] = defaultdict(dict)
    for name, labels, value in samples:
        if name == "crm_projection_apply_lag_seconds_bucket" and "le" in labels:
            out[labels.get("projection", "")][float(labels["le"])] = value
    return dict(out)


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket that holds the q-th rank."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound  # past the largest finite bucket: its bound, a floor
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (
                count - previous_count
            )
        previous_bound, previous_count = bound, count
    return bounds[-1]


def bucket_difference(
    after: dict[str, dict[float, float]], before: dict[str, dict[float, float]]
) -> dict[str, dict[float, float]]:
    return {
        projection: {
            bound: count - before.get(projection, {}).get(bound, 0.0)
            for bound, count in buckets.items()
        }
        for projection, buckets in after.items()
    }


def lag_gauges(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, float]:
    return {
        labels.get("projection", ""): value
        for name, labels, value in samples
        if name == "crm_projection_lag_seconds"
    }


def pending_events(samples: list[tuple[str, dict[str, str], float]]) -> float:
    return sum(value for name, _, value in samples if name == "crm_projection_lag_events")


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    import httpx

    response = httpx.get(f"{url}/metrics", timeout=30)
    response.raise_for_status()
    return parse_metrics(response.text)


class GaugeSampler(threading.Thread):
    """The lag gauges every `interval` s during the run (the fallback when the server has no
    lag histogram): the max over projections at each sample."""

    def __init__(self, url: str, interval: float = 0.5) -> None:
        super().__init__(name="lag-sampler", daemon=True)
        self.url = url
        self.interval = interval
        self.samples: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                gauges = lag_gauges(scrape(self.url))
            except Exception:
                continue
            if gauges:
                self.samples.append(max(gauges.values()))


def wait_caught_up(url: str, timeout: float) -> float:
    """Seconds until every projection has applied the whole log (pending events 0)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pending_events(scrape(url)) == 0:
            return time.monotonic() - start
        time.sleep(0.1)
    return float("nan")


# the driver


@dataclass
class Outcome:
    kind: str
    latency: float
    status: int  # 0: no answer (timeout, connection failure)


class Scenario:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.kinds = [kind for kind, _ in MIX]
        self.weights = [weight for _, weight in MIX]
        self.counter = 0

    def next_request(self) -> tuple[str, str, str, dict[str, Any] | None, dict[str, str], Rep]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        rep = self.rng.choice(self.world.reps)
        account = self.rng.choice(rep.accounts)
        self.counter += 1
        n = self.counter
        if kind == "list_accounts":
            return kind, "GET", "/api/v1/accounts?limit=50", None, rep.headers, rep
        if kind == "get_account":
            return kind, "GET", f"/api/v1/accounts/{account}", None, rep.headers, rep
        if kind == "search":
            q = self.rng.choice(("Seed", "Load", "Seed 1", "Acme"))
            return kind, "GET", f"/api/v1/accounts?q={q}&limit=20", None, rep.headers, rep
        if kind == "create_account":
            body = {"name": f"Load {n}", "owner_id": rep.id, "industry": "Retail"}
            return kind, "POST", "/api/v1/accounts", body, rep.headers, rep
        if kind == "add_contact":
            body = {"account_id": account, "name": f"Contact {n}"}
            return kind, "POST", "/api/v1/contacts", body, rep.headers, rep
        order = {
            "source": "load",
            "external_id": f"L-{n}-{uuid4().hex[:8]}",
            "account_id": account,
            "ordered_at": datetime.now(UTC).isoformat(),
            "currency": "EUR",
            "lines": [
                {"sku": self.rng.choice(SKUS), "quantity": "2", "unit_price": "95.00"},
            ],
        }
        return (
            kind,
            "POST",
            "/api/v1/orders:batch",
            {"orders": [order]},
            self.world.integrator,
            rep,
        )


async def drive(
    url: str,
    world: World,
    seconds: float,
    rate: float,
    max_in_flight: int,
    seed_value: int,
) -> tuple[list[Outcome], int, float, float, int]:
    """Returns (outcomes, requests not sent because max_in_flight were pending, seconds over
    which they were sent, seconds until the last answer, most in flight at once)."""
    import httpx

    scenario = Scenario(world, random.Random(seed_value))
    outcomes: list[Outcome] = []
    dropped = 0
    in_flight = 0
    peak = 0
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(due: float, request: tuple[Any, ...]) -> None:
            nonlocal in_flight
            kind, method, path, body, headers, rep = request
            status = 0
            try:
                response = await client.request(method, path, json=body, headers=headers)
                status = response.status_code
                if status == 200 and kind == "push_order":
                    results = response.json().get("results", [])
                    if not results or results[0].get("status") != "created":
                        status = 422  # an order refused inside a 200 batch answer is an error
                elif status == 201 and kind == "create_account":
                    rep.accounts.append(response.json()["id"])
            except httpx.HTTPError:
                status = 0
            finally:
                in_flight -= 1
            outcomes.append(Outcome(kind, time.perf_counter() - due, status))

        tasks: set[asyncio.Task[None]] = set()
        total = int(seconds * rate)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= max_in_flight:
                dropped += 1
                continue
            in_flight += 1
            peak = max(peak, in_flight)
            task = asyncio.create_task(one(due, scenario.next_request()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        sending = time.perf_counter() - start
        if tasks:
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return outcomes, dropped, sending, elapsed, peak


# figures


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(math.ceil(q * len(sorted_values)) - 1, 0)
    return sorted_values[rank]


def latency_summary(latencies: list[float]) -> dict[str, float]:
    values = sorted(latencies)
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 1),
        "p95_ms": round(percentile(values, 0.95) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1) if values else float("nan"),
    }


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    kinds: dict[str, Any] = {}
    for kind, _ in MIX:
        rows = by_kind.get(kind, [])
        errors = [o for o in rows if o.status == 0 or o.status >= 400]
        kinds[kind] = {
            "n": len(rows),
            "errors": len(errors),
            **latency_summary([o.latency for o in rows]),
        }
    statuses = Counter(
        f"{o.kind}:{o.status or 'no answer'}" for o in outcomes if o.status == 0 or o.status >= 400
    )
    return {
        "kinds": kinds,
        "overall": latency_summary([o.latency for o in outcomes]),
        "reads": latency_summary([o.latency for o in outcomes if o.kind not in WRITES]),
        "writes": latency_summary([o.latency for o in outcomes if o.kind in WRITES]),
        "errors": sum(k["errors"] for k in kinds.values()),
        "error_statuses": dict(sorted(statuses.items())),
    }


def lag_figures(
    before: list[tuple[str, dict[str, str], float]],
    after: list[tuple[str, dict[str, str], float]],
    gauge_samples: list[float],
) -> dict[str, Any]:
    run = bucket_difference(lag_buckets(after), lag_buckets(before))
    if run:
        combined: dict[float, float] = defaultdict(float)
        for buckets in run.values():
            for bound, count in buckets.items():
                combined[bound] += count
        per_projection = {
            projection: histogram_quantile(0.99, buckets) for projection, buckets in run.items()
        }
        measured = {p: v for p, v in per_projection.items() if v is not None}
        worst = max(measured, key=lambda p: measured[p]) if measured else None
        p99 = histogram_quantile(0.99, dict(combined))
        p50 = histogram_quantile(0.50, dict(combined))
        finite = [b for b in combined if not math.isinf(b)]
        total = combined.get(math.inf, 0.0)
        # Past the largest finite bucket the histogram only says "at least that".
        beyond = bool(finite) and combined[max(finite)] < 0.99 * total
        return {
            "source": "histogram crm_projection_apply_lag_seconds (scrape after − before)",
            "observations": int(combined.get(math.inf, 0)),
            "p50_ms": None if p50 is None else round(p50 * 1000, 1),
            "p99_ms": None if p99 is None else round(p99 * 1000, 1),
            "p99_is_a_lower_bound": beyond,
            "worst_projection": worst,
            "worst_projection_p99_ms": None if worst is None else round(measured[worst] * 1000, 1),
            "per_projection_p99_ms": {p: round(v * 1000, 1) for p, v in sorted(measured.items())},
            "target_p99_ms": LAG_TARGET_MS,
        }
    if gauge_samples:
        values = sorted(gauge_samples)
        return {
            "source": "gauge crm_projection_lag_seconds (age of the oldest unapplied event, "
            "max over projections) sampled every 0.5 s; the server has no lag histogram",
            "observations": len(values),
            "p50_ms": round(percentile(values, 0.50) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1),
            "target_p99_ms": LAG_TARGET_MS,
        }
    return {
        "source": "none: the server exposes no crm_projection_apply_lag_seconds",
        "p99_ms": None,
    }


# running it


def run(
    store: str,
    seconds: float,
    rate: float,
    reps: int,
    accounts_per_rep: int,
    max_in_flight: int,
    rate_limit: str,
    log_level: str,
    seed_value: int,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="crm_load_"))
    server: Server | None = None
    try:
        with _common.fresh_store(store, suffix="_load") as url:
            server = start_server(url, workdir, rate_limit, log_level)
            world = seed(server, reps, accounts_per_rep)
            wait_caught_up(server.url, 60)
            before = scrape(server.url)
            sampler = GaugeSampler(server.url)
            if not lag_buckets(before):  # no histogram: sample the gauges instead
                sampler.start()
            load_before = os.getloadavg()
            outcomes, dropped, sending, elapsed, peak = asyncio.run(
                drive(server.url, world, seconds, rate, max_in_flight, seed_value)
            )
            load_after = os.getloadavg()
            sampler.stopped.set()
            if sampler.is_alive():
                sampler.join()
            drain = wait_caught_up(server.url, 120)
            after = scrape(server.url)
            rss = server.rss_mib()
            server.stop()
            if server.process.returncode not in (0, -15):
                print(f"note: the server exited with {server.process.returncode}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    figures = summarise(outcomes)
    sent = len(outcomes)
    result: dict[str, Any] = {
        "seconds": seconds,
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(sent / max(sending, 1e-9), 1),
        "completed_per_s": round(sum(1 for o in outcomes if 0 < o.status < 400) / elapsed, 1),
        "sent": sent,
        "not_sent_over_max_in_flight": dropped,
        "peak_in_flight": peak,
        "sending_s": round(sending, 2),
        "elapsed_s": round(elapsed, 2),
        "machine_load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "drain_after_run_s": None if math.isnan(drain) else round(drain, 2),
        "reps": reps,
        "accounts_seeded": reps * accounts_per_rep,
        "mix": dict(MIX),
        "server": "crm-api serve (uvicorn, projection threads in-process), "
        f"CRM_RATE_LIMIT={rate_limit}",
        "server_rss_mib": round(rss, 1),
        **figures,
        "lag": lag_figures(before, after, sampler.samples),
    }
    save(store, result)
    print_result(store, result)
    return result


def save(store: str, result: dict[str, Any]) -> None:
    LOAD_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        everything = json.loads(LOAD_RESULTS.read_text())
    except (OSError, ValueError):
        everything = {}
    everything[store] = {**result, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    LOAD_RESULTS.write_text(json.dumps(everything, indent=2, sort_keys=True) + "\n")
    _common.write_results("load", store, result)


def print_result(store: str, r: dict[str, Any]) -> None:
    print(
        f"\nload  store={store}  {r['seconds']:.0f} s at {r['target_rate_per_s']:.0f}/s "
        f"(achieved {r['achieved_rate_per_s']:.1f}/s sent, {r['completed_per_s']:.1f}/s ok; "
        f"{r['not_sent_over_max_in_flight']} not sent; peak {r['peak_in_flight']} in flight; "
        f"load average {r['machine_load_average_1m'][0]} → {r['machine_load_average_1m'][1]})"
    )
    print(
        f"  {'kind':<16}{'n':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"
    )
    rows = [*r["kinds"].items(), ("reads", r["reads"]), ("writes", r["writes"])]
    rows.append(("all", {**r["overall"], "n": r["sent"], "errors": r["errors"]}))
    for kind, k in rows:
        n = k.get("n", "")
        errors = k.get("errors", "")
        print(
            f"  {kind:<16}{n!s:>7}{errors!s:>8}{k['p50_ms']:>10.1f}{k['p95_ms']:>10.1f}"
            f"{k['p99_ms']:>10.1f}{k['max_ms']:>10.1f}"
        )
    if r["error_statuses"]:
        print(f"  errors by kind:status {r['error_statuses']}")
    lag = r["lag"]
    p99 = lag.get("p99_ms")
    verdict = (
        "no figure"
        if p99 is None
        else (
            "met"
            if p99 <= LAG_TARGET_MS
            else f"missed by {(p99 - LAG_TARGET_MS) / LAG_TARGET_MS:.0%}"
        )
    )
    print(f"  event→read-model lag p99: {p99} ms (target ≤ {LAG_TARGET_MS} ms: {verdict})")
    if lag.get("worst_projection"):
        print(
            f"    worst projection {lag['worst_projection']}: p99 {lag['worst_projection_p99_ms']} ms"
        )
    print(f"    from {lag['source']}")
    print(
        f"  drained {r['drain_after_run_s']} s after the run; server RSS {r['server_rss_mib']} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=_common.STORES, default="sqlite")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, in all")
    parser.add_argument("--reps", type=int, default=10, help="clients (one rep each)")
    parser.add_argument("--accounts-per-rep", type=int, default=5)
    parser.add_argument("--max-in-flight", type=int, default=500)
    parser.add_argument(
        "--rate-limit",
        default="1000000/hour",
        help="CRM_RATE_LIMIT of the server (on, out of reach of this load by default)",
    )
    parser.add_argument("--log-level", default="INFO", help="CRM_LOG_LEVEL of the server")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    _common.quiet_logs()
    run(
        args.store,
        args.seconds,
        args.rate,
        args.reps,
        args.accounts_per_rep,
        args.max_in_flight,
        args.rate_limit,
        args.log_level,
        args.seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
