"""Fault injection (issue 9): real `crm-api` processes killed mid-work, and their database
connections dropped, then every read model compared with a rebuild from the log.

- A projection worker SIGKILLed over and over while it catches up and while writes go on:
  afterwards each read model equals a fresh rebuild (nothing lost, nothing applied twice).
- PostgreSQL: the worker's sessions ended with `pg_terminate_backend` again and again while
  it runs: it recovers by itself, with the same result.
- The API SIGKILLed while an orders:batch is in flight: retried (with the same
  Idempotency-Key and without one), each order exists once.

The comparison: the store is copied (a PostgreSQL template database, or SQLite's backup API),
`crm-api projections rebuild all` runs on the copy, and every table of every projection is
compared row by row, all columns. Tables no projection owns (idempotency keys, subject keys,
delivery state, the tracking rows themselves) are not read models and are left out; the
tracking rows are checked on their own: none stands before an event its projection handles.

CRM_FAULT_KILLS (default 10) and CRM_FAULT_SEED change the number of kills and the schedule;
docs/testing.md, "Fault injection".
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.utils import get_topic
from sqlalchemy import text, update

from crm_api.application.app import CommandContext
from crm_api.application.orders import LineInput, OrderInput
from crm_api.application.services import Services
from crm_api.auth import mint_token
from crm_api.demo import DEMO_ADMIN_ID, load_demo
from crm_api.domain.orders import Order
from crm_api.domain.people import Principal, Role
from crm_api.projections.base import tracking
from crm_api.settings import Settings
from tests.e2e.support import (
    Server,
    copy_store,
    drop_store,
    e2e_env,
    log_text,
    pg_admin,
    pg_database,
    read_model_differences,
    rebuild_all,
    start_server,
    start_worker,
    stop,
    unapplied,
)

pytestmark = pytest.mark.e2e

KILLS = int(os.environ.get("CRM_FAULT_KILLS", "10"))
SEED = int(os.environ.get("CRM_FAULT_SEED", "9"))
BATCH_SIZE = "10"
"""Events per projection transaction in the killed worker: small, so a kill finds batches
open (the setting is CRM_PROJECTION_BATCH_SIZE)."""

NOT_FROM_EVENTS: dict[str, frozenset[str] | None] = {
    "cv_accounts": frozenset({"auto_grade", "grade_as_of", "grade_due"}),
    "auto_grade_state": None,
}
"""Read-model state no event makes, left out of the comparison: the stored automatic grades,
a cache the watchers' tick writes at its own time (reads grade on the fly where it is missing
or due), so a rebuild starts without it and the next tick fills it."""

ADMIN = Principal(id=DEMO_ADMIN_ID, kind="user", role=Role.ADMIN, visible_owners=None)


def _settings(store_url: str) -> Settings:
    return Settings(database_url=store_url, jwt_secret="e2e-secret-" + "y" * 32)


def _ctx(principal: Principal = ADMIN) -> CommandContext:
    command_id = str(uuid.uuid4())
    return CommandContext(principal, command_id, command_id)


def _seed(services: Services, accounts: int) -> tuple[list[str], list[tuple[str, Decimal]]]:
    """A year of demo data (accounts, contacts, products, quotes, orders, opportunities,
    activities, tasks, service requests, work plans), then every read model emptied and its
    tracking row set back to 0, as `projections rebuild` does first: the worker has the whole
    log to apply. Returns the reps' ids and the products (id, list price)."""
    load_demo(services, accounts, plan_weeks=2)
    with services.read() as conn:
        reps = [r[0] for r in conn.execute(text("SELECT id FROM users WHERE role = 'rep'"))]
        products = [
            (r[0], Decimal(r[1]))
            for r in conn.execute(text("SELECT id, list_price FROM products ORDER BY sku"))
        ]
    assert reps and products, "the demo data has reps and products"
    with services.writer.begin() as conn:
        for runner in services.runners.values():
            runner.projection.clear(conn)
        conn.execute(update(tracking).values(position=0))
    return reps, products


@dataclass
class Traffic:
    """Writes through the application layer in a thread while the faults happen: accounts
    opened and transferred, contacts, activities, tasks, and order batches that place new
    orders and revise the previous batch's."""

    services: Services
    seed: int
    reps: list[str]
    products: list[tuple[str, Decimal]]
    steps: int = 0
    errors: list[BaseException] = field(default_factory=list)
    orders: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)
        self._previous: list[OrderInput] = []

    def step(self) -> None:
        rnd, n = self.rnd, self.steps
        rep = rnd.choice(self.reps)
        as_rep = Principal(id=rep, kind="user", role=Role.REP, visible_owners=frozenset({rep}))
        services = self.services
        account = services.accounts.open_account(
            _ctx(as_rep),
            name=f"Fault Works {self.seed}-{n}",
            owner_id=rep,
            industry="Manufacturing",
            phone=None,
            address={"line1": f"{n} Main Street", "city": "Lyon", "country": "FR"},
            manual_grade=rnd.choice(["A", "B", None]),
        ).record
        account_id = str(account.id)
        services.accounts.add_contact(
            _ctx(as_rep),
            account_id,
            name=f"Contact {n}",
            phone=None,
            email=f"contact{self.seed}.{n}@example.com",
            occupation="Buyer",
            birth_year=None,
        )
        services.activities.record_activity(
            _ctx(as_rep),
            account_id=account_id,
            type="call",
            subject=f"Call {n}",
            notes=None,
            duration_minutes=15,
        )
        services.tasks.create_task(
            _ctx(as_rep),
            title=f"Follow up {n}",
            due_date=services.clock.now().date() + timedelta(days=3),
            linked_type="account",
            linked_id=account_id,
        )
        now = services.clock.now()
        placed = [
            OrderInput(
                source="fault",
                external_id=f"F{self.seed}-{n}-{k}",
                ordered_at=now - timedelta(days=rnd.randint(0, 200)),
                currency="EUR",
                lines=self._lines(rnd),
                account_id=account_id,
            )
            for k in range(4)
        ]
        revised = [
            OrderInput(**{**vars(order), "lines": self._lines(rnd)}) for order in self._previous
        ]
        outcome = services.orders.upsert(_ctx(), placed + revised)
        failed = [r.error for r in outcome.results if r.error is not None]
        assert not failed, failed
        self.orders.update(o.external_id for o in placed)
        self._previous = placed[:2]
        if n % 3 == 2:
            others = [r for r in self.reps if r != rep]
            services.accounts.transfer_ownership(
                _ctx(), account_id, rnd.choice(others), "fault injection", None
            )
        self.steps += 1

    def _lines(self, rnd: random.Random) -> list[LineInput]:
        return [
            LineInput(
                quantity=Decimal(rnd.randint(1, 9)),
                unit_price=price,
                product_id=product_id,
                unit_cost=(price * Decimal("0.6")).quantize(Decimal("0.01")),
            )
            for product_id, price in rnd.sample(self.products, rnd.randint(1, 3))
        ]

    @contextmanager
    def running(self, pause: float = 0.3) -> Iterator[Traffic]:
        stopping = threading.Event()

        def run() -> None:
            while not stopping.is_set():
                try:
                    self.step()
                except BaseException as error:  # reported by the test, not lost in a thread
                    self.errors.append(error)
                    return
                stopping.wait(pause)

        thread = threading.Thread(target=run, name="fault-traffic", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stopping.set()
            thread.join(timeout=60)
        assert not self.errors, self.errors


def _positions(services: Services) -> dict[str, int]:
    with services.read() as conn:
        return {
            name: int(position)
            for name, position in conn.execute(
                text("SELECT name, position FROM projection_tracking")
            )
        }


def _wait_for_progress(services: Services, before: dict[str, int], log: Path) -> None:
    deadline = time.monotonic() + 60
    while _positions(services) == before:
        assert time.monotonic() < deadline, f"the worker moved nothing in 60 s\n{log_text(log)}"
        time.sleep(0.01)  # another process works; polling its progress, not our clock


def _in_transaction(store_url: str, pid: int) -> int:
    """How many sessions of process `pid` are inside a transaction now (PostgreSQL; 0 on
    SQLite, where another process's transaction can't be seen)."""
    if not store_url.startswith("postgresql"):
        return 0
    with pg_admin() as admin:
        return len(
            admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s "
                "AND xact_start IS NOT NULL",
                (pg_database(store_url), f"crm-api %:{pid}"),
            ).fetchall()
        )


def _wait_caught_up(services: Services, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        behind = unapplied(services)
        if not behind:
            return
        if time.monotonic() > deadline:
            with services.read() as conn:
                rows = conn.execute(
                    text(
                        "SELECT name, position, failures, paused, last_error FROM projection_tracking"
                    )
                ).all()
            raise AssertionError(
                f"not caught up after {timeout} s: {behind}\n{rows}\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.1)  # another process works; polling its progress, not our clock


def _assert_equals_a_rebuild(store_url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    copy = copy_store(store_url, tmp_path / "rebuilt")
    try:
        rebuild_all(copy)
        rebuilt = time.monotonic() - started
        assert read_model_differences(store_url, copy, NOT_FROM_EVENTS) == []
        print(
            f"copied and rebuilt in {rebuilt:.1f} s, compared in {time.monotonic() - started - rebuilt:.1f} s"
        )
    finally:
        drop_store(copy)


# 1. the worker killed mid-batch


def test_a_worker_killed_mid_batch_again_and_again_loses_nothing_and_repeats_nothing(
    store_url, tmp_path
):
    env = e2e_env(store_url, CRM_PROJECTION_BATCH_SIZE=BATCH_SIZE, CRM_LOG_LEVEL="WARNING")
    log = tmp_path / "worker.log"
    services = Services(_settings(store_url))
    rnd = random.Random(SEED)
    busy_kills = open_transactions = 0
    try:
        started = time.monotonic()
        reps, products = _seed(services, accounts=20)
        seeded = services.app.head()
        traffic = Traffic(services, SEED, reps, products)
        before = _positions(services)
        with traffic.running():
            for _ in range(KILLS):
                worker = start_worker(env, log)
                # A random moment of its work: 50-300 ms after it first moved a projection.
                _wait_for_progress(services, before, log)
                time.sleep(rnd.uniform(0.05, 0.3))
                open_transactions += _in_transaction(store_url, worker.pid)
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                after = _positions(services)
                # Killed while it was working: some projection still had events to apply.
                if unapplied(services):
                    busy_kills += 1
                before = after
        head = services.app.head()
        killed = time.monotonic() - started
        final = start_worker(e2e_env(store_url, CRM_LOG_LEVEL="WARNING"), log)
        try:
            _wait_caught_up(services, 60, log)
            caught_up = time.monotonic() - started
        finally:
            stop(final)
        orders = traffic.orders
    finally:
        services.close()
    print(
        f"\n{KILLS} kills, {busy_kills} with work left, {open_transactions} worker sessions "
        f"in a transaction at the kills (PostgreSQL); log {seeded} seeded + "
        f"{head - seeded} written meanwhile ({len(orders)} orders); seeded, killed and caught "
        f"up in {killed:.1f} s and {caught_up:.1f} s"
    )
    assert traffic.steps > 0
    assert busy_kills >= KILLS // 2, f"only {busy_kills} of {KILLS} kills found work under way"
    if store_url.startswith("postgresql"):
        assert open_transactions > 0, "no kill found a batch open"
    _assert_equals_a_rebuild(store_url, tmp_path)


# 2. the worker's database sessions ended under it (PostgreSQL)


def _terminate_sessions(store_url: str, pid: int) -> int:
    """End every session of process `pid` on the store's database; how many were ended. The
    process names its sessions `crm-api HOST:PID` (crm_api.db.process_name)."""
    with pg_admin() as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name LIKE %s",
                (pg_database(store_url), f"crm-api %:{pid}"),
            ).fetchall()
        )


def test_a_worker_whose_database_sessions_are_ended_recovers_by_itself(store_url, tmp_path):
    if not store_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend: PostgreSQL only")
    env = e2e_env(store_url, CRM_PROJECTION_BATCH_SIZE=BATCH_SIZE, CRM_LOG_LEVEL="WARNING")
    log = tmp_path / "worker.log"
    services = Services(_settings(store_url))
    rnd = random.Random(SEED + 1)
    ended = []
    try:
        reps, products = _seed(services, accounts=20)
        traffic = Traffic(services, SEED + 1, reps, products)
        worker = start_worker(env, log)
        try:
            with traffic.running():
                for _ in range(max(KILLS, 10)):
                    time.sleep(rnd.uniform(0.1, 0.4))  # a random moment of the worker's work
                    ended.append(_terminate_sessions(store_url, worker.pid))
            # The same process, never restarted, brings every read model to the head.
            _wait_caught_up(services, 60, log)
            assert worker.poll() is None, log.read_text()[-3000:]
            with services.read() as conn:
                paused = conn.execute(
                    text("SELECT name FROM projection_tracking WHERE paused")
                ).all()
            assert paused == []
            # It holds its projections' locks again, on new sessions (status names it).
            holders = [row.holder for row in services.status()]
            assert all(h and f":{worker.pid} " in h for h in holders), holders
        finally:
            stop(worker)
    finally:
        services.close()
    print(f"\nended {sum(ended)} sessions of the worker in {len(ended)} rounds")
    assert sum(ended) >= len(ended), ended
    _assert_equals_a_rebuild(store_url, tmp_path)


# 3. the API killed during a batch import


def _order(batch: int, n: int) -> dict[str, Any]:
    return {
        "source": "erp-import",
        "external_id": f"SO-{batch}-{n:04d}",
        "account_ref": {
            "source": "erp-import",
            "id": f"C{n % 40:02d}",
            "name": f"Customer {n % 40}",
        },
        "ordered_at": f"2026-0{1 + n % 9}-{1 + n % 28:02d}T10:00:00Z",
        "currency": "EUR",
        "lines": [
            {"sku": f"FAULT-{(n + k) % 3}", "quantity": str(1 + (n + k) % 5), "unit_price": "12.50"}
            for k in range(1 + n % 3)
        ],
    }


def _placed(services: Services, source: str) -> Counter[str]:
    """Order.Placed events per external id of `source`, read from the log."""
    topic = get_topic(Order.Placed)
    head = services.app.head()
    placed: Counter[str] = Counter()
    start = 1
    while start <= head:
        notes = services.app.recorder.select_notifications(
            start=start, limit=1000, stop=head, topics=[topic]
        )
        for note in notes:
            event = services.app.mapper.to_domain_event(note)
            if event.source == source:
                placed[event.external_id] += 1
        if len(notes) < 1000:
            break
        start = notes[-1].id + 1
    return placed


def _push(http: httpx.Client, orders: list[dict[str, Any]], owner: str, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    body = {"orders": orders, "create_missing_accounts": {"owner_id": owner}}
    for _ in range(50):
        answer = http.post("/api/v1/orders:batch", json=body, headers=headers)
        if answer.status_code != 409:
            return answer
        # The killed request's key is still leased (CRM_IDEMPOTENCY_LEASE_SECONDS=1 here).
        assert answer.json()["code"] == "idempotency_key_in_flight", answer.text
        time.sleep(0.2)
    raise AssertionError("the key stayed in flight")


class _InFlight(threading.Thread):
    """One orders:batch request in a thread: answered, or failed when the server dies."""

    def __init__(
        self,
        base: str,
        headers: dict[str, str],
        orders: list[dict[str, Any]],
        owner: str,
        key: str,
    ) -> None:
        super().__init__(name="in-flight-batch")
        self.base, self.headers, self.orders, self.owner, self.key = (
            base,
            headers,
            orders,
            owner,
            key,
        )
        self.answered: list[httpx.Response] = []
        self.failed: list[httpx.TransportError] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=60) as http:
            try:
                self.answered.append(_push(http, self.orders, self.owner, self.key))
            except httpx.TransportError as error:
                self.failed.append(error)


def _kill_when_saved(services: Services, server: Server, head: int, timeout: float) -> None:
    """SIGKILL the server as soon as the log grows past `head`: the batch's events are saved
    and its answer is not sent yet."""
    deadline = time.monotonic() + timeout
    while services.app.head() <= head:
        assert time.monotonic() < deadline, "the batch saved nothing"
        time.sleep(0.001)  # watching another process's commit
    server.process.send_signal(signal.SIGKILL)


def test_an_api_killed_during_a_batch_import_makes_each_order_once_on_retry(store_url, tmp_path):
    """Three batches of 1,000 orders (with accounts created by reference): the first is
    answered; the server is SIGKILLed while the second is in flight (early: before it saves)
    and while the third is (as soon as its events are saved, before the answer). After a
    restart all three are sent again, under the same Idempotency-Key or none: each order and
    each account exists once, in the lists and in the log."""
    env = e2e_env(store_url, CRM_IDEMPOTENCY_LEASE_SECONDS="1", CRM_LOG_LEVEL="WARNING")
    log = tmp_path / "server.log"
    batches = [[_order(b, n) for n in range(1000)] for b in range(3)]
    keys = [f"import-{b}-{uuid.uuid4()}" for b in range(3)]
    server = start_server(env, log=log)
    services = Services(_settings(store_url))
    recorded: list[int] = []
    try:
        minted = mint_token(
            _settings(store_url),
            DEMO_ADMIN_ID,
            roles=["admin"],
            ttl=timedelta(hours=1),
            now=datetime.now(UTC),
        )
        admin = {"Authorization": f"Bearer {minted}"}
        with httpx.Client(base_url=server.base, headers=admin, timeout=60) as http:
            rep = http.post(
                "/api/v1/users",
                json={"name": "Ida Import", "email": "ida@example.com", "role": "rep"},
            )
            assert rep.status_code == 201, rep.text
            owner = rep.json()["id"]
            for k in range(3):
                product = http.post(
                    "/api/v1/products",
                    json={
                        "sku": f"FAULT-{k}",
                        "name": f"Part {k}",
                        "list_price": "12.50",
                        "unit_cost": "7.00",
                        "floor_price": "10.00",
                        "currency": "EUR",
                    },
                )
                assert product.status_code == 201, product.text
            started = time.monotonic()
            first = _push(http, batches[0], owner, keys[0])
            took = time.monotonic() - started
            assert first.status_code == 200, first.text
            assert {r["status"] for r in first.json()["results"]} == {"created"}
        for b in (1, 2):
            head = services.app.head()
            request = _InFlight(server.base, admin, batches[b], owner, keys[b])
            request.start()
            if b == 1:
                time.sleep(took * 0.3)  # early in the request, by the first one's time
                server.process.send_signal(signal.SIGKILL)
            else:
                _kill_when_saved(services, server, head, timeout=took * 20 + 10)
            server.process.wait()
            request.join(timeout=60)
            assert request.answered == [] and request.failed, f"batch {b} answered before the kill"
            recorded.append(
                sum(1 for i in _placed(services, "erp-import") if i.startswith(f"SO-{b}-"))
            )
            server = start_server(env, log=log)
        with httpx.Client(base_url=server.base, headers=admin, timeout=60) as http:
            # The same batches again: batch 1 under its key, batch 2 without one, batch 0
            # without one too (it was answered: all of it is unchanged).
            retried = [
                _push(http, batches[1], owner, keys[1]),
                _push(http, batches[2], owner, None),
                _push(http, batches[0], owner, None),
            ]
            for answer in retried:
                assert answer.status_code == 200, answer.text
                results = answer.json()["results"]
                assert [r for r in results if r["status"] not in ("created", "unchanged")] == []
            assert {r["status"] for r in retried[2].json()["results"]} == {"unchanged"}
            position = max(int(a.headers["X-Log-Position"]) for a in retried)
            listed: Counter[str] = Counter()
            cursor = None
            while True:
                params: dict[str, Any] = {
                    "source": "erp-import",
                    "limit": 200,
                    "min_position": position,
                }
                if cursor:
                    params["cursor"] = cursor
                page = http.get("/api/v1/orders", params=params)
                assert page.status_code == 200, page.text
                listed.update(o["external_id"] for o in page.json()["data"])
                cursor = page.json()["next_cursor"]
                if not page.json()["has_more"]:
                    break
            accounts = http.get("/api/v1/accounts", params={"limit": 200}).json()["data"]
        _wait_caught_up(services, 60, log)
        elapsed = time.monotonic() - started
        placed = _placed(services, "erp-import")
    finally:
        stop(server.process)
        services.close()
    expected = {o["external_id"] for batch in batches for o in batch}
    assert set(listed) == expected and set(listed.values()) == {1}
    assert set(placed) == expected and set(placed.values()) == {1}
    assert sorted(a["name"] for a in accounts) == sorted({f"Customer {n}" for n in range(40)})
    print(
        f"\nfirst batch of 1,000 took {took:.2f} s; killed early ({recorded[0]} orders of "
        f"its batch recorded) and once saved ({recorded[1]} recorded); all retried, listed "
        f"and projected {elapsed:.1f} s after the first batch began"
    )
    assert recorded == [0, 1000]
    _assert_equals_a_rebuild(store_url, tmp_path)
