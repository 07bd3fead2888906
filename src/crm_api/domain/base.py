"""The base aggregate: every event carries the command's metadata, stamped once, here."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from crm_api.domain.context import current_stamp

RECENT_COMMANDS_KEPT = 64


class CrmAggregate(Aggregate):
    """An aggregate whose events know who did what, for whom, and when.

    `meta` holds actor, actor_type, on_behalf_of, occurred_at, command_id, correlation_id;
    the event's own `timestamp` is when it was recorded (from the injected clock).
    The aggregate remembers the command ids of its latest events, so a command retried after a
    crash is recognised as already applied instead of being recorded twice.
    """

    kind = "record"

    class Event(Aggregate.Event):
        meta: dict[str, Any]

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate._remember_command(self.meta.get("command_id"))
            aggregate._observe(self)
            return aggregate

        @property
        def type_name(self) -> str:
            return type(self).__qualname__.replace(".", "")

        @property
        def recorded_at(self) -> datetime:
            return self.timestamp

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def with_id(cls, record_id: UUID, **fields: Any) -> Self:
        """Create the record under a chosen id (the application derives it from the command
        id). The eventsourcing metaclass accepts `id`; type checkers cannot see that."""
        return cls(id=record_id, **fields)  # type: ignore[call-arg]

    @classmethod
    def _create(cls, event_class: Any, **kwargs: Any) -> Any:
        meta, recorded_at = current_stamp()
        kwargs["meta"] = meta.as_dict()
        kwargs["timestamp"] = recorded_at
        return super()._create(event_class, **kwargs)

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        meta, recorded_at = current_stamp()
        kwargs["meta"] = meta.as_dict()
        kwargs["timestamp"] = recorded_at
        super().trigger_event(event_class, **kwargs)

    def _remember_command(self, command_id: str | None) -> None:
        if command_id is None:
            return
        recent: tuple[str, ...] = getattr(self, "_recent_commands", ())
        self._recent_commands = (*recent, command_id)[-RECENT_COMMANDS_KEPT:]

    def _observe(self, event: CrmAggregate.Event) -> None:
        """Called after each event is applied, with the whole event (its `meta` included):
        for state that depends on who did something rather than on the event's fields."""

    def has_applied(self, command_id: str) -> bool:
        return command_id in getattr(self, "_recent_commands", ())
