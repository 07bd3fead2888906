"""Exports: a caller's own records streamed as CSV or NDJSON, each export on the record.

An export is recorded when it starts (`ExportStarted`: who, what, which filters; the day's
slot, which enforces the daily cap) and when the last row has gone out (`ExportFinished`: how
many rows, and whether the client took them all). Counting first would run the query twice and
could still disagree with what was sent; the count that matters is the one streamed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    func,
    select,
    update,
)

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.db import UTCDateTime, metadata
from crm_api.domain.context import Clock
from crm_api.domain.privacy import EXPORT_FORMATS, EXPORT_RESOURCES, Export
from crm_api.integrations.event_feed import plain
from crm_api.projections.base import Projection, handles
from crm_api.projections.paging import Page, Sort, keyset_page

EXPORT_PAGE_ROWS = 200

exports = Table(
    "exports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("on_behalf_of", String(36), nullable=True),
    Column("resource", String(20), nullable=False),
    Column("output_format", String(10), nullable=False),
    Column("filters", JSON, nullable=False),
    Column("rows", Integer, nullable=True),
    Column("completed", Boolean, nullable=True),
    Column("started_at", UTCDateTime, nullable=False, index=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("position", BigInteger, nullable=False),
)


class ExportService:
    def __init__(self, app: CrmApplication, clock: Clock, daily_cap: int) -> None:
        self.app = app
        self.clock = clock
        self.daily_cap = daily_cap

    @command
    def start(
        self, ctx: CommandContext, resource: str, output_format: str, filters: dict[str, Any]
    ) -> Outcome[Export]:
        """Take the caller's next export slot of the day (ExportCapReached when none is left)."""
        assert resource in EXPORT_RESOURCES and output_format in EXPORT_FORMATS
        principal = ctx.principal
        principal.require("data:export")
        principal.require(f"{resource}:read")
        day = self.clock.now().date()
        for _ in range(self.daily_cap):
            slot = Export.free_slot(
                lambda n: self.app.exists(Export.id_for(principal.id, day, n)), self.daily_cap
            )
            with self.app.stamping(ctx):
                export = Export.with_id(
                    Export.id_for(principal.id, day, slot),
                    user_id=principal.id,
                    day=day.isoformat(),
                    slot=slot,
                    resource=resource,
                    output_format=output_format,
                    filters=plain(filters),
                )
            try:
                recordings = self.app.save(export)
            except IntegrityError:
                continue  # another export of this user took the slot first
            return Outcome(
                export,
                recordings[-1].notification.id,
                topics=frozenset(r.notification.topic for r in recordings),
            )
        raise AssertionError("every slot was taken while looking: the cap check would say so")

    @command
    def finish(
        self, ctx: CommandContext, export_id: str, rows: int, completed: bool
    ) -> Outcome[Export]:
        return self.app.change(
            ctx, export_id, Export, lambda export: export.finish(rows=rows, completed=completed)
        )

    def stream(
        self,
        ctx: CommandContext,
        export: Export,
        rows: Iterable[dict[str, Any]],
        encode: Callable[[Iterable[dict[str, Any]]], Iterator[bytes]],
    ) -> Iterator[bytes]:
        """Encode rows as they come; when the stream ends (or the client leaves), record how
        many rows went out."""
        sent = 0
        completed = False

        def counted() -> Iterator[dict[str, Any]]:
            nonlocal sent
            for row in rows:
                yield row
                sent += 1

        try:
            yield from encode(counted())
            completed = True
        finally:
            finished = replace(ctx, command_id=f"{ctx.command_id}:finished")
            self.finish(finished, str(export.id), sent, completed)


def paged_rows(fetch: Callable[[str | None], Page]) -> Iterator[dict[str, Any]]:
    """Every row of a keyset-paged list, one page (one short query) at a time."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


_FORMULA = re.compile(r"^[=@\t\r]|^[+\-](?![0-9 ()./\-]*$)")


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with a leading `'`
    (phone numbers such as +49 30 1234 stay as they are)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(plain(value), separators=(",", ":"))
    text = str(plain(value))
    return "'" + text if _FORMULA.match(text) else text


def csv_encoder(columns: tuple[str, ...]) -> Callable[[Iterable[dict[str, Any]]], Iterator[bytes]]:
    def encode(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    return encode


def ndjson_encoder(
    columns: tuple[str, ...],
) -> Callable[[Iterable[dict[str, Any]]], Iterator[bytes]]:
    def encode(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
        for row in rows:
            yield json.dumps({c: plain(row.get(c)) for c in columns}).encode() + b"\n"

    return encode


ENCODERS = {"csv": csv_encoder, "ndjson": ndjson_encoder}
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


class ExportsProjection(Projection):
    name = "exports"
    tables = (exports,)

    @handles(Export.Started)
    def started(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            exports.insert().values(
                id=str(e.originator_id),
                user_id=e.user_id,
                on_behalf_of=e.meta.get("on_behalf_of"),
                resource=e.resource,
                output_format=e.output_format,
                filters=e.filters,
                started_at=e.timestamp,
                position=position,
            )
        )

    @handles(Export.Finished)
    def finished(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(exports)
            .where(exports.c.id == str(e.originator_id))
            .values(rows=e.rows, completed=e.completed, finished_at=e.timestamp, position=position)
        )


def exports_per_user(
    conn: Connection,
    *,
    visible_users: frozenset[str] | None,
    started_from: datetime | None,
    started_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """Per user: exports started in the period, rows sent, unfinished ones, the latest."""
    stmt = select(
        exports.c.user_id.label("id"),
        func.count().label("exports"),
        func.coalesce(func.sum(exports.c.rows), 0).label("rows"),
        func.count().filter(exports.c.completed.is_not(True)).label("incomplete"),
        func.max(exports.c.started_at).label("last_export_at"),
    ).group_by(exports.c.user_id)
    if visible_users is not None:
        stmt = stmt.where(exports.c.user_id.in_(sorted(visible_users)))
    if started_from is not None:
        stmt = stmt.where(exports.c.started_at >= started_from)
    if started_to is not None:
        stmt = stmt.where(exports.c.started_at < started_to)
    per_user = stmt.subquery()
    page = keyset_page(
        conn,
        select(per_user),
        dict(per_user.c),
        Sort.parse(None, ("id",), "id"),
        cursor,
        limit,
    )
    rows = [{"user_id": r.pop("id"), **r} for r in page.rows]
    return Page(rows, page.next_cursor)
