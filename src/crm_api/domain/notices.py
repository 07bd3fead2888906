"""Meeting notices (time, place, attendees, agenda; each attendee acknowledges it) and reports
of important matters (free text and a severity, addressed to the author's manager, who
acknowledges it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)

SEVERITIES = ("low", "medium", "high", "critical")
MAX_ATTENDEES = 200
MAX_LINKS = 20


class MeetingNotice(CrmAggregate):
    id: UUID
    kind = "meeting_notice"

    class Created(CrmAggregate.Created):
        organizer_id: str
        title: str
        starts_at: datetime
        ends_at: datetime | None
        place: str | None
        agenda: str | None
        attendee_ids: list[str]

    @event(Created)
    def __init__(
        self,
        organizer_id: str,
        title: str,
        starts_at: datetime,
        ends_at: datetime | None,
        place: str | None,
        agenda: str | None,
        attendee_ids: list[str],
    ) -> None:
        self.organizer_id = organizer_id
        self.title = title
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.place = place
        self.agenda = agenda
        self.attendee_ids = attendee_ids
        self.acknowledged: dict[str, datetime] = {}
        self.cancelled = False

    @classmethod
    def issue(cls, notice_id: UUID, **details: Any) -> MeetingNotice:
        attendees: list[str] = details["attendee_ids"]
        errors = []
        if not attendees:
            errors.append(FieldError("attendee_ids", "name at least one attendee"))
        elif len(set(attendees)) != len(attendees):
            errors.append(FieldError("attendee_ids", "an attendee is named twice"))
        elif len(attendees) > MAX_ATTENDEES:
            errors.append(FieldError("attendee_ids", f"at most {MAX_ATTENDEES} attendees"))
        if details["ends_at"] is not None and details["ends_at"] <= details["starts_at"]:
            errors.append(FieldError("ends_at", "must be after starts_at"))
        if errors:
            raise ValidationFailed(errors)
        return cls.with_id(notice_id, **details)

    def acknowledge(self, attendee_id: str) -> None:
        """Only an attendee acknowledges, for itself, once."""
        if attendee_id not in self.attendee_ids:
            raise PermissionDenied(
                "only an attendee acknowledges a meeting notice, for itself",
                code="not_an_attendee",
            )
        if self.cancelled:
            raise InvalidTransition("the meeting is cancelled", code="invalid_state")
        if attendee_id in self.acknowledged:
            raise Conflict("you have already acknowledged this notice", code="already_acknowledged")
        self._acknowledged(attendee_id=attendee_id)

    @event("Acknowledged")
    def _acknowledged(self, attendee_id: str) -> None:
        """When is the event's business time: `_observe` keeps it."""

    def cancel(self, reason: str | None) -> None:
        if self.cancelled:
            raise InvalidTransition("the meeting is already cancelled", code="invalid_state")
        self._cancelled(reason=reason)

    @event("Cancelled")
    def _cancelled(self, reason: str | None) -> None:
        self.cancelled = True

    def _observe(self, e: Any) -> None:
        if type(e).__name__ == "Acknowledged":
            at = datetime.fromisoformat(e.meta["occurred_at"])
            self.acknowledged = {**self.acknowledged, e.attendee_id: at}


class MatterReport(CrmAggregate):
    """An important matter a rep reports to its manager."""

    id: UUID
    kind = "matter_report"

    class Created(CrmAggregate.Created):
        author_id: str
        addressed_to: str | None
        title: str
        text: str
        severity: str
        links: list[dict[str, str]]

    @event(Created)
    def __init__(
        self,
        author_id: str,
        addressed_to: str | None,
        title: str,
        text: str,
        severity: str,
        links: list[dict[str, str]],
    ) -> None:
        self.author_id = author_id
        self.addressed_to = addressed_to
        self.title = title
        self.text = text
        self.severity = severity
        self.links = links
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None

    @classmethod
    def file(cls, report_id: UUID, **details: Any) -> MatterReport:
        if details["severity"] not in SEVERITIES:
            raise ValidationFailed(
                [FieldError("severity", f"must be one of {', '.join(SEVERITIES)}")]
            )
        if len(details["links"]) > MAX_LINKS:
            raise ValidationFailed([FieldError("links", f"at most {MAX_LINKS} links")])
        return cls.with_id(report_id, **details)

    def acknowledge(self, reader_id: str, may_acknowledge_any: bool) -> None:
        """The addressee acknowledges (an admin may stand in when nobody is addressed)."""
        if reader_id != self.addressed_to and not may_acknowledge_any:
            raise PermissionDenied(
                "only the manager the report is addressed to acknowledges it",
                code="not_the_addressee",
            )
        if self.acknowledged_by is not None:
            raise Conflict("the report is already acknowledged", code="already_acknowledged")
        self._acknowledged(reader_id=reader_id)

    @event("Acknowledged")
    def _acknowledged(self, reader_id: str) -> None:
        self.acknowledged_by = reader_id

    def _observe(self, e: Any) -> None:
        if type(e).__name__ == "Acknowledged":
            self.acknowledged_at = datetime.fromisoformat(e.meta["occurred_at"])
