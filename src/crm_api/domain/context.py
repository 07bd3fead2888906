"""The command context: who acts, for whom, when, and under which command id.

The application layer sets it around a command; the base aggregate copies it into the `meta`
of every event, so no domain method takes an actor argument.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class EventMeta:
    actor: str
    actor_type: str
    on_behalf_of: str | None
    occurred_at: datetime
    command_id: str
    correlation_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "actor_type": self.actor_type,
            "on_behalf_of": self.on_behalf_of,
            "occurred_at": self.occurred_at.isoformat(),
            "command_id": self.command_id,
            "correlation_id": self.correlation_id,
        }


_current: ContextVar[tuple[EventMeta, datetime] | None] = ContextVar("crm_event_meta", default=None)


@contextmanager
def recording(meta: EventMeta, recorded_at: datetime) -> Iterator[None]:
    token = _current.set((meta, recorded_at))
    try:
        yield
    finally:
        _current.reset(token)


def current_stamp() -> tuple[EventMeta, datetime]:
    stamp = _current.get()
    if stamp is None:
        raise RuntimeError("domain events can only be triggered inside a command context")
    return stamp
