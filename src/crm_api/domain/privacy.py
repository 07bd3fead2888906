"""Exports of records: each download is history, counted against a daily cap per user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import InvalidTransition, PermissionDenied

EXPORT_RESOURCES = ("accounts", "contacts")
EXPORT_FORMATS = ("csv", "ndjson")


class ExportCapReached(PermissionDenied):
    code = "export_cap_reached"
    title = "Daily export cap reached"


class Export(CrmAggregate):
    """One export by one user: what was asked for (resource, filters, format) when it starts,
    how many rows went out when it ends. Its id is the user's n-th export slot of the day, so
    two exports racing for the last slot cannot both get it."""

    id: UUID
    kind = "export"

    class Started(CrmAggregate.Created):
        user_id: str
        day: str
        slot: int
        resource: str
        output_format: str
        filters: dict[str, Any]

    @event(Started)
    def __init__(
        self,
        user_id: str,
        day: str,
        slot: int,
        resource: str,
        output_format: str,
        filters: dict[str, Any],
    ) -> None:
        self.user_id = user_id
        self.day = day
        self.slot = slot
        self.resource = resource
        self.output_format = output_format
        self.filters = filters
        self.rows: int | None = None
        self.completed: bool | None = None

    @staticmethod
    def id_for(user_id: str, day: date, slot: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"crm-export:{user_id}:{day.isoformat()}:{slot}")

    @staticmethod
    def free_slot(taken: Callable[[int], bool], cap: int) -> int:
        """The first of the day's `cap` slots not taken yet."""
        for slot in range(1, cap + 1):
            if not taken(slot):
                return slot
        raise ExportCapReached(
            f"you have used all {cap} exports allowed per day; try again tomorrow (UTC)",
            cap=cap,
        )

    def finish(self, rows: int, completed: bool) -> None:
        """`completed` is false when the download stopped early (the client went away)."""
        if self.rows is not None:
            raise InvalidTransition("the export has already finished", code="export_finished")
        self._finished(rows=rows, completed=completed)

    @event("Finished")
    def _finished(self, rows: int, completed: bool) -> None:
        self.rows = rows
        self.completed = completed
