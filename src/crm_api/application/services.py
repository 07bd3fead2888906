"""The composition root: one store URL in, the application, read side and runners out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from crm_api.application.accounts import AccountService
from crm_api.application.activities import ActivityService
from crm_api.application.app import CrmApplication
from crm_api.application.attachments import AttachmentIntake, forget_contact_files
from crm_api.application.catalog import CatalogService
from crm_api.application.directory import DirectoryService
from crm_api.application.forecasts import ForecastService
from crm_api.application.idempotency import IdempotencyStore
from crm_api.application.inbound import InboundDesk
from crm_api.application.insights import InsightsService
from crm_api.application.invoices import InvoiceService
from crm_api.application.notices import NoticeService
from crm_api.application.notifier import LogNotifier
from crm_api.application.opportunities import OpportunityService
from crm_api.application.orders import OrderService
from crm_api.application.quotes import QuoteService
from crm_api.application.service import CustomerMailer, ServiceDesk
from crm_api.application.shipments import ShipmentService
from crm_api.application.sync import SyncService
from crm_api.application.tasks import TaskService
from crm_api.application.watchers import TICK_TOPICS, AlertService, TickReport, Watchers
from crm_api.application.webhooks import WebhookService
from crm_api.application.work_plans import WorkPlanService
from crm_api.auth import Authenticator
from crm_api.blobs import BlobStore
from crm_api.db import Store, create_read_engine
from crm_api.domain.alerts import DormancyRule
from crm_api.domain.context import Clock, SystemClock
from crm_api.domain.grading import GradingRule
from crm_api.integrations.event_feed import EventFeed
from crm_api.integrations.ssrf import UrlGuard
from crm_api.integrations.webhooks import Deliverer
from crm_api.privacy.erasure import ErasureService
from crm_api.privacy.exports import ExportService
from crm_api.privacy.keys import SubjectKeys, check_store_key, cipher_env, secure_delete
from crm_api.projections.group import ProjectionGroup
from crm_api.projections.quotes import due_to_expire
from crm_api.projections.registry import PROJECTIONS
from crm_api.projections.runner import ProjectionRunner
from crm_api.projections.status import ProjectionStatus, projection_status
from crm_api.settings import Settings
from crm_api.workspaces import current_workspace, workspace_blobs

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 600.0


class Services:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store(settings.database_url)
        self.notifier = LogNotifier()
        self.app = CrmApplication(
            {**self.store.event_store_env(), **cipher_env(settings.cipher_key)},
            self.clock,
            self.notifier,
        )
        check_store_key(self.app)
        self.engine = create_read_engine(self.store)
        self.writer = create_read_engine(self.store, writer=True)
        secure_delete(self.engine)
        secure_delete(self.writer)
        self.subject_keys = SubjectKeys(
            self.engine, self.writer, self.clock, self.app.mapper.cipher
        )
        self.app.use_subject_keys(self.subject_keys)
        self.erasure = ErasureService(self.app, self.subject_keys, self.writer)
        self.idempotency = IdempotencyStore(
            self.writer,
            lease=timedelta(seconds=settings.idempotency_lease_seconds),
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
        )
        self.workspace = current_workspace(self.engine, settings)
        self.authenticator = Authenticator(settings, training=self.workspace.training)
        self.directory = DirectoryService(self.app)
        self.accounts = AccountService(self.app)
        self.catalog = CatalogService(self.app)
        self.opportunities = OpportunityService(self.app)
        self.forecasts = ForecastService(self.app)
        self.quotes = QuoteService(self.app)
        self.activities = ActivityService(self.app)
        self.tasks = TaskService(self.app)
        self.work_plans = WorkPlanService(self.app)
        self.notices = NoticeService(self.app)
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
        self.service = ServiceDesk(self.app, self.engine)
        self.blobs: BlobStore = workspace_blobs(settings, self.workspace)
        self.intake = AttachmentIntake(
            self.blobs, settings.max_attachment_bytes, settings.attachment_types
        )
        self.inbound = InboundDesk(self.app, self.engine, self.service, self.intake)
        self.erasure.forget_files = lambda contact_id: forget_contact_files(
            self.engine, self.blobs, contact_id
        )
        self.mailer = (
            CustomerMailer(
                reader=self.engine,
                writer=self.writer,
                clock=self.clock,
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_from,
                timeout=settings.smtp_timeout_seconds,
            )
            if settings.smtp_host
            else None
        )
        self.exports = ExportService(self.app, self.clock, settings.export_daily_cap)
        self.sync = SyncService(self.app, self.idempotency, self.clock)
        self.alerts = AlertService(self.app)
        self.watchers = Watchers(
            self.app,
            self.engine,
            DormancyRule.parse(settings.dormancy_days, settings.dormancy_days_by_grade),
        )
        self.insights = InsightsService(
            self.engine,
            self.clock,
            GradingRule.parse(
                settings.grade_window_days,
                settings.grade_recency_days,
                settings.grade_frequency,
                settings.grade_monetary,
            ),
            self.writer,
        )
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
        self.projections = ProjectionGroup(
            list(self.runners.values()),
            self.app,
            self.writer,
            self.notifier,
            reader=self.engine,
            batch_size=settings.projection_batch_size,
            poll_seconds=settings.projection_poll_seconds,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: threading.Thread | None = None

    def observe(self, metrics: Any) -> None:
        """Report commands, appends, batches and projection status to these metrics."""
        self.app.observer = metrics
        for runner in self.runners.values():
            runner.observer = metrics
        self.projections.observer = metrics
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
        """Run every projection in this process: one thread applies them together
        (projections/group.py)."""
        thread = threading.Thread(
            target=self.projections.run_forever,
            args=(self._stop,),
            name="projection-group",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)
        maintenance = threading.Thread(target=self._maintain, name="maintenance", daemon=True)
        maintenance.start()
        self._threads.append(maintenance)
        watchers = threading.Thread(target=self._watch, name="watchers", daemon=True)
        watchers.start()
        self._threads.append(watchers)
        # A training workspace reaches nothing outside itself: no webhooks, no customer mail.
        if self.settings.webhook_delivery and not self.workspace.training:
            deliverer = threading.Thread(
                target=self.deliverer.run_forever,
                args=(self._stop, self._wait_for_append),
                name="webhook-deliverer",
                daemon=True,
            )
            deliverer.start()
            self._threads.append(deliverer)
        if self.mailer is not None and not self.workspace.training:
            mailer = threading.Thread(
                target=self.mailer.run_forever,
                args=(self._stop, self._wait_for_append),
                name="customer-mailer",
                daemon=True,
            )
            mailer.start()
            self._threads.append(mailer)
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

    def _watch(self) -> None:
        """The watchers' tick (docs/analytics.md): raise due alerts, clear ended ones."""
        while True:
            try:
                self.run_watchers()
            except Exception:
                log.exception("the watchers' tick failed; will retry")
            if self._stop.wait(self.settings.watcher_tick_seconds):
                return

    def run_watchers(self, now: datetime | None = None) -> TickReport:
        """One watchers' tick at `now` (default: the clock's now); the alerts read model then
        shows what it raised and cleared."""
        at = now or self.clock.now()
        self.insights.refresh_grades(at)
        raised = cleared = last = 0
        while True:
            report = self.watchers.tick(at)
            raised, cleared = raised + report.raised, cleared + report.cleared
            if report.last_position:
                last = report.last_position
                # The next pass reads the alerts read model: wait for the read models of the
                # alerts, not for every one (a lagging report must not slow the watchers).
                self.wait_for(last, TICK_TOPICS)
            if not (report.more and report.changed):
                return TickReport(raised, cleared, last)

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
        self.projections.catch_up()

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
            self.projections.catch_up(names)
            return True
        inline = [r.name for r in runners if r.active and self.notifier.is_healthy(r.name)]
        if inline:
            try:
                self.projections.catch_up_to(position, inline)
            except Exception:
                log.debug("catching up inline failed; the projection thread will retry")
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
