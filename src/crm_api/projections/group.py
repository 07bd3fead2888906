"""Every projection of a process, applied together: one read of the log per batch, each event
decoded once, one read-side transaction in which every projection applies its share and
advances its own tracking row.

Why: one write fed ~25 projections, each with its own thread, its own read of the log and its
own write transaction. On SQLite those transactions queue on the one database lock (the busy
handler sleeps between tries); on PostgreSQL each is a round of commits and NOTIFYs. A single
REST write waited for all of them (9 account creates/s). Applied together, a batch costs one
transaction whatever the number of read models.

The guarantee stays the one of `ProjectionRunner`: each projection's tracking row moves by
compare-and-set in the transaction that applies its events (rows locked first on PostgreSQL),
so a crash loses nothing and applies nothing twice, and a second process can't apply a batch
too. Members may stand at different positions (one rebuilt, one new): a batch starts at the
lowest and each member applies only the events past its own position.

A member whose handler fails is taken out (its failure recorded on its tracking row, as the
runner does) so the others go on; it is retried on its own, with back-off, by its runner's
`run_once`, and rejoins once that succeeds. A paused member is left where it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update

from crm_api.application.notifier import LogNotifier
from crm_api.projections.base import tracking
from crm_api.projections.runner import (
    PROGRESS_CHANNEL,
    EventFailed,
    LostRace,
    Observer,
    ProjectionRunner,
    _NoObserver,
)
from crm_api.projections.status import lock_key

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0


class MemberFailed(Exception):
    """One member's handler raised; the batch was rolled back for every member."""

    def __init__(self, runner: ProjectionRunner, error: EventFailed) -> None:
        super().__init__(f"{runner.name}: {error}")
        self.runner = runner
        self.error = error


class ProjectionGroup:
    def __init__(
        self,
        runners: Sequence[ProjectionRunner],
        app: Any,
        engine: Engine,
        notifier: LogNotifier,
        *,
        reader: Engine | None = None,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self.runners = list(runners)
        self.app = app
        self.engine = engine
        self.reader = reader or engine
        self.notifier = notifier
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.is_postgres = engine.dialect.name == "postgresql"
        self.observer: Observer = _NoObserver()
        self._mutex = threading.Lock()
        self._topics = {r.name: frozenset(r.topics) or None for r in self.runners}
        """name → the topics it handles; None: every event (the webhook deliveries)."""
        self._failing: dict[str, tuple[int, float]] = {}
        """name → (consecutive failures, monotonic time of the next solo try)."""
        self._held: set[str] | None = None
        """While the group's thread runs: the members this process holds (on PostgreSQL, by
        their advisory lock). None: no thread; whoever calls applies every member."""

    # -- one batch ---------------------------------------------------------------------------

    def members(self, names: Iterable[str] | None = None) -> list[ProjectionRunner]:
        """The members a batch applies now: held, not paused, not failing."""
        wanted = None if names is None else set(names)
        return [
            r
            for r in self.runners
            if (wanted is None or r.name in wanted)
            and (self._held is None or r.name in self._held)
            and not r._paused
            and r.name not in self._failing
        ]

    def run_once(
        self,
        head: int | None = None,
        names: Iterable[str] | None = None,
        *,
        raise_failures: bool = False,
    ) -> int:
        """Apply the next batch to the members (all, or those named); returns how many log
        positions the slowest of them advanced. A member that fails is set aside (or, with
        `raise_failures`, its failure is raised as the runner would raise it)."""
        with self._mutex:
            while True:
                members = self.members(names)
                if not members:
                    return 0
                with ExitStack() as stack:
                    for runner in members:
                        stack.enter_context(runner._mutex)
                    try:
                        return self._apply_batch(members, head)
                    except LostRace:
                        for runner in members:
                            runner._recorded = None
                        raise
                    except MemberFailed as failed:
                        if raise_failures:
                            raise failed.error from failed.error.error
                        self._set_aside(failed.runner, failed.error)

    def _positions(self, members: list[ProjectionRunner]) -> dict[str, int]:
        unknown = [r.name for r in members if r._recorded is None]
        if unknown:
            with self.reader.connect() as conn:
                rows = conn.execute(
                    select(tracking.c.name, tracking.c.position).where(tracking.c.name.in_(unknown))
                )
                found = {name: int(position) for name, position in rows}
            for runner in members:
                if runner.name in found:
                    runner._recorded = found[runner.name]
        return {r.name: r._recorded or 0 for r in members}

    def _apply_batch(self, members: list[ProjectionRunner], head: int | None) -> int:
        recorded = self._positions(members)
        start = min(recorded.values())
        if head is None:
            head = self.app.recorder.max_notification_id() or 0
        if head <= start:
            for runner in members:
                self.notifier.progressed(runner.name, recorded[runner.name])
            return 0
        notifications = self.app.recorder.select_notifications(
            start=start + 1, limit=self.batch_size, stop=head
        )
        new_position = head if len(notifications) < self.batch_size else notifications[-1].id
        moving = [r for r in members if recorded[r.name] < new_position]
        decoded: dict[int, Any] = {}
        applied: dict[str, list[Any]] = {}
        with self.engine.begin() as conn:
            self._check_positions(conn, moving, recorded)
            for runner in moving:
                applied[runner.name] = self._apply_member(
                    conn, runner, notifications, recorded[runner.name], decoded
                )
            self._advance(conn, moving, recorded, new_position)
        now = self.app.clock.now()
        self.notifier.progressed_many([r.name for r in moving], new_position)
        for runner in moving:
            runner._recorded = new_position
            runner._skipped = (0, 0)
            events = applied[runner.name]
            self.observer.batch(runner.name, len(events))
            for event in events:
                self.observer.lag(runner.name, (now - event.timestamp).total_seconds())
        for runner in members:
            if runner not in moving:
                self.notifier.progressed(runner.name, recorded[runner.name])
        return new_position - start

    def _check_positions(
        self, conn: Connection, moving: list[ProjectionRunner], recorded: dict[str, int]
    ) -> None:
        """Lock the members' tracking rows (PostgreSQL) and make sure no one moved them since
        they were read; else the batch is another runner's."""
        query = select(tracking.c.name, tracking.c.position).where(
            tracking.c.name.in_([r.name for r in moving])
        )
        if self.is_postgres:
            query = query.order_by(tracking.c.name).with_for_update()
        found = {name: int(position) for name, position in conn.execute(query)}
        for runner in moving:
            if found.get(runner.name) != recorded[runner.name]:
                raise LostRace(runner.name)

    def _apply_member(
        self,
        conn: Connection,
        runner: ProjectionRunner,
        notifications: list[Any],
        after: int,
        decoded: dict[int, Any],
    ) -> list[Any]:
        projection = runner.projection
        topics = self._topics[runner.name]
        events: list[Any] = []
        projection.begin(conn)
        for notification in notifications:
            if notification.id <= after or (
                topics is not None and notification.topic not in topics
            ):
                continue
            try:
                event = decoded.get(notification.id)
                if event is None:
                    event = decoded[notification.id] = self.app.mapper.to_domain_event(notification)
                projection.apply(conn, event, notification.id)
            except Exception as error:
                raise MemberFailed(runner, EventFailed(notification.id, error)) from error
            events.append(event)
        try:
            projection.flush(conn)
        except Exception as error:
            position = projection.pending_from or after + 1
            raise MemberFailed(runner, EventFailed(position, error)) from error
        return events

    def _advance(
        self,
        conn: Connection,
        moving: list[ProjectionRunner],
        recorded: dict[str, int],
        new_position: int,
    ) -> None:
        """Move every member's tracking row to `new_position`: one statement per distinct old
        position (usually one), each a compare-and-set that must match every row it names."""
        by_position: dict[int, list[str]] = {}
        for runner in moving:
            by_position.setdefault(recorded[runner.name], []).append(runner.name)
        now = self.app.clock.now()
        for old, names in by_position.items():
            moved = conn.execute(
                update(tracking)
                .where(tracking.c.name.in_(names), tracking.c.position == old)
                .values(position=new_position, updated_at=now, error_position=None, last_error=None)
            ).rowcount
            if moved != len(names):
                raise LostRace(",".join(names))
        if self.is_postgres and moving:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": PROGRESS_CHANNEL,
                    "payload": ",".join(r.name for r in moving) + f":{new_position}",
                },
            )

    # -- failures ---------------------------------------------------------------------------

    def _set_aside(self, runner: ProjectionRunner, error: EventFailed) -> None:
        log.error("projection %s failed: %s", runner.name, error)
        try:
            failures = runner.record_failure(error)
        except Exception:
            log.exception("could not record the failure of %s", runner.name)
            failures = self._failing.get(runner.name, (0, 0.0))[0] + 1
        runner._recorded = None
        self._failing[runner.name] = (failures, time.monotonic() + _backoff(failures))

    def retry_failing(self) -> None:
        """Give each failing member whose time has come a batch of its own; one that succeeds
        rejoins the group."""
        with self._mutex:
            self._retry_failing()

    def _retry_failing(self) -> None:
        now = time.monotonic()
        for name, (failures, when) in list(self._failing.items()):
            if when > now:
                continue
            runner = next(r for r in self.runners if r.name == name)
            if runner._paused:
                continue
            try:
                runner.run_once()
            except LostRace:
                continue
            except Exception as error:
                log.exception("projection %s failed again", name)
                try:
                    failures = runner.record_failure(error)
                except Exception:
                    failures += 1
                self._failing[name] = (failures, time.monotonic() + _backoff(failures))
                continue
            del self._failing[name]
            runner._clear_failures()
            runner._mark_healthy()

    def refresh_paused(self) -> None:
        """One read of every member's pause flag and failure count: a pause may come from
        another process, and `resume` (failures back to 0) means "try again now". Read while
        holding every member's mutex, so a pause made in this process meanwhile is never
        overwritten by what was read before it."""
        with self._mutex, ExitStack() as stack:
            for runner in self.runners:
                stack.enter_context(runner._mutex)
            with self.reader.connect() as conn:
                rows = {
                    name: (bool(paused), int(failures))
                    for name, paused, failures in conn.execute(
                        select(tracking.c.name, tracking.c.paused, tracking.c.failures)
                    )
                }
            for runner in self.runners:
                paused, failures = rows.get(runner.name, (False, 0))
                runner._paused = paused
                if paused:
                    self.notifier.set_healthy(runner.name, False)
                    self._failing.pop(runner.name, None)
                elif failures == 0 and runner.name in self._failing:
                    self._failing[runner.name] = (0, 0.0)

    def _mark_healthy(self, members: list[ProjectionRunner]) -> None:
        for runner in members:
            if runner.name not in self._failing:
                runner._mark_healthy()

    # -- catching up -------------------------------------------------------------------------

    def catch_up(
        self,
        names: Iterable[str] | None = None,
        progress: Callable[[int], None] | None = None,
        *,
        raise_failures: bool = True,
    ) -> int:
        """Run batches until the members (all, or those named) reach the head of the log."""
        chosen = None if names is None else list(names)
        total = 0
        while True:
            try:
                moved = self.run_once(names=chosen, raise_failures=raise_failures)
            except LostRace:
                continue
            if moved == 0:
                return total
            total += moved
            if progress is not None:
                progress(min((r._recorded or 0 for r in self.members(chosen)), default=0))

    def rebuild(
        self, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None
    ) -> None:
        """Empty the named read models (all by default) and replay the log into them
        together: one read and one decoding of each event for all of them."""
        chosen = [r for r in self.runners if names is None or r.name in set(names)]
        with self._mutex, ExitStack() as stack:
            for runner in chosen:
                stack.enter_context(runner._mutex)
            with self.engine.begin() as conn:
                for runner in chosen:
                    runner.projection.clear(conn)
                conn.execute(
                    update(tracking)
                    .where(tracking.c.name.in_([r.name for r in chosen]))
                    .values(position=0)
                )
            for runner in chosen:
                runner._recorded = None
        self.catch_up([r.name for r in chosen], progress)
        self._analyze(chosen)

    def _analyze(self, rebuilt: list[ProjectionRunner]) -> None:
        """Refresh PostgreSQL's planner statistics of the rebuilt tables. Until autovacuum gets
        to them it plans for the empty tables they were: the grade page went from 12 to 58 ms
        (a nested loop over every order day of the year)."""
        if not self.is_postgres:
            return
        with self.engine.connect() as conn:
            for runner in rebuilt:
                for table in runner.projection.tables:
                    conn.execute(text(f'ANALYZE "{table.name}"'))
            conn.commit()

    def catch_up_to(self, position: int, names: Iterable[str]) -> bool:
        """Apply batches in this thread until the named members have applied `position`
        (read-your-writes without waiting for the group's thread); False if the log ends
        first."""
        held = self._held
        chosen = [n for n in names if held is None or n in held]
        while any((self.notifier.position_of(n) or 0) < position for n in chosen):
            try:
                if self.run_once(head=position) == 0:
                    break
            except LostRace:
                continue
        return all((self.notifier.position_of(n) or 0) >= position for n in chosen)

    # -- the thread ----------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        with self._exclusive(stop) as reacquire:
            errors = 0
            while not stop.is_set():
                seen = self.notifier.generation
                try:
                    reacquire()
                    self.refresh_paused()
                    self.retry_failing()
                    moved = self.run_once()
                except LostRace:
                    continue
                except Exception:
                    # Not one member's fault (the database went away, say): every member
                    # waits, nothing is recorded against any of them.
                    errors += 1
                    log.exception("the projection group's batch failed; will retry")
                    for runner in self.runners:
                        runner._recorded = None
                    stop.wait(min(MAX_BACKOFF_SECONDS, 0.2 * 2 ** min(errors - 1, 8)))
                    continue
                errors = 0
                self._mark_healthy(self.members())
                if moved == 0:
                    wait = self.poll_seconds
                    if self._failing:
                        soonest = min(t for _, t in self._failing.values()) - time.monotonic()
                        wait = min(wait, max(0.05, soonest))
                    self.notifier.wait_for_append(seen, wait)

    @contextmanager
    def _exclusive(self, stop: threading.Event) -> Iterator[Callable[[], None]]:
        """SQLite serves one process: every member is ours. On PostgreSQL each member is run
        by the one process holding its advisory lock; this process takes every lock it can and
        tries again for the others every few seconds (another worker may have stopped), on a
        connection of its own that is checked each time (its locks die with it)."""
        if not self.is_postgres:
            self._held = {r.name for r in self.runners}
            for runner in self.runners:
                runner.active = True
            try:
                yield lambda: None
            finally:
                for runner in self.runners:
                    runner.active = False
                self._held = None
            return
        self._held = set()
        state: dict[str, Any] = {"conn": None, "next": 0.0}

        def reacquire() -> None:
            if time.monotonic() < state["next"]:
                return
            state["next"] = time.monotonic() + LOCK_RETRY_SECONDS
            conn = state["conn"]
            try:
                if conn is None:
                    raise ConnectionError("no lock connection yet")
                conn.execute(text("SELECT 1"))
                conn.commit()
            except Exception:
                self._drop_locks(state)
                conn = state["conn"] = self.engine.connect()
            assert self._held is not None
            for runner in self.runners:
                if runner.name in self._held:
                    continue
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(runner.name)}
                ).scalar()
                conn.commit()
                if got:
                    self._held.add(runner.name)
                    runner._recorded = None
                    runner.active = True

        try:
            yield reacquire
        finally:
            conn = state["conn"]
            if conn is not None:
                try:
                    for name in self._held or ():
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                    conn.commit()
                except Exception:
                    log.debug("could not release advisory locks", exc_info=True)
            self._drop_locks(state)
            self._held = None

    def _drop_locks(self, state: dict[str, Any]) -> None:
        """Forget the locks (their connection is gone or closing): hold nothing until taken
        again."""
        for runner in self.runners:
            runner.active = False
        self._held = set()
        conn, state["conn"] = state.get("conn"), None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing the lock connection failed", exc_info=True)


def _backoff(failures: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures - 1, 6))
