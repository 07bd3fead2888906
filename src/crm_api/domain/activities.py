"""Activities: every interaction with a customer (a call, a visit, an email, a meeting, a note).

An activity belongs to an account and may name a contact, an opportunity or a service request
of that account. Its `occurred_at` is when the interaction happened: it may lie in the past (a
visit written up the next morning) but not in the future beyond a few minutes of clock skew.
The creation's business time is its event's `meta.occurred_at`; a correction of the time is a
`DetailsChanged` naming `occurred_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.context import current_stamp
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.opportunities import business_time

ACTIVITY_TYPES = ("call", "visit", "email", "meeting", "note")
FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the server's clock an activity's time may be (devices' clocks drift)."""
CHANGEABLE = (
    "type",
    "subject",
    "notes",
    "contact_id",
    "opportunity_id",
    "service_request_id",
    "duration_minutes",
    "outcome",
    "next_step",
    "occurred_at",
)


def check_not_in_future(occurred_at: datetime, field: str = "occurred_at") -> None:
    """Business times may be late, never ahead of the recording clock beyond the tolerance."""
    _meta, recorded_at = current_stamp()
    if occurred_at > recorded_at + FUTURE_TOLERANCE:
        raise ValidationFailed([FieldError(field, "must not be in the future")])


def _check_type(activity_type: str) -> None:
    if activity_type not in ACTIVITY_TYPES:
        raise ValidationFailed([FieldError("type", f"must be one of {', '.join(ACTIVITY_TYPES)}")])


class Activity(Customisable):
    """One interaction with a customer, entered by its owner or by an assistant for it."""

    id: UUID
    kind = "activity"
    record_type = "activities"

    class Created(CrmAggregate.Created):
        account_id: str
        owner_id: str
        type: str
        subject: str | None
        notes: str | None
        contact_id: str | None
        opportunity_id: str | None
        service_request_id: str | None
        duration_minutes: int | None
        outcome: str | None
        next_step: str | None

    @event(Created)
    def __init__(
        self,
        account_id: str,
        owner_id: str,
        type: str,
        subject: str | None,
        notes: str | None,
        contact_id: str | None,
        opportunity_id: str | None,
        service_request_id: str | None,
        duration_minutes: int | None,
        outcome: str | None,
        next_step: str | None,
    ) -> None:
        self.account_id = account_id
        self.owner_id = owner_id
        self.type = type
        self.subject = subject
        self.notes = notes
        self.contact_id = contact_id
        self.opportunity_id = opportunity_id
        self.service_request_id = service_request_id
        self.duration_minutes = duration_minutes
        self.outcome = outcome
        self.next_step = next_step
        self.occurred_at: datetime | None = None
        self.entered_by: str | None = None
        self.on_behalf_of: str | None = None

    @classmethod
    def record(cls, activity_id: UUID, **details: Any) -> Activity:
        """Record an interaction; its time is the command's business time."""
        _check_type(details["type"])
        meta, _recorded_at = current_stamp()
        check_not_in_future(meta.occurred_at)
        return cls.with_id(activity_id, **details)

    def change_details(self, **changes: Any) -> None:
        """Only what differs is recorded; the account never changes (record a new activity)."""
        unknown = sorted(set(changes) - set(CHANGEABLE))
        if unknown:
            raise ValidationFailed([FieldError(name, "cannot be changed") for name in unknown])
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:
            return
        if "type" in changes:
            _check_type(changes["type"])
        if "occurred_at" in changes:
            check_not_in_future(changes["occurred_at"])
            changes["occurred_at"] = changes["occurred_at"].isoformat()
        self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, datetime.fromisoformat(value) if key == "occurred_at" else value)

    def _observe(self, e: Any) -> None:
        if type(e).__name__ == "Created":
            self.occurred_at = business_time(e)
            self.entered_by = e.meta["actor"]
            self.on_behalf_of = e.meta.get("on_behalf_of")
