"""Shared helpers for the benchmarks: a fresh store, RSS, results file, the bare fast path."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

# Benchmarks measure throughput, not the per-client rate limit (its own cost, ~30 µs a request
# with memory storage, is in docs/api-limits.md); load.py sets the server's limit itself.
os.environ.setdefault("CRM_RATE_LIMIT", "off")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
PG_ADMIN = os.environ.get(
    "CRM_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
STORES = ("sqlite", "postgres")

# alembic.ini is looked up from the project folder; make imports work from anywhere.
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@contextmanager
def fresh_store(kind: str, suffix: str = "") -> Iterator[str]:
    """A new, migrated, empty store; removed afterwards. Yields its CRM_DATABASE_URL."""
    from crm_api.db import Store, migrate

    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="crm_bench_"))
        url = f"sqlite:///{folder / 'crm.db'}"
        try:
            migrate(Store(url))
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if kind != "postgres":
        raise ValueError(f"unknown store {kind!r}")
    import psycopg

    name = f"crm_bench_{os.getpid()}{suffix}"
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@"
        f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
    )
    try:
        migrate(Store(url))
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bare_application(url: str) -> Any:
    from crm_api.application.app import CrmApplication
    from crm_api.application.notifier import LogNotifier
    from crm_api.db import Store
    from crm_api.domain.context import SystemClock

    return CrmApplication(Store(url).event_store_env(), SystemClock(), LogNotifier())


def bench_meta(now: datetime) -> Any:
    from crm_api.domain.context import EventMeta

    return EventMeta(
        actor="00000000-0000-4000-8000-000000000001",
        actor_type="user",
        on_behalf_of=None,
        occurred_at=now,
        command_id=str(uuid4()),
        correlation_id=str(uuid4()),
    )


def open_bare_accounts(
    app: Any, n: int, owner_id: str, *, batch: int = 1, prefix: str = "Bare"
) -> None:
    """Create n accounts through the bare application, `batch` aggregates per save."""
    from crm_api.domain.accounts import Account
    from crm_api.domain.context import recording

    pending = []
    for i in range(n):
        now = datetime.now(UTC)
        with recording(bench_meta(now), now):
            account = Account(
                id=uuid4(),
                name=f"{prefix} {i}",
                owner_id=owner_id,
                industry="Manufacturing",
                phone=None,
                address={"line1": "1 Main St", "city": "Springfield"},
                manual_grade=None,
            )
        pending.append(account)
        if len(pending) >= batch:
            app.save(*pending)
            pending.clear()
    if pending:
        app.save(*pending)


def write_results(benchmark: str, store: str, data: dict[str, Any]) -> None:
    """Merge into benchmarks/results/latest.json under results[benchmark][store]."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        results = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        results = {}
    entry = dict(data)
    entry["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    entry["python"] = sys.version.split()[0]
    results.setdefault(benchmark, {})[store] = entry
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    tmp.replace(RESULTS)


def quiet_logs() -> None:
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
