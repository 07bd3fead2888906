"""The projection runner: follows the notification log in batches, exactly once.

Each batch is applied to the read-model tables and the tracking row is advanced with a
compare-and-set, in one transaction: a crash loses nothing and applies nothing twice, and two
runners racing on one projection cannot both apply a batch (the loser's CAS matches no row and
its transaction rolls back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, select, text, update

from crm_api.application.notifier import LogNotifier
from crm_api.projections.base import Projection, insert_ignore, tracking
from crm_api.projections.status import lock_key

log = logging.getLogger(__name__)

PROGRESS_CHANNEL = "crm_projection_progress"
SKIP_PERSIST_EVERY = 5000


MAX_FAILURES_BEFORE_PAUSE = 5


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class EventFailed(Exception):
    """A handler raised on the event at `position`; the whole batch was rolled back."""

    def __init__(self, position: int, error: BaseException) -> None:
        super().__init__(f"event {position}: {error!r}")
        self.position = position
        self.error = error


class Observer(Protocol):
    def batch(self, projection: str, events: int) -> None: ...

    def projection_failed(self, projection: str) -> None: ...

    def lag(self, projection: str, seconds: float) -> None: ...


class _NoObserver:
    def batch(self, projection: str, events: int) -> None:
        pass

    def projection_failed(self, projection: str) -> None:
        pass

    def lag(self, projection: str, seconds: float) -> None:
        pass


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        app: Any,
        engine: Engine,
        notifier: LogNotifier,
        *,
        reader: Engine | None = None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.projection = projection
        self.app = app
        self.engine = engine
        self.reader = reader or engine
        self._skipped = (0, 0)
        self.notifier = notifier
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.topics = projection.topics()
        self.is_postgres = engine.dialect.name == "postgresql"
        self.observer: Observer = _NoObserver()
        self._wake = threading.Event()
        self._mutex = threading.Lock()
        self._recorded: int | None = None
        self._paused = False
        """The tracking position this runner last read or wrote; checked under the row lock."""
        self.active = False
        """True while this process's runner thread holds the projection (see `_exclusive`)."""
        self._ensure_tracking_row()

    @property
    def name(self) -> str:
        return self.projection.name

    def _ensure_tracking_row(self) -> None:
        with self.engine.begin() as conn:
            insert_ignore(conn, tracking, {"name": self.name, "position": 0}, ["name"])
            position = conn.execute(
                select(tracking.c.position).where(tracking.c.name == self.name)
            ).scalar_one()
        self.notifier.progressed(self.name, position)

    def position(self) -> int:
        """The position recorded in the database (events up to it are applied)."""
        with self.reader.connect() as conn:
            return int(
                conn.execute(
                    select(tracking.c.position).where(tracking.c.name == self.name)
                ).scalar_one()
            )

    def effective_position(self, recorded: int) -> int:
        """Where to read on from: past a range known to hold none of this projection's events
        (a fact about the immutable log), when the recorded position lies inside that range."""
        low, high = self._skipped
        return high if low <= recorded <= high else recorded

    def run_once(self, head: int | None = None) -> int:
        """Apply the next batch; returns how many log positions it advanced over.

        Threads of one process take turns (a mutex), so a request catching up for
        read-your-writes and the runner thread never contend on the database lock.

        A range without events for this projection costs one read and no write (it is noted in
        memory, persisted every SKIP_PERSIST_EVERY events). A batch to apply locks the tracking
        row first (FOR UPDATE on PostgreSQL; SQLite's writer transaction is IMMEDIATE), so a
        second runner of the same projection waits instead of applying it too; the
        compare-and-set on the position is the final guard.
        """
        with self._mutex:
            if self._paused:
                return 0
            try:
                return self._run_once(head)
            except LostRace:
                self._recorded = None
                raise

    def _run_once(self, head: int | None) -> int:
        recorded = self._recorded if self._recorded is not None else self.position()
        start = self.effective_position(recorded)
        if head is None:
            head = self.app.recorder.max_notification_id() or 0
        if head <= start:
            self.notifier.progressed(self.name, start)
            return 0
        notifications = self.app.recorder.select_notifications(
            start=start + 1, limit=self.batch_size, stop=head, topics=self.topics
        )
        new_position = head if len(notifications) < self.batch_size else notifications[-1].id
        if not notifications and head - recorded < SKIP_PERSIST_EVERY:
            self._skipped = (min(recorded, start), head)
            self._announce(head)
            return head - start
        with self.engine.begin() as conn:
            query = select(tracking.c.position).where(tracking.c.name == self.name)
            if self.is_postgres:
                query = query.with_for_update()
            if int(conn.execute(query).scalar_one()) != recorded:
                raise LostRace(self.name)
            self.projection.begin(conn)
            for notification in notifications:
                try:
                    domain_event = self.app.mapper.to_domain_event(notification)
                    self.projection.apply(conn, domain_event, notification.id)
                except Exception as error:
                    raise EventFailed(notification.id, error) from error
            try:
                self.projection.flush(conn)
            except Exception as error:
                raise EventFailed(self.projection.pending_from or start + 1, error) from error
            moved = conn.execute(
                update(tracking)
                .where(tracking.c.name == self.name, tracking.c.position == recorded)
                .values(
                    position=new_position,
                    updated_at=self.app.clock.now(),
                    error_position=None,
                    last_error=None,
                )
            ).rowcount
            if moved != 1:
                raise LostRace(self.name)
            if self.is_postgres:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": PROGRESS_CHANNEL, "payload": f"{self.name}:{new_position}"},
                )
        self._recorded = new_position
        self.notifier.progressed(self.name, new_position)
        self.observer.batch(self.name, len(notifications))
        return new_position - start

    def _announce(self, position: int) -> None:
        self.notifier.progressed(self.name, position)
        if self.is_postgres:
            with self.reader.connect() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": PROGRESS_CHANNEL, "payload": f"{self.name}:{position}"},
                )
                conn.commit()

    def catch_up_to(self, position: int) -> bool:
        """Apply batches in this thread until `position` is applied (read-your-writes without
        a hand-off to the runner thread); False if the log ends first."""
        while (self.notifier.position_of(self.name) or 0) < position:
            try:
                if self.run_once(head=position) == 0:
                    return (self.notifier.position_of(self.name) or 0) >= position
            except LostRace:
                continue
        return True

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Run batches until the projection has reached the head of the log."""
        total = 0
        while True:
            try:
                moved = self.run_once()
            except LostRace:
                continue
            if moved == 0:
                return total
            total += moved
            if progress is not None:
                progress(self.position())

    def rebuild(self, progress: Callable[[int], None] | None = None) -> None:
        """Empty the read model and replay the whole log into it, batch by batch."""
        with self.engine.begin() as conn:
            self.projection.clear(conn)
            conn.execute(update(tracking).where(tracking.c.name == self.name).values(position=0))
        self._recorded = None
        self.catch_up(progress)

    def record_failure(self, error: BaseException) -> int:
        """Note the failure on the tracking row; pause after MAX_FAILURES_BEFORE_PAUSE in a row.
        Returns the consecutive failure count."""
        position = (
            error.position
            if isinstance(error, EventFailed)
            else self.effective_position(self.position()) + 1
        )
        cause = error.error if isinstance(error, EventFailed) else error
        self.observer.projection_failed(self.name)
        with self.engine.begin() as conn:
            failures = (
                conn.execute(
                    select(tracking.c.failures).where(tracking.c.name == self.name)
                ).scalar_one()
                + 1
            )
            conn.execute(
                update(tracking)
                .where(tracking.c.name == self.name)
                .values(
                    error_position=position,
                    last_error=repr(cause)[:2000],
                    failures=failures,
                    failed_at=self.app.clock.now(),
                    paused=failures >= MAX_FAILURES_BEFORE_PAUSE,
                )
            )
        self.notifier.set_healthy(self.name, False)
        return int(failures)

    def is_paused(self) -> bool:
        with self.reader.connect() as conn:
            return bool(
                conn.execute(
                    select(tracking.c.paused).where(tracking.c.name == self.name)
                ).scalar_one()
            )

    def pause(self) -> None:
        """Hold the projection where it is (maintenance); writes stop waiting for it."""
        with self._mutex:
            self._set_paused(True)
            self._paused = True
            self.notifier.set_healthy(self.name, False)

    def resume(self) -> None:
        """Let a paused or failing projection try again now (after the cause has been fixed)."""
        with self._mutex:
            self._set_paused(False)
            self._paused = False
        self.wake()

    def _refresh_paused(self) -> bool:
        """Pausing may come from another process (`crm-api projections pause`): the tracking
        row is the authority, read under the mutex so a local pause is never overwritten."""
        with self._mutex:
            self._paused = self.is_paused()
            if self._paused:
                self.notifier.set_healthy(self.name, False)
            return self._paused

    def _mark_healthy(self) -> None:
        with self._mutex:
            if not self._paused:
                self.notifier.set_healthy(self.name, True)

    def wake(self) -> None:
        self._wake.set()
        self.notifier.appended()

    def _set_paused(self, paused: bool) -> None:
        values: dict[str, Any] = {"paused": paused}
        if not paused:
            values["failures"] = 0
        with self.engine.begin() as conn:
            conn.execute(update(tracking).where(tracking.c.name == self.name).values(**values))

    def run_forever(self, stop: threading.Event) -> None:
        with self._exclusive(stop) as acquired:
            if not acquired:
                return
            failures = 0
            while not stop.is_set():
                seen = self.notifier.generation
                if self._refresh_paused():
                    self.notifier.wait_for_append(seen, self.poll_seconds)
                    continue
                try:
                    moved = self.run_once()
                except LostRace:
                    continue
                except Exception as error:
                    log.exception("projection %s failed", self.name)
                    try:
                        failures = self.record_failure(error)
                    except Exception:
                        failures += 1
                        log.exception("could not record the failure of %s", self.name)
                    self._wake.wait(min(30.0, 0.5 * 2 ** min(failures - 1, 6)))
                    self._wake.clear()
                    continue
                if failures:
                    failures = 0
                    self._clear_failures()
                self._mark_healthy()
                if moved == 0:
                    self.notifier.wait_for_append(seen, self.poll_seconds)

    def _clear_failures(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(tracking)
                .where(tracking.c.name == self.name)
                .values(failures=0, error_position=None, last_error=None)
            )

    @contextmanager
    def _exclusive(self, stop: threading.Event) -> Iterator[bool]:
        """On PostgreSQL one process at a time runs a projection (an advisory lock); others
        wait their turn. SQLite serves one process, so there is nothing to share."""
        if not self.is_postgres:
            self.active = True
            try:
                yield True
            finally:
                self.active = False
            return
        key = lock_key(self.name)
        with self.engine.connect() as conn:
            while not stop.is_set():
                if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    conn.commit()
                    self.active = True
                    try:
                        yield True
                    finally:
                        self.active = False
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
                    return
                conn.commit()
                stop.wait(2.0)
        yield False
