"""The per-account timeline: every activity on an account and every event of the account's
records (the account itself, its contacts, opportunities, quotes, orders, shipments, invoices
and payments, assets and service requests), newest first, read through one index without scanning history.

Adding another aggregate is one line in SOURCES: `TimelineSource(ServiceRequest)` when its
events carry `account_id` (at least the creating one; later events are found through the
record's id), plus a `summary` if the generic one ("Service request resolved: <title>") is not
enough.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, String, Table, select, update

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.activities import ACTIVITY_TYPES, Activity
from crm_api.domain.assets import Asset
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.fulfilment import Shipment
from crm_api.domain.invoices import Invoice
from crm_api.domain.opportunities import Opportunity, business_time
from crm_api.domain.orders import Order
from crm_api.domain.quotes import Quote
from crm_api.domain.service import ServiceRequest
from crm_api.projections.base import Gathering, gathers, handles, insert_row, upsert_many
from crm_api.projections.paging import Page, Sort, keyset_page

SUMMARY_LENGTH = 300
DETAIL_FIELDS = ("name", "title", "subject", "number", "reason", "to_stage", "comment")


def carried_account(event: Any) -> str | None:
    """The account an event names, if it names one (creations do)."""
    account_id = getattr(event, "account_id", None)
    return str(account_id) if account_id is not None else None


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def generic_summary(kind: str, event: Any, personal: Collection[str] = ()) -> str:
    """The record kind and the event's name ("Quote submitted") and, if it has one, its most
    telling field ("Opportunity created: Big deal") unless that is personal data: a contact's
    name can be erased, so it is never copied here."""
    text = f"{kind.replace('_', ' ').capitalize()} {_words(type(event).__name__)}"
    for field in DETAIL_FIELDS:
        value = None if field in personal else getattr(event, field, None)
        if value:
            return f"{text}: {value}"
    return text


@dataclass(frozen=True)
class TimelineSource:
    """An aggregate whose events belong on its account's timeline."""

    aggregate: type[CrmAggregate]
    account_of: Callable[[Any], str | None] = carried_account
    summary: Callable[[Any], str] | None = None

    @property
    def kind(self) -> str:
        return self.aggregate.kind

    def events(self) -> list[type]:
        return [
            value
            for name, value in vars(self.aggregate).items()
            if isinstance(value, type) and issubclass(value, CrmAggregate.Event) and name != "Event"
        ]

    def summarise(self, event: Any) -> str:
        personal = getattr(self.aggregate, "personal_fields", ())
        text = self.summary(event) if self.summary else generic_summary(self.kind, event, personal)
        return text[:SUMMARY_LENGTH]


def _transfer_summary(event: Any) -> str:
    if isinstance(event, Account.OwnershipTransferred):
        return f"Ownership transferred from {event.from_owner_id} to {event.to_owner_id}"
    return generic_summary("account", event)


SOURCES: tuple[TimelineSource, ...] = (
    TimelineSource(Account, lambda e: str(e.originator_id), _transfer_summary),
    TimelineSource(Contact),
    TimelineSource(Opportunity),
    TimelineSource(Quote),
    TimelineSource(Order),
    TimelineSource(Shipment),
    TimelineSource(Invoice),
    TimelineSource(Asset),
    TimelineSource(ServiceRequest),
)
SOURCE_OF_EVENT = {event: source for source in SOURCES for event in source.events()}
RECORD_KINDS = tuple(source.kind for source in SOURCES)
TIMELINE_TYPES = (*ACTIVITY_TYPES, *RECORD_KINDS)

timeline = Table(
    "timeline",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("record_type", String(32), nullable=False),
    Column("record_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("summary", String(SUMMARY_LENGTH), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("on_behalf_of", String(36), nullable=True),
    Column("position", BigInteger, nullable=False),
    Index("ix_timeline_account_id_occurred_at_position", "account_id", "occurred_at", "position"),
)

timeline_records = Table(
    "timeline_records",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
)


def _activity_summary(activity_type: str, subject: str | None, outcome: str | None) -> str:
    text = activity_type.capitalize()
    detail = subject or outcome
    return (f"{text}: {detail}" if detail else text)[:SUMMARY_LENGTH]


def _who(event: Any) -> dict[str, Any]:
    return {
        "occurred_at": business_time(event),
        "recorded_at": event.timestamp,
        "actor": event.meta["actor"],
        "on_behalf_of": event.meta.get("on_behalf_of"),
    }


class TimelineProjection(Gathering):
    """Events that name their account (most: every creation, every order placed) are gathered
    and written per batch; one that doesn't is looked up by its record after a flush."""

    name = "timeline"
    tables = (timeline, timeline_records)

    def write_gathered(self, conn: Connection, items: list[tuple[Any, int]]) -> None:
        records = {row["record_id"]: row["account_id"] for (row, named), _ in items if named}
        upsert_many(
            conn,
            timeline_records,
            [{"record_id": r, "account_id": a} for r, a in records.items()],
            ["record_id"],
        )
        conn.execute(timeline.insert(), [row for (row, _), _ in items])

    @gathers(*SOURCE_OF_EVENT)
    def record_event(self, conn: Connection, e: Any, position: int) -> None:
        source = SOURCE_OF_EVENT[type(e)]
        record_id = str(e.originator_id)
        account_id = source.account_of(e)
        named = account_id is not None
        if not named:
            self.flush(conn)  # the record's first event may be among those gathered
            account_id = conn.execute(
                select(timeline_records.c.account_id).where(
                    timeline_records.c.record_id == record_id
                )
            ).scalar_one_or_none()
            if account_id is None:
                return
        row = {
            "id": f"{record_id}:{e.originator_version}",
            "account_id": account_id,
            "kind": "event",
            "category": source.kind,
            "record_type": source.kind,
            "record_id": record_id,
            "event_type": e.type_name,
            "summary": source.summarise(e),
            "position": position,
            **_who(e),
        }
        self.gather((row, named), position)

    @handles(Activity.Created)
    def activity_recorded(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            timeline,
            dict(
                id=str(e.originator_id),
                account_id=e.account_id,
                kind="activity",
                category=e.type,
                record_type="activity",
                record_id=str(e.originator_id),
                event_type=e.type_name,
                summary=_activity_summary(e.type, e.subject, e.outcome),
                position=position,
                **_who(e),
            ),
        )

    @handles(Activity.DetailsChanged)
    def activity_changed(self, conn: Connection, e: Any, position: int) -> None:
        """The activity stays one item, at its (possibly corrected) time."""
        changes = e.changes
        activity_id = str(e.originator_id)
        if not {"type", "subject", "outcome", "occurred_at"} & set(changes):
            return
        row = conn.execute(
            select(timeline.c.category, timeline.c.summary).where(timeline.c.id == activity_id)
        ).one()
        values: dict[str, Any] = {}
        if "occurred_at" in changes:
            values["occurred_at"] = datetime.fromisoformat(changes["occurred_at"])
        if {"type", "subject", "outcome"} & set(changes):
            values["category"] = changes.get("type", row.category)
            detail = row.summary.partition(": ")[2] or None
            if changes.get("subject"):
                detail = changes["subject"]
            elif "subject" in changes:
                detail = changes.get("outcome")
            values["summary"] = _activity_summary(values["category"], detail, None)
        conn.execute(update(timeline).where(timeline.c.id == activity_id).values(**values))


TIMELINE_SORT = Sort.parse("-occurred_at,-position", ("occurred_at", "position"), "")
TIMELINE_COLUMNS = tuple(c.name for c in timeline.c if c.name not in ("category", "account_id"))


def parse_types(types: Sequence[str] | None) -> list[str] | None:
    """`types=call,quote` (or repeated): activity types and record kinds."""
    if not types:
        return None
    wanted = [t.strip() for text in types for t in text.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in TIMELINE_TYPES]
    if unknown:
        raise ValidationFailed(
            [FieldError("types", f"unknown {unknown}; use {', '.join(TIMELINE_TYPES)}")]
        )
    return wanted or None


def account_timeline(
    conn: Connection,
    account_id: str,
    *,
    cursor: str | None,
    limit: int,
    types: list[str] | None = None,
) -> Page:
    """Newest first, by business time then log position."""
    t = timeline.c
    stmt = select(*[t[n] for n in TIMELINE_COLUMNS]).where(t.account_id == account_id)
    if types:
        stmt = stmt.where(t.category.in_(types))
    return keyset_page(conn, stmt, dict(t), TIMELINE_SORT, cursor, limit)
