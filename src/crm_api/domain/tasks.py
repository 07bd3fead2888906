"""Tasks: work a manager assigns to a rep of its team, or that anyone sets itself.

States: open → done | cancelled; a done or cancelled task can be reopened. Reassigning moves an
open task to another assignee. A task may name one record it is about (`linked_type` + id).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

OPEN = "open"
DONE = "done"
CANCELLED = "cancelled"
STATUSES = (OPEN, DONE, CANCELLED)
PRIORITIES = ("low", "normal", "high", "urgent")
LINKABLE = ("account", "contact", "opportunity", "quote", "order", "service_request")
CHANGEABLE = ("title", "notes", "due_date", "priority")


def _check_priority(priority: str) -> None:
    if priority not in PRIORITIES:
        raise ValidationFailed([FieldError("priority", f"must be one of {', '.join(PRIORITIES)}")])


class Task(CrmAggregate):
    id: UUID
    kind = "task"

    class Created(CrmAggregate.Created):
        title: str
        notes: str | None
        due_date: date
        priority: str
        assignee_id: str
        linked_type: str | None
        linked_id: str | None

    @event(Created)
    def __init__(
        self,
        title: str,
        notes: str | None,
        due_date: date,
        priority: str,
        assignee_id: str,
        linked_type: str | None,
        linked_id: str | None,
    ) -> None:
        self.title = title
        self.notes = notes
        self.due_date = due_date
        self.priority = priority
        self.assignee_id = assignee_id
        self.linked_type = linked_type
        self.linked_id = linked_id
        self.status = OPEN
        self.created_by: str | None = None
        self.on_behalf_of: str | None = None

    @classmethod
    def assign(cls, task_id: UUID, **details: Any) -> Task:
        _check_priority(details["priority"])
        if (details["linked_type"] is None) != (details["linked_id"] is None):
            raise ValidationFailed(
                [FieldError("linked_id", "give both linked_type and linked_id, or neither")]
            )
        if details["linked_type"] is not None and details["linked_type"] not in LINKABLE:
            raise ValidationFailed(
                [FieldError("linked_type", f"must be one of {', '.join(LINKABLE)}")]
            )
        return cls.with_id(task_id, **details)

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:
            return
        self._require(OPEN, "changed")
        if "priority" in changes:
            _check_priority(changes["priority"])
        self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def complete(self, note: str | None) -> None:
        self._require(OPEN, "completed")
        self._completed(note=note)

    @event("Completed")
    def _completed(self, note: str | None) -> None:
        self.status = DONE

    def cancel(self, reason: str | None) -> None:
        self._require(OPEN, "cancelled")
        self._cancelled(reason=reason)

    @event("Cancelled")
    def _cancelled(self, reason: str | None) -> None:
        self.status = CANCELLED

    def reopen(self) -> None:
        if self.status == OPEN:
            raise InvalidTransition(
                "the task is already open", code="invalid_state", state=self.status
            )
        self._reopened(from_status=self.status)

    @event("Reopened")
    def _reopened(self, from_status: str) -> None:
        self.status = OPEN

    def reassign(self, to_assignee_id: str) -> None:
        self._require(OPEN, "reassigned")
        if to_assignee_id == self.assignee_id:
            raise InvalidTransition(
                "the task is already assigned to that user", code="same_assignee"
            )
        self._reassigned(from_assignee_id=self.assignee_id, to_assignee_id=to_assignee_id)

    @event("Reassigned")
    def _reassigned(self, from_assignee_id: str, to_assignee_id: str) -> None:
        self.assignee_id = to_assignee_id

    def is_overdue(self, today: date) -> bool:
        return self.status == OPEN and self.due_date < today

    def _require(self, status: str, verb: str) -> None:
        if self.status != status:
            raise InvalidTransition(
                f"a {self.status} task cannot be {verb}", code="invalid_state", state=self.status
            )

    def _observe(self, e: Any) -> None:
        if type(e).__name__ == "Created":
            self.created_by = e.meta["actor"]
            self.on_behalf_of = e.meta.get("on_behalf_of")
