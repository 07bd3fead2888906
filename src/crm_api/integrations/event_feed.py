"""The event feed: the notification log read by position and encoded as CloudEvents 1.0.

The same encoding is the body of every webhook delivery, so a consumer can switch between
following the feed and receiving webhooks without changing its parser.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

import crm_api.domain
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, ValidationFailed

TYPE_PREFIX = "crm."
PAYLOAD_INTERNAL_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
)
_FORMAT = JSONFormat()


@dataclass(frozen=True)
class EventType:
    name: str
    """`AccountOpened`: the event class's qualified name without the dot."""
    topic: str
    record_type: str
    """The aggregate's kind: `account`, `quote`, `webhook`, …"""


def _aggregates(root: type[CrmAggregate]) -> list[type[CrmAggregate]]:
    found = []
    for sub in root.__subclasses__():
        found.append(sub)
        found.extend(_aggregates(sub))
    return found


@lru_cache(maxsize=1)
def event_types() -> dict[str, EventType]:
    """Every event type of every aggregate in crm_api.domain, by name (found by walking the
    package, so event types added later are in the feed without a list to keep up to date)."""
    for module in pkgutil.iter_modules(crm_api.domain.__path__):
        importlib.import_module(f"{crm_api.domain.__name__}.{module.name}")
    types: dict[str, EventType] = {}
    for aggregate in _aggregates(CrmAggregate):
        classes = [
            cls
            for cls in vars(aggregate).values()
            if isinstance(cls, type)
            and issubclass(cls, CrmAggregate.Event)
            and cls.__qualname__.startswith(f"{aggregate.__qualname__}.")
        ]
        creations = [c for c in classes if issubclass(c, Aggregate.Created)]
        for cls in classes:
            is_base = (
                cls.__name__ == "Event"
                or any(other is not cls and issubclass(other, cls) for other in classes)
                or (cls.__name__ == "Created" and len(creations) > 1)
            )
            if not is_base:
                name = cls.__qualname__.replace(".", "")
                types[name] = EventType(name, get_topic(cls), aggregate.kind)
    return types


@lru_cache(maxsize=1)
def _types_by_topic() -> dict[str, EventType]:
    return {t.topic: t for t in event_types().values()}


def topics_for(names: Sequence[str], field: str = "types") -> list[str]:
    """The stored topics of event type names (`QuoteApproved` or `crm.QuoteApproved`); an
    unknown name is a validation error naming `field`."""
    known = event_types()
    wanted = [n.removeprefix(TYPE_PREFIX) for n in names]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValidationFailed(
            [FieldError(field, f"unknown event type(s): {', '.join(sorted(set(unknown)))}")]
        )
    return sorted({known[n].topic for n in wanted})


def plain(value: Any) -> Any:
    """JSON-ready values: decimals and dates as strings, as in /history."""
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def event_id(record_id: UUID, version: int) -> str:
    """Stable across reads, rebuilds and workspace forks: derived from the record and version."""
    return str(uuid5(record_id, f"crm-event:{version}"))


def cloud_event(position: int, topic: str, domain_event: Any, source: str) -> CloudEvent:
    known = _types_by_topic().get(topic)
    type_name = known.name if known else domain_event.type_name
    record_type = known.record_type if known else "record"
    meta = domain_event.meta
    payload = {k: v for k, v in vars(domain_event).items() if k not in PAYLOAD_INTERNAL_FIELDS}
    return CloudEvent(
        {
            "specversion": "1.0",
            "id": event_id(domain_event.originator_id, domain_event.originator_version),
            "source": source,
            "type": f"{TYPE_PREFIX}{type_name}",
            "subject": str(domain_event.originator_id),
            "time": domain_event.timestamp,
            "datacontenttype": "application/json",
        },
        {
            "record_id": str(domain_event.originator_id),
            "record_type": record_type,
            "version": domain_event.originator_version,
            "position": position,
            "occurred_at": meta["occurred_at"],
            "actor": meta["actor"],
            "actor_type": meta.get("actor_type", "user"),
            "on_behalf_of": meta.get("on_behalf_of"),
            "correlation_id": meta.get("correlation_id"),
            "payload": plain(payload),
        },
    )


@dataclass(frozen=True)
class FeedPage:
    events: list[bytes]
    """Each event as CloudEvents JSON (the exact bytes a webhook delivery carries)."""
    next_after: int
    has_more: bool
    head: int

    def as_json(self) -> bytes:
        return b"".join(
            (
                b'{"data":[',
                b",".join(self.events),
                b'],"next_after":%d,"has_more":%s,"head":%d}'
                % (self.next_after, b"true" if self.has_more else b"false", self.head),
            )
        )


class EventFeed:
    """Reads the notification log by position: gapless and in commit order, because the event
    store assigns positions under a table lock (PostgreSQL) or a single writer (SQLite)."""

    def __init__(self, app: Any, source: str) -> None:
        self.app = app
        self.source = source

    def encode(self, notification: Any) -> bytes:
        domain_event = self.app.mapper.to_domain_event(notification)
        return _FORMAT.write(
            cloud_event(notification.id, notification.topic, domain_event, self.source)
        )

    def at(self, position: int) -> bytes | None:
        """The CloudEvent at one position (None if the log has nothing there)."""
        found = self.app.recorder.select_notifications(start=position, limit=1, stop=position)
        return self.encode(found[0]) if found else None

    def page(self, after: int, limit: int, topics: Sequence[str] = ()) -> FeedPage:
        head = self.app.head()
        if after >= head:
            return FeedPage([], after, False, head)
        notifications = self.app.recorder.select_notifications(
            start=after + 1, limit=limit + 1, stop=head, topics=list(topics)
        )
        has_more = len(notifications) > limit
        notifications = notifications[:limit]
        next_after = notifications[-1].id if notifications else after
        return FeedPage([self.encode(n) for n in notifications], next_after, has_more, head)
