"""The event-sourced application: load, authorise, decide, save with metadata, answer.

Every command runs through `create` or `change`: they stamp the events with the command
context, keep optimistic concurrency (If-Match), and recognise a retried command (same command
id) as already applied instead of recording it twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, Transcoding

from crm_api.application.notifier import LogNotifier
from crm_api.domain.base import CrmAggregate
from crm_api.domain.context import Clock, EventMeta, recording
from crm_api.domain.errors import DomainError, NotFound, VersionConflict
from crm_api.domain.people import Principal
from crm_api.domain.uniqueness import UniqueClaim
from crm_api.privacy.keys import SubjectKeys
from crm_api.privacy.shredding import ShreddingMapper

T = TypeVar("T", bound=CrmAggregate)

SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class CommandContext:
    """Who runs a command, for whom, under which ids; `occurred_at` is business time."""

    principal: Principal
    command_id: str
    correlation_id: str
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A command's result: the record, and a log position at or after its events."""

    record: T
    position: int
    applied: bool = True
    topics: frozenset[str] | None = None
    """The topics of the events recorded (None when unknown: a replayed command)."""


class Observer(Protocol):
    """What the application reports for metrics (see crm_api/observability.py)."""

    def command(self, name: str, outcome: str) -> None: ...

    def appended(self, count: int) -> None: ...


class _NoObserver:
    def command(self, name: str, outcome: str) -> None:
        pass

    def appended(self, count: int) -> None:
        pass


Method = TypeVar("Method", bound=Callable[..., Any])


def command(method: Method) -> Method:
    """Marks a service method as a command: its outcome (ok, replayed, or the problem code) is
    counted under the method's name."""
    name = method.__name__

    @functools.wraps(method)
    def run(service: Any, ctx: CommandContext, *args: Any, **kwargs: Any) -> Any:
        observer = service.app.observer
        try:
            outcome = method(service, ctx, *args, **kwargs)
        except DomainError as error:
            observer.command(name, error.code)
            raise
        observer.command(name, "ok" if outcome.applied else "replayed")
        return outcome

    return run  # type: ignore[return-value]


def record_id_for(cls: type[CrmAggregate], command_id: str) -> UUID:
    """The id of the record a create command makes: the same command, the same record."""
    return uuid5(NAMESPACE_URL, f"crm-record:{cls.kind}:{command_id}")


def _topics(recordings: Sequence[Any]) -> frozenset[str]:
    return frozenset(r.notification.topic for r in recordings)


def parse_id(record_id: str | UUID, what: str) -> UUID:
    if isinstance(record_id, UUID):
        return record_id
    try:
        return UUID(str(record_id))
    except ValueError:
        raise NotFound(f"{what} {record_id} not found") from None


class DateAsISO(Transcoding):
    """Calendar dates in events (valid_until, expected close dates) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CrmApplication(Application[UUID]):
    name = "crm"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def __init__(self, env: dict[str, str], clock: Clock, notifier: LogNotifier) -> None:
        self.clock = clock
        self.notifier = notifier
        self.observer: Observer = _NoObserver()
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": "10000", **env})

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper (with its cipher when CIPHER_KEY is set) that also seals
        personal fields under their subject's key (crm_api/privacy/shredding.py)."""
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=ShreddingMapper
        )

    def use_subject_keys(self, keys: SubjectKeys) -> None:
        """Seal personal fields from now on (before this, e.g. in tools, they pass in clear)."""
        mapper = self.mapper
        assert isinstance(mapper, ShreddingMapper)
        mapper.subject_keys = keys

    def _notify(self, recordings: Sequence[Any]) -> None:
        if recordings:
            self.notifier.appended(recordings[-1].notification.id)
            self.observer.appended(len(recordings))

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    @contextmanager
    def stamping(self, ctx: CommandContext) -> Iterator[datetime]:
        now = self.clock.now()
        principal = ctx.principal
        meta = EventMeta(
            actor=principal.id,
            actor_type=principal.kind,
            on_behalf_of=principal.on_behalf_of,
            occurred_at=ctx.occurred_at or now,
            command_id=ctx.command_id,
            correlation_id=ctx.correlation_id,
        )
        with recording(meta, now):
            yield now

    def load(self, record_id: str | UUID, cls: type[T], what: str | None = None) -> T:
        what = what or cls.kind
        try:
            aggregate: Any = self.repository.get(parse_id(record_id, what))
        except AggregateNotFoundError:
            raise NotFound(f"{what} {record_id} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} {record_id} not found")
        return aggregate

    def exists(self, record_id: UUID) -> bool:
        return record_id in self.repository

    def claim_unique(self, namespace: str, value: str, holder_id: str, code: str) -> UniqueClaim:
        """Claim a unique value (an email, a sku) for a record; save the claim with the record.
        Taken by another holder → Conflict(code)."""
        claim_id = UniqueClaim.id_for(namespace, value)
        if self.exists(claim_id):
            claim = self.load(claim_id, UniqueClaim)
            claim.claim_again(holder_id, code)
            return claim
        return UniqueClaim.with_id(
            claim_id, namespace=namespace, value=value.lower(), holder_id=holder_id
        )

    def create(
        self,
        ctx: CommandContext,
        cls: type[T],
        build: Callable[[UUID], Sequence[CrmAggregate]],
    ) -> Outcome[T]:
        """Create a record whose id derives from the command id: a retried create finds it."""
        record_id = record_id_for(cls, ctx.command_id)
        for attempt in range(SAVE_ATTEMPTS):
            if self.exists(record_id):
                existing = self.load(record_id, cls)
                if existing.has_applied(ctx.command_id):
                    return Outcome(existing, self.head(), applied=False)
            with self.stamping(ctx):
                aggregates = build(record_id)
            try:
                recordings = self.save(*aggregates)
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                continue
            created = next(a for a in aggregates if a.id == record_id)
            return Outcome(created, recordings[-1].notification.id, topics=_topics(recordings))  # type: ignore[arg-type]
        raise AssertionError("unreachable")

    def change(
        self,
        ctx: CommandContext,
        record_id: str | UUID,
        cls: type[T],
        decide: Callable[[T], Sequence[CrmAggregate] | None],
        *,
        expected_version: int | None = None,
        authorize: Callable[[T], None] | None = None,
    ) -> Outcome[T]:
        """Load, authorise, check the expected version, decide, save; retry lost races unless
        the caller pinned a version (then a lost race is their 412)."""
        for attempt in range(SAVE_ATTEMPTS):
            aggregate = self.load(record_id, cls)
            if authorize is not None:
                authorize(aggregate)
            if aggregate.has_applied(ctx.command_id):
                return Outcome(aggregate, self.head(), applied=False)
            if expected_version is not None and aggregate.version != expected_version:
                raise VersionConflict(expected_version, aggregate.version)
            with self.stamping(ctx):
                others = decide(aggregate) or ()
            try:
                recordings = self.save(aggregate, *others)
            except IntegrityError:
                if expected_version is not None:
                    current = self.load(record_id, cls)
                    raise VersionConflict(expected_version, current.version) from None
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                continue
            position = recordings[-1].notification.id if recordings else self.head()
            return Outcome(aggregate, position, topics=_topics(recordings))  # type: ignore[arg-type]
        raise AssertionError("unreachable")

    def history(
        self, record_id: str | UUID, cls: type[T], *, after_version: int = 0, limit: int = 100
    ) -> list[Any]:
        self.load(record_id, cls)
        return list(
            self.events.get(parse_id(record_id, cls.kind), gt=after_version or None, limit=limit)
        )

    def at_version(self, record_id: str | UUID, cls: type[T], version: int) -> T:
        current = self.load(record_id, cls)
        if version < 1 or version > current.version:
            raise NotFound(f"{cls.kind} {record_id} has no version {version}")
        return self.repository.get(current.id, version=version)  # type: ignore[return-value]

    def as_of(self, record_id: str | UUID, cls: type[T], at: datetime) -> T:
        """The record as the system knew it at `at` (by recorded time)."""
        uuid = parse_id(record_id, cls.kind)
        self.load(uuid, cls)
        aggregate = None
        event: Any
        for event in self.events.get(uuid):
            if event.timestamp > at:
                break
            aggregate = event.mutate(aggregate)
        if aggregate is None:
            raise NotFound(f"{cls.kind} {record_id} did not exist at {at.isoformat()}")
        return aggregate  # type: ignore[return-value]
