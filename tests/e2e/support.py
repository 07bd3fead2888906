"""Shared by the end-to-end tests: real `crm-api` processes on loopback, their environment,
and the store-level checks the fault tests make (a copy of the store rebuilt from the log, read
models compared table by table)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from crm_api.db import Store

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get(
    "CRM_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def e2e_env(store_url: str, **settings: str) -> dict[str, str]:
    """The environment of a child `crm-api` process on this store; `settings` are more
    CRM_* variables (e.g. CRM_PROJECTION_BATCH_SIZE="20")."""
    return {
        **os.environ,
        "CRM_DATABASE_URL": store_url,
        "CRM_JWT_SECRET": "e2e-secret-" + "y" * 32,
        "CRM_WORKSPACE_NAME": "e2e",
        **settings,
    }


def token(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [BIN / "crm-api", "token", *args], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str


def start_server(env: dict[str, str], *extra: str, log: Path | None = None) -> Server:
    """`crm-api serve` on a free port, returned once /health answers."""
    port = free_port()
    out = log.open("ab") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [BIN / "crm-api", "serve", "--port", str(port), *extra],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    with httpx.Client() as probe:
        for _ in range(400):
            try:
                if probe.get(f"{base}/health").status_code == 200:
                    return Server(process, base)
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else log_text(log)
                raise AssertionError(f"crm-api serve exited {process.returncode}:\n{output}")
            time.sleep(0.05)  # waiting for a child process to bind its port, not for our clock
    process.kill()
    raise AssertionError(f"crm-api serve did not answer /health in 20 s:\n{log_text(log)}")


@contextmanager
def serving(env: dict[str, str], *extra: str) -> Iterator[str]:
    server = start_server(env, *extra)
    try:
        yield server.base
    finally:
        server.process.terminate()
        server.process.wait(timeout=20)


def log_text(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`crm-api worker`, returned once it says its projections run (its output goes to
    `log`, appended, so the runs of one test stay readable in one file)."""
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(
            [BIN / "crm-api", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    for _ in range(600):
        with log.open("rb") as written:
            written.seek(start)
            if b"worker running" in written.read():
                return process
        if process.poll() is not None:
            raise AssertionError(f"crm-api worker exited {process.returncode}:\n{log_text(log)}")
        time.sleep(0.02)  # a child process starting, not our clock
    process.kill()
    raise AssertionError(f"crm-api worker did not start in 12 s:\n{log_text(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL when it does not end in 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# the store


def pg_admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


def pg_database(url: str) -> str:
    return str(make_url(url).database)


def copy_store(url: str, folder: Path) -> str:
    """A copy of the whole store (events and read side) beside the original, its URL. On
    PostgreSQL a database made from the original as a template (nobody may be connected to
    the original: sessions of killed processes still open are ended); on SQLite both files
    through SQLite's backup API (consistent whatever the WAL holds)."""
    store = Store(url)
    if store.is_postgres:
        source = pg_database(url)
        name = f"{source[:40]}_copy_{uuid.uuid4().hex[:6]}"
        with pg_admin() as admin:
            for attempt in range(50):
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (source,),
                )
                try:
                    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)  # a terminated backend takes a moment to go
        return str(make_url(url).set(database=name))
    folder.mkdir(parents=True, exist_ok=True)
    events = store.sqlite_path
    read = Path(str(make_url(store.read_url).database))
    for source_file in (events, read):
        with (
            sqlite3.connect(source_file) as source_db,
            sqlite3.connect(folder / source_file.name) as target_db,
        ):
            source_db.backup(target_db)
        source_db.close()
        target_db.close()
    return f"sqlite:///{folder / events.name}"


def drop_store(url: str) -> None:
    store = Store(url)
    if store.is_postgres:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{pg_database(url)}" WITH (FORCE)')
    else:
        shutil.rmtree(store.sqlite_path.parent, ignore_errors=True)


def rebuild_all(url: str) -> None:
    """`crm-api projections rebuild all`: every read model emptied and replayed from the log."""
    done = subprocess.run(
        [BIN / "crm-api", "projections", "rebuild", "all"],
        env=e2e_env(url),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def projection_tables() -> dict[str, list[Any]]:
    from crm_api.projections.registry import PROJECTIONS

    return {name: list(projection.tables) for name, projection in PROJECTIONS.items()}


def _rows(conn: Any, table: Any, ignored: frozenset[str]) -> list[tuple[Any, ...]]:
    keys = list(table.primary_key.columns) or list(table.columns)
    columns = [c for c in table.columns if c.name not in ignored]
    return [tuple(row) for row in conn.execute(select(*columns).order_by(*keys))]


def read_model_differences(
    url: str, rebuilt_url: str, ignore: dict[str, frozenset[str] | None] | None = None
) -> list[str]:
    """Every projection's tables in the store at `url` against the same tables of a store
    rebuilt from the same log: row by row, every column but those `ignore` names per table
    (None: the whole table). Empty when they are equal."""
    ignore = ignore or {}
    differences = []
    live = create_engine(Store(url).read_url)
    fresh = create_engine(Store(rebuilt_url).read_url)
    try:
        with live.connect() as a, fresh.connect() as b:
            for name, tables in projection_tables().items():
                for table in tables:
                    if table.name in ignore and ignore[table.name] is None:
                        continue
                    ignored = ignore.get(table.name) or frozenset()
                    kept, rebuilt = _rows(a, table, ignored), _rows(b, table, ignored)
                    if kept == rebuilt:
                        continue
                    seen_kept, seen_rebuilt = set(map(repr, kept)), set(map(repr, rebuilt))
                    only_kept = [r for r in kept if repr(r) not in seen_rebuilt]
                    only_rebuilt = [r for r in rebuilt if repr(r) not in seen_kept]
                    differences.append(
                        f"{name}.{table.name}: {len(kept)} rows kept vs {len(rebuilt)} rebuilt; "
                        f"only kept {only_kept[:3]!r}; only rebuilt {only_rebuilt[:3]!r}"
                    )
    finally:
        live.dispose()
        fresh.dispose()
    return differences


def unapplied(services: Any) -> dict[str, tuple[int, int]]:
    """Projections whose tracking row stands before an event they handle, with (position,
    first such event). A projection without events of its topics past its row is caught up
    even when its row is behind the head: runners skip such ranges without writing."""
    from sqlalchemy import text

    head = services.app.head()
    with services.read() as conn:
        positions = dict(conn.execute(text("SELECT name, position FROM projection_tracking")).all())
    behind = {}
    for name, runner in services.runners.items():
        position = int(positions.get(name, 0))
        if position >= head:
            continue
        pending = services.app.recorder.select_notifications(
            start=position + 1, limit=1, stop=head, topics=runner.topics
        )
        if pending:
            behind[name] = (position, pending[0].id)
    return behind
