"""The composition root: one store URL in, the application, read side and runners out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from crm_api.application.accounts import AccountService
from crm_api.application.app import CrmApplication
from crm_api.application.catalog import CatalogService
from crm_api.application.directory import DirectoryService
from crm_api.application.forecasts import ForecastService
from crm_api.application.idempotency import IdempotencyStore
from crm_api.application.invoices import InvoiceService
from crm_api.application.notifier import LogNotifier
from crm_api.application.opportunities import OpportunityService
from crm_api.application.orders import OrderService
from crm_api.application.quotes import QuoteService
from crm_api.application.shipments import ShipmentService
from crm_api.application.webhooks import WebhookService
from crm_api.auth import Authenticator
from crm_api.db import Store, create_read_engine
from crm_api.domain.context import Clock, SystemClock
from crm_api.integrations.event_feed import EventFeed
from crm_api.integrations.ssrf import UrlGuard
from crm_api.integrations.webhooks import Deliverer
from crm_api.projections.quotes import due_to_expire
from crm_api.projections.registry import PROJECTIONS
from crm_api.projections.runner import ProjectionRunner
from crm_api.projections.status import ProjectionStatus, projection_status
from crm_api.settings import Settings

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 600.0


class Services:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store(settings.database_url)
        self.notifier = LogNotifier()
        self.app = CrmApplication(self.store.event_store_env(), self.clock, self.notifier)
        self.engine = create_read_engine(self.store)
        self.writer = create_read_engine(self.store, writer=True)
        self.idempotency = IdempotencyStore(
            self.writer,
            lease=timedelta(seconds=settings.idempotency_lease_seconds),
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
        )
        self.authenticator = Authenticator(settings)
        self.directory = DirectoryService(self.app)
        self.accounts = AccountService(self.app)
        self.catalog = CatalogService(self.app)
        self.opportunities = OpportunityService(self.app)
        self.forecasts = ForecastService(self.app)
        self.quotes = QuoteService(self.app)
        self.feed = EventFeed(self.app, f"/crm/{settings.workspace_name}")
        url_guard = UrlGuard.from_setting(settings.webhook_allow)
        self.webhooks = WebhookService(
            self.app,
            self.writer,
            url_guard,
            grace=timedelta(hours=settings.webhook_secret_grace_hours),
        )
        self.deliverer = Deliverer(
            feed=self.feed,
            writer=self.writer,
            reader=self.engine,
            clock=self.clock,
            guard=url_guard,
            disable_gone=self.webhooks.disable_gone,
            max_attempts=settings.webhook_max_attempts,
            timeout=settings.webhook_timeout_seconds,
        )
        self.shipments = ShipmentService(self.app)
        self.invoices = InvoiceService(self.app)
        self.orders = OrderService(self.app, self.engine)
        self.runners = {
            name: ProjectionRunner(
                projection_class(),
                self.app,
                self.writer,
                self.notifier,
                reader=self.engine,
                batch_size=settings.projection_batch_size,
                poll_seconds=settings.projection_poll_seconds,
            )
            for name, projection_class in PROJECTIONS.items()
        }
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: threading.Thread | None = None

    def observe(self, metrics: Any) -> None:
        """Report commands, appends, batches and projection status to these metrics."""
        self.app.observer = metrics
        for runner in self.runners.values():
            runner.observer = metrics
        self.deliverer.observer = metrics
        metrics.watch_projections(self.status)

    @property
    def running(self) -> bool:
        """Whether this process runs the projections (threads started)."""
        return bool(self._threads)

    def status(self) -> list[ProjectionStatus]:
        return projection_status(self, self.clock.now())

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def start_workers(self) -> None:
        """Run every projection in a thread of this process."""
        for runner in self.runners.values():
            thread = threading.Thread(
                target=runner.run_forever,
                args=(self._stop,),
                name=f"projection-{runner.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        maintenance = threading.Thread(target=self._maintain, name="maintenance", daemon=True)
        maintenance.start()
        self._threads.append(maintenance)
        if self.settings.webhook_delivery:
            deliverer = threading.Thread(
                target=self.deliverer.run_forever,
                args=(self._stop, self._wait_for_append),
                name="webhook-deliverer",
                daemon=True,
            )
            deliverer.start()
            self._threads.append(deliverer)
        self.start_listener()

    def _maintain(self) -> None:
        """Housekeeping while serving: forget Idempotency-Keys past their time to live, expire
        quotes past their valid_until."""
        while True:
            try:
                self.idempotency.purge(self.clock.now())
            except Exception:
                log.exception("idempotency purge failed; will retry")
            try:
                self.expire_due_quotes()
            except Exception:
                log.exception("expiring due quotes failed; will retry")
            if self._stop.wait(MAINTENANCE_SECONDS):
                return

    def _wait_for_append(self, timeout: float) -> None:
        self.notifier.wait_for_append(self.notifier.generation, timeout)

    def expire_due_quotes(self) -> int:
        """Expire every open quote past its valid_until, as the system; returns how many."""
        expired = 0
        while True:
            with self.read() as conn:
                due = due_to_expire(conn, self.clock.now().date())
            done = self.quotes.expire_due(due)
            expired += done
            if len(due) < 500 or done == 0:
                return expired

    def start_listener(self) -> None:
        """Across processes (PostgreSQL): hear appends and projection progress."""
        if not self.store.is_postgres or self._listener is not None:
            return
        from crm_api.projections.listener import listen

        self._listener = threading.Thread(
            target=listen,
            args=(
                self.store.psycopg_conninfo(),
                getattr(self.app.recorder, "channel_name", "crm_events"),
                self.notifier,
                self._stop,
            ),
            name="log-listener",
            daemon=True,
        )
        self._listener.start()

    def catch_up(self) -> None:
        """Bring every read model to the head of the log, in this thread."""
        for runner in self.runners.values():
            runner.catch_up()

    def wait_for(
        self, position: int, topics: frozenset[str] | None = None, timeout: float | None = None
    ) -> bool:
        """Read-your-writes: wait (bounded) until the read models that handle `topics` (all of
        them when None) have applied `position`."""
        runners = [
            r
            for r in self.runners.values()
            if r.projection.read_your_writes and (topics is None or topics & set(r.topics))
        ]
        names = [r.name for r in runners]
        if not self._threads and not self._listener:
            for runner in runners:
                runner.catch_up()
            return True
        for runner in runners:
            if runner.active and self.notifier.is_healthy(runner.name):
                try:
                    runner.catch_up_to(position)
                except Exception:
                    log.debug("catching up %s inline failed; its runner will retry", runner.name)
        timeout = self.settings.read_your_writes_timeout if timeout is None else timeout
        if not self._threads:
            for runner in self.runners.values():
                self.notifier.progressed(runner.name, runner.position())
        return self.notifier.wait_for_positions(position, names, timeout)

    def close(self) -> None:
        self._stop.set()
        for runner in self.runners.values():
            runner.wake()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._listener is not None:
            self._listener.join(timeout=5)
        self.deliverer.close()
        self.app.close()
        self.engine.dispose()
        self.writer.dispose()
