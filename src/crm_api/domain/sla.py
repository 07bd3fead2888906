"""The SLA clock, as pure arithmetic: due times from a policy's terms, business hours, pauses
while waiting on the customer, and a restart when a request is reopened.

Time is counted in *active* seconds: every second without business hours, only seconds inside
the calendar's working windows with them. A pause (waiting on the customer) that begins before
a due time moves that due time out by the active seconds the pause lasted; a pause that begins
after it changes nothing (the target was already missed). Reopening restarts the resolution
clock: a new resolve due time counted from the reopen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_api.domain.errors import FieldError, ValidationFailed

PENDING = "pending"
PAUSED = "paused"
MET = "met"
BREACHED = "breached"
NONE = "none"

MAX_MINUTES = 366 * 24 * 60


@dataclass(frozen=True)
class BusinessHours:
    """Working windows: on `weekdays` (0 = Monday … 6 = Sunday), from `start` to `end` local
    time in `timezone` (an IANA name). A window never spans midnight."""

    weekdays: tuple[int, ...]
    start: time
    end: time
    timezone: str

    @classmethod
    def of(cls, weekdays: list[int], start: time, end: time, timezone: str) -> BusinessHours:
        errors = []
        if not weekdays or any(not 0 <= d <= 6 for d in weekdays):
            errors.append(FieldError("business_hours.weekdays", "give days 0 (Monday) to 6"))
        if start >= end:
            errors.append(FieldError("business_hours.end", "must be after start"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("business_hours.timezone", f"no time zone '{timezone}'"))
        if errors:
            raise ValidationFailed(errors)
        return cls(tuple(sorted(set(weekdays))), start, end, timezone)

    def as_dict(self) -> dict[str, Any]:
        return {
            "weekdays": list(self.weekdays),
            "start": self.start.isoformat(timespec="minutes"),
            "end": self.end.isoformat(timespec="minutes"),
            "timezone": self.timezone,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BusinessHours:
        return cls(
            tuple(data["weekdays"]),
            time.fromisoformat(data["start"]),
            time.fromisoformat(data["end"]),
            data["timezone"],
        )

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.weekdays:
            return None
        zone = ZoneInfo(self.timezone)
        opens = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)
        return opens, closes

    def _local_day(self, at: datetime) -> date:
        return at.astimezone(ZoneInfo(self.timezone)).date()

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of working time have passed since `start`."""
        day = self._local_day(start)
        at = start
        while True:
            window = self._window(day)
            if window is not None:
                opens, closes = window
                begin = max(at, opens)
                if begin < closes:
                    available = (closes - begin).total_seconds()
                    if seconds <= available:
                        return begin + timedelta(seconds=seconds)
                    seconds -= available
            day += timedelta(days=1)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Working seconds in [start, end)."""
        total = 0.0
        day = self._local_day(start)
        while day <= self._local_day(end):
            window = self._window(day)
            if window is not None:
                begin, finish = max(start, window[0]), min(end, window[1])
                if begin < finish:
                    total += (finish - begin).total_seconds()
            day += timedelta(days=1)
        return total


@dataclass(frozen=True)
class SlaTerms:
    """A policy's promise for one priority, as snapshotted on a request when it opens."""

    first_response_minutes: int
    resolve_minutes: int
    hours: BusinessHours | None = None

    @classmethod
    def of(
        cls, first_response_minutes: int, resolve_minutes: int, hours: BusinessHours | None
    ) -> SlaTerms:
        errors = []
        for name, minutes in (
            ("first_response_within_minutes", first_response_minutes),
            ("resolve_within_minutes", resolve_minutes),
        ):
            if not 1 <= minutes <= MAX_MINUTES:
                errors.append(FieldError(name, f"must be between 1 and {MAX_MINUTES}"))
        if not errors and resolve_minutes < first_response_minutes:
            errors.append(
                FieldError("resolve_within_minutes", "must not be shorter than the first response")
            )
        if errors:
            raise ValidationFailed(errors)
        return cls(first_response_minutes, resolve_minutes, hours)

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_response_within_minutes": self.first_response_minutes,
            "resolve_within_minutes": self.resolve_minutes,
            "business_hours": self.hours.as_dict() if self.hours else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlaTerms:
        hours = data.get("business_hours")
        return cls(
            data["first_response_within_minutes"],
            data["resolve_within_minutes"],
            BusinessHours.from_dict(hours) if hours else None,
        )

    def after(self, start: datetime, seconds: float) -> datetime:
        if self.hours is None:
            return start + timedelta(seconds=seconds)
        return self.hours.add(start, seconds)

    def active_seconds(self, start: datetime, end: datetime) -> float:
        if self.hours is None:
            return max((end - start).total_seconds(), 0.0)
        return self.hours.seconds_between(start, end)

    def extended(self, due: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
        """A due time after a pause: moved out by the pause's active time, if it began in time."""
        if paused_at >= due:
            return due
        return self.after(due, self.active_seconds(paused_at, resumed_at))


@dataclass(frozen=True)
class SlaClock:
    """A request's clock: the due times and the pause in course, if any."""

    terms: SlaTerms | None
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0

    @classmethod
    def start(cls, terms: SlaTerms | None, at: datetime) -> SlaClock:
        if terms is None:
            return cls(None, None, None)
        return cls(
            terms,
            terms.after(at, terms.first_response_minutes * 60),
            terms.after(at, terms.resolve_minutes * 60),
        )

    def pause(self, at: datetime) -> SlaClock:
        return replace(self, paused_since=at)

    def resume(self, at: datetime) -> SlaClock:
        """The pause ends: unmet due times move out by its active time."""
        since = self.paused_since
        if since is None:
            return self
        paused = self.paused_seconds + max((at - since).total_seconds(), 0.0)
        if self.terms is None:
            return replace(self, paused_since=None, paused_seconds=paused)
        terms = self.terms
        return replace(
            self,
            first_response_due_at=_moved(terms, self.first_response_due_at, since, at),
            resolve_due_at=_moved(terms, self.resolve_due_at, since, at),
            paused_since=None,
            paused_seconds=paused,
        )

    def restart(self, at: datetime) -> SlaClock:
        """Reopened: a new resolution target counted from `at`."""
        clock = self.resume(at)
        if clock.terms is None:
            return clock
        return replace(
            clock, resolve_due_at=clock.terms.after(at, clock.terms.resolve_minutes * 60)
        )

    def paused_total(self, now: datetime) -> float:
        running = (now - self.paused_since).total_seconds() if self.paused_since else 0.0
        return self.paused_seconds + max(running, 0.0)


def _moved(
    terms: SlaTerms, due: datetime | None, paused_at: datetime, resumed_at: datetime
) -> datetime | None:
    return None if due is None else terms.extended(due, paused_at, resumed_at)


def target_status(
    due: datetime | None, done_at: datetime | None, now: datetime, paused_since: datetime | None
) -> str:
    """Where one target stands: none (no policy), met, breached, paused or pending."""
    if due is None:
        return NONE
    if done_at is not None:
        return MET if done_at <= due else BREACHED
    if paused_since is not None:
        return BREACHED if paused_since >= due else PAUSED
    return BREACHED if now > due else PENDING


def sla_view(
    *,
    first_response_due_at: datetime | None,
    resolve_due_at: datetime | None,
    paused_since: datetime | None,
    paused_seconds: float,
    first_responded_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """A request's SLA state at `now` (open targets are judged against the clock)."""
    running = (now - paused_since).total_seconds() if paused_since else 0.0
    return {
        "first_response_due_at": first_response_due_at,
        "resolve_due_at": resolve_due_at,
        "paused": paused_since is not None,
        "paused_since": paused_since,
        "paused_seconds": int(paused_seconds + max(running, 0.0)),
        "first_response": target_status(first_response_due_at, first_responded_at, now, None),
        "resolution": target_status(resolve_due_at, resolved_at, now, paused_since),
    }
