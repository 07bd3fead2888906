"""The REST conventions, once: write answers (ETag, X-Log-Position, read-your-writes), pages,
history, and point-in-time reads. Routers call these and nothing else does the same job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

from crm_api.application.app import CrmApplication, Outcome
from crm_api.application.services import Services
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.paging import InvalidCursor, Page

T = TypeVar("T")
A = TypeVar("A", bound=CrmAggregate)

HISTORY_INTERNAL_FIELDS = {
    "originator_id",
    "originator_version",
    "timestamp",
    "meta",
    "originator_topic",
}


EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(8999, 12, 31)
_CALENDAR = f"must be between {EARLIEST_DAY} and {LATEST_DAY}"


def _within_calendar(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(_CALENDAR)
    return value


def _utc_within_calendar(value: datetime) -> datetime:
    """A naive instant is UTC (as `point_in_time` reads `as_of`); the stores keep only aware ones."""
    _within_calendar(value.date())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Day = Annotated[date, AfterValidator(_within_calendar)]
"""A day in a query filter: reports do day arithmetic (aging buckets, windows) that the ends of
the calendar (0001-01-01, 9999-12-31) overflow; such a day is a 422 naming the parameter."""
Instant = Annotated[datetime, AfterValidator(_utc_within_calendar)]
"""An instant in a query filter: naive means UTC, and the day must be a `Day`."""


ArchivedFilter = Annotated[
    Literal["false", "true", "any"],
    Query(description="Archived records: false (default), true, or any."),
]
ARCHIVED: dict[str, bool | None] = {"false": False, "true": True, "any": None}


def _reject_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, list):
        for item in value:
            _reject_nul(item)
    return value


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, never silently dropped; text never holds
    NUL characters (PostgreSQL cannot store them, and nothing legitimate sends them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _reject_nul(value)


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is stable for machines."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": description,
        "content": {"application/problem+json": {}},
    }
    for status, description in [
        (400, "Malformed request (bad JSON, bad cursor)"),
        (401, "Missing or invalid bearer token"),
        (403, "The caller's role or scopes do not allow this"),
        (404, "No such record, or not visible to the caller"),
        (409, "Conflict with the record's state or a request in flight"),
        (412, "If-Match names an older version (version_conflict)"),
        (413, "Body too large"),
        (422, "Invalid fields (errors[] names each)"),
    ]
}

IF_MATCH_REQUIRED: dict[int | str, dict[str, Any]] = {
    428: {
        "model": Problem,
        "description": "If-Match is required: the command names the version it acts on",
        "content": {"application/problem+json": {}},
    }
}


class ListEnvelope(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None
    has_more: bool


class HistoryEntry(BaseModel):
    type: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    actor_type: str
    on_behalf_of: str | None
    command_id: str
    correlation_id: str
    data: dict[str, Any]


def written(
    services: Services,
    response: Response,
    outcome: Outcome[A],
    view: Callable[[A], dict[str, Any]],
    *,
    created_at: str | None = None,
) -> dict[str, Any]:
    """Answer a write: wait (bounded) until lists show it, then send ETag and log position."""
    services.wait_for(outcome.position, outcome.topics)
    response.headers["ETag"] = f'"{outcome.record.version}"'
    response.headers["X-Log-Position"] = str(outcome.position)
    if created_at is not None:
        response.status_code = 201
        response.headers["Location"] = f"{created_at}/{outcome.record.id}"
    return view(outcome.record)


def one(response: Response, record: A, view: Callable[[A], dict[str, Any]]) -> dict[str, Any]:
    response.headers["ETag"] = f'"{record.version}"'
    return view(record)


def point_in_time(
    app: CrmApplication,
    record: A,
    cls: type[A],
    *,
    version: int | None,
    as_of: datetime | None,
) -> A:
    """`?version=` or `?as_of=` of a record the caller may see (checked on the current one)."""
    if version is not None and as_of is not None:
        raise ValidationFailed([FieldError("as_of", "give either as_of or version, not both")])
    if version is not None:
        return app.at_version(record.id, cls, version)
    if as_of is not None:
        return app.as_of(record.id, cls, as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC))
    return record


def listed(page: Page) -> dict[str, Any]:
    return {"data": page.rows, "next_cursor": page.next_cursor, "has_more": page.has_more}


def wait_min_position(services: Services, min_position: int | None) -> None:
    if min_position:
        services.wait_for(min_position)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def history_entry(event: Any) -> dict[str, Any]:
    meta = event.meta
    return {
        "type": event.type_name,
        "version": event.originator_version,
        "occurred_at": meta["occurred_at"],
        "recorded_at": event.timestamp,
        "actor": meta["actor"],
        "actor_type": meta.get("actor_type", "user"),
        "on_behalf_of": meta.get("on_behalf_of"),
        "command_id": meta["command_id"],
        "correlation_id": meta["correlation_id"],
        "data": {k: _plain(v) for k, v in vars(event).items() if k not in HISTORY_INTERNAL_FIELDS},
    }


def history(
    app: CrmApplication, record: A, cls: type[A], cursor: str | None, limit: int
) -> dict[str, Any]:
    """A record's events in order, paged by version (the cursor is the last version seen)."""
    after = 0
    if cursor:
        if not cursor.isdigit() or len(cursor) > 9:
            raise InvalidCursor("the cursor is malformed; use next_cursor from a previous page")
        after = int(cursor)
    events = app.history(record.id, cls, after_version=after, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return {
        "data": [history_entry(e) for e in events],
        "next_cursor": str(events[-1].originator_version) if more else None,
        "has_more": more,
    }
