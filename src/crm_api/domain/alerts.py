"""Alerts: a watcher noticed something that needs a person (an account gone dormant, a service
request near or past its SLA), once per episode, until the cause ends.

An alert's id derives from its kind, its subject, its target and the episode, so two ticks or
two processes that notice the same thing record one alert. Raising, acknowledging and clearing are
events like any other: replayable, in the feed, on webhooks and subscriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.accounts import GRADES
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed
from crm_api.domain.sla import SlaTerms

ACCOUNT_DORMANT = "account_dormant"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"
KINDS = (ACCOUNT_DORMANT, SLA_WARNING, SLA_BREACHED)

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
SLA_TARGETS = (FIRST_RESPONSE, RESOLUTION)

SLA_WARNING_SHARE = 0.8
"""An SLA warning is due once 80 % of a target's time (active time, with business hours) is
used."""


def sla_warning_at(terms: SlaTerms | None, start: datetime, due: datetime) -> datetime:
    """When 80 % of the time between the clock's start and the due time is used."""
    if terms is None:
        return start + (due - start) * SLA_WARNING_SHARE
    return terms.after(start, terms.active_seconds(start, due) * SLA_WARNING_SHARE)


@dataclass(frozen=True)
class DormancyRule:
    """An account is dormant after `days` without an order (counted from its last order, or
    from its opening when it has none); the account's manual grade may set its own number."""

    days: int
    by_grade: dict[str, int]

    @classmethod
    def parse(cls, days: int, by_grade: str) -> DormancyRule:
        """`by_grade` as `A=60,B=90,C=120,D=180` (any subset of the grades)."""
        if days < 1:
            raise ValidationFailed([FieldError("dormancy_days", "must be at least 1")])
        grades: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in by_grade.split(","))):
            grade, _, value = part.partition("=")
            grade = grade.strip().upper()
            if grade not in GRADES or not value.strip().isdigit() or int(value) < 1:
                raise ValidationFailed(
                    [FieldError("dormancy_days_by_grade", f"expected e.g. A=60,B=90, not {part}")]
                )
            grades[grade] = int(value)
        return cls(days, grades)

    def days_for(self, grade: str | None) -> int:
        return self.by_grade.get(grade or "", self.days)

    def windows(self) -> list[tuple[str | None, int]]:
        """(grade, days) for every grade and for accounts without one."""
        return [(grade, self.days_for(grade)) for grade in GRADES] + [(None, self.days)]

    def dormant_since(self, last_activity: datetime, grade: str | None) -> datetime:
        return last_activity + timedelta(days=self.days_for(grade))


class Alert(CrmAggregate):
    """Raised by the system; acknowledged by a person; cleared when the cause ends."""

    id: UUID
    kind = "alert"

    class Raised(CrmAggregate.Created):
        alert_kind: str
        subject_type: str
        subject_id: str
        account_id: str
        owner_id: str
        assignee_id: str | None
        target: str | None
        threshold_at: datetime
        episode: int

    @event(Raised)
    def __init__(
        self,
        alert_kind: str,
        subject_type: str,
        subject_id: str,
        account_id: str,
        owner_id: str,
        assignee_id: str | None,
        target: str | None,
        threshold_at: datetime,
        episode: int,
    ) -> None:
        self.alert_kind = alert_kind
        self.subject_type = subject_type
        self.subject_id = subject_id
        self.account_id = account_id
        self.owner_id = owner_id
        self.assignee_id = assignee_id
        self.target = target
        self.threshold_at = threshold_at
        self.episode = episode
        self.raised_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None
        self.cleared_at: datetime | None = None
        self.clear_reason: str | None = None

    @classmethod
    def raise_for(cls, alert_id: UUID, **details: Any) -> Alert:
        """`alert_id` derives from the episode (see application/watchers.py)."""
        if details["alert_kind"] not in KINDS:
            raise ValidationFailed([FieldError("kind", f"must be one of {', '.join(KINDS)}")])
        return cls.with_id(alert_id, **details)

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

    def acknowledge(self) -> None:
        """Someone has seen it (once; an acknowledged alert stays open until its cause ends)."""
        if self.acknowledged_at is not None:
            raise InvalidTransition(
                "the alert is already acknowledged", code="already_acknowledged"
            )
        self._acknowledged()

    @event("Acknowledged")
    def _acknowledged(self) -> None:
        pass

    def clear(self, reason: str) -> bool:
        """The cause ended; False when it was already cleared (a retried clearing)."""
        if not self.is_open:
            return False
        self._cleared(reason=reason)
        return True

    @event("Cleared")
    def _cleared(self, reason: str) -> None:
        self.clear_reason = reason

    def _observe(self, e: Any) -> None:
        at = datetime.fromisoformat(e.meta["occurred_at"])
        name = type(e).__name__
        if name == "Raised":
            self.raised_at = at
        elif name == "Acknowledged":
            self.acknowledged_by = e.meta.get("on_behalf_of") or e.meta["actor"]
            self.acknowledged_at = at
        elif name == "Cleared":
            self.cleared_at = at
