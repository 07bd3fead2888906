"""Read model of quotes: the current revision, its lines and totals, the approval it carries,
and whose accounts they are (kept here from the account events, so lists filter by visibility
without reading another projection's tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    delete,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.quotes import (
    OPEN,
    Quote,
    QuoteState,
    deepest_discount_pct,
    discount_pct,
    totals,
)
from crm_api.projections.base import handles, insert_row
from crm_api.projections.custom_fields import CustomFieldQuery
from crm_api.projections.directory import like_pattern
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page

quote_account_owners = account_owners_table("quote_account_owners")

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("owner_id", String(36), nullable=False),
    Column("opportunity_id", String(36), nullable=True, index=True),
    Column("title", String(200), nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("revision", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("amount", Numeric(18, 2), nullable=False),
    Column("list_amount", Numeric(18, 2), nullable=False),
    Column("cost", Numeric(18, 2), nullable=False),
    Column("margin", Numeric(18, 2), nullable=False),
    Column("deepest_discount_pct", Numeric(9, 2), nullable=False),
    Column("needs_approval", Boolean, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("approved_by", String(36), nullable=True),
    Column("approved_revision", Integer, nullable=True),
    Column("approved_at", UTCDateTime, nullable=True),
    Column("submitted_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("voided_approvals", Integer, nullable=False),
    Column("search_text", String(300), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_quotes_updated_at_id", "updated_at", "id"),
    Index("ix_quotes_created_at_id", "created_at", "id"),
    Index("ix_quotes_valid_until_id", "valid_until", "id"),
)

quote_lines = Table(
    "quote_lines",
    metadata,
    Column("quote_id", String(36), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("product_id", String(36), nullable=False, index=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("quantity", Numeric(18, 3), nullable=False),
    Column("unit_price", Numeric(14, 2), nullable=False),
    Column("list_price", Numeric(14, 2), nullable=False),
    Column("floor_price", Numeric(14, 2), nullable=False),
    Column("unit_cost", Numeric(14, 2), nullable=False),
    Column("discount_pct", Numeric(9, 2), nullable=False),
    Column("below_floor", Boolean, nullable=False),
)

CLOSING_EVENTS = (
    Quote.ApprovalRejected,
    Quote.RejectedByCustomer,
    Quote.Accepted,
    Quote.Expired,
    Quote.Withdrawn,
)
STATE_AFTER: dict[type, QuoteState] = {
    Quote.Submitted: QuoteState.PENDING_APPROVAL,
    Quote.Sent: QuoteState.SENT,
    Quote.ApprovalRejected: QuoteState.REJECTED,
    Quote.RejectedByCustomer: QuoteState.REJECTED,
    Quote.Accepted: QuoteState.ACCEPTED,
    Quote.Expired: QuoteState.EXPIRED,
    Quote.Withdrawn: QuoteState.WITHDRAWN,
}


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


def _revision_values(e: Any) -> dict[str, Any]:
    """What a revision (the first one included) sets on the quote row."""
    sums = totals(e.lines)
    return {
        "title": e.title,
        "valid_until": e.valid_until,
        "amount": sums["amount"],
        "list_amount": sums["list_amount"],
        "cost": sums["cost"],
        "margin": sums["margin"],
        "deepest_discount_pct": deepest_discount_pct(e.lines),
        "needs_approval": any(line["unit_price"] < line["floor_price"] for line in e.lines),
        "line_count": len(e.lines),
        "search_text": e.title.lower()[:300],
        "state": QuoteState.DRAFT.value,
        "approved_by": None,
        "approved_revision": None,
        "approved_at": None,
        "submitted_at": None,
        "closed_at": None,
    }


def _write_lines(conn: Connection, quote_id: str, lines: list[dict[str, Any]]) -> None:
    conn.execute(delete(quote_lines).where(quote_lines.c.quote_id == quote_id))
    if lines:
        conn.execute(
            quote_lines.insert(),
            [
                {
                    "quote_id": quote_id,
                    "line": line["line"],
                    "product_id": line["product_id"],
                    "sku": line["sku"],
                    "name": line["name"],
                    "quantity": line["quantity"],
                    "unit_price": line["unit_price"],
                    "list_price": line["list_price"],
                    "floor_price": line["floor_price"],
                    "unit_cost": line["unit_cost"],
                    "discount_pct": discount_pct(line),
                    "below_floor": line["unit_price"] < line["floor_price"],
                }
                for line in lines
            ],
        )


class QuotesProjection(FollowsAccountOwners):
    name = "quotes"
    tables = (quote_lines, quotes, quote_account_owners)
    account_owners = quote_account_owners
    owner_columns = (quotes.c.account_owner_id,)

    # whose accounts

    # quotes

    @handles(Quote.Created)
    def created(self, conn: Connection, e: Any, position: int) -> None:
        quote_id = str(e.originator_id)
        account_owner = self.owner_of(conn, e.account_id)
        insert_row(
            conn,
            quotes,
            dict(
                id=quote_id,
                account_id=e.account_id,
                account_owner_id=account_owner or e.owner_id,
                owner_id=e.owner_id,
                opportunity_id=e.opportunity_id,
                currency=e.currency,
                revision=1,
                voided_approvals=0,
                created_at=e.timestamp,
                **_revision_values(e),
                **_stamp(e, position),
            ),
        )
        _write_lines(conn, quote_id, e.lines)

    @handles(Quote.CustomFieldsChanged)
    def quote_custom_fields(self, conn: Connection, e: Any, position: int) -> None:
        """The values live in the custom_fields read model; here only the version moves."""
        conn.execute(
            update(quotes).where(quotes.c.id == str(e.originator_id)).values(**_stamp(e, position))
        )

    @handles(Quote.Revised)
    def revised(self, conn: Connection, e: Any, position: int) -> None:
        quote_id = str(e.originator_id)
        conn.execute(
            update(quotes)
            .where(quotes.c.id == quote_id)
            .values(revision=e.revision, **_revision_values(e), **_stamp(e, position))
        )
        _write_lines(conn, quote_id, e.lines)

    @handles(Quote.Approved)
    def approved(self, conn: Connection, e: Any, position: int) -> None:
        self._set(
            conn,
            e,
            position,
            state=QuoteState.APPROVED.value,
            approved_by=e.approved_by,
            approved_revision=e.revision,
            approved_at=e.timestamp,
        )

    @handles(Quote.ApprovalVoided)
    def approval_voided(self, conn: Connection, e: Any, position: int) -> None:
        self._set(
            conn,
            e,
            position,
            approved_by=None,
            approved_revision=None,
            approved_at=None,
            voided_approvals=quotes.c.voided_approvals + 1,
        )

    @handles(*STATE_AFTER)
    def state_changed(self, conn: Connection, e: Any, position: int) -> None:
        values: dict[str, Any] = {"state": STATE_AFTER[type(e)].value}
        if isinstance(e, Quote.Submitted):
            values["submitted_at"] = e.timestamp
        if isinstance(e, CLOSING_EVENTS):
            values["closed_at"] = e.timestamp
        self._set(conn, e, position, **values)

    @staticmethod
    def _set(conn: Connection, e: Any, position: int, **values: Any) -> None:
        conn.execute(
            update(quotes)
            .where(quotes.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )


QUOTE_SORTS = ("created_at", "updated_at", "valid_until", "amount", "title")
QUOTE_COLUMNS = tuple(
    c.name for c in quotes.c if c.name not in ("search_text", "position", "account_owner_id")
)
LINE_COLUMNS = tuple(c.name for c in quote_lines.c if c.name != "quote_id")


def list_quotes(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    opportunity_id: str | None = None,
    owner_id: str | None = None,
    state: str | None = None,
    q: str | None = None,
    updated_since: datetime | None = None,
    valid_until_before: date | None = None,
    custom: CustomFieldQuery | None = None,
) -> Page:
    stmt = select(*[quotes.c[n] for n in QUOTE_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(quotes.c.account_owner_id.in_(sorted(visible_owners)))
    for column, value in (
        ("account_id", account_id),
        ("opportunity_id", opportunity_id),
        ("owner_id", owner_id),
        ("state", state),
    ):
        if value is not None:
            stmt = stmt.where(quotes.c[column] == value)
    if updated_since:
        stmt = stmt.where(quotes.c.updated_at >= updated_since)
    if valid_until_before:
        stmt = stmt.where(quotes.c.valid_until < valid_until_before)
    if q:
        stmt = stmt.where(quotes.c.search_text.like(like_pattern(q), escape="\\"))
    columns: dict[str, Any] = dict(quotes.c)
    if custom is not None:
        stmt, columns = custom.narrow(stmt, quotes.c.id, sort, columns)
    return keyset_page(conn, stmt, columns, sort, cursor, limit)


def lines_of(conn: Connection, quote_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The current lines of many quotes in one query (lists and DataLoaders)."""
    found: dict[str, list[dict[str, Any]]] = {q: [] for q in quote_ids}
    stmt = (
        select(quote_lines.c.quote_id, *[quote_lines.c[n] for n in LINE_COLUMNS])
        .where(quote_lines.c.quote_id.in_(quote_ids))
        .order_by(quote_lines.c.quote_id, quote_lines.c.line)
    )
    for row in conn.execute(stmt):
        values = dict(row._mapping)
        found[values.pop("quote_id")].append(values)
    return found


def due_to_expire(conn: Connection, today: date, limit: int = 500) -> list[str]:
    """Open quotes whose valid_until has passed."""
    open_states = [s.value for s in OPEN]
    stmt = (
        select(quotes.c.id)
        .where(quotes.c.state.in_(open_states), quotes.c.valid_until < today)
        .order_by(quotes.c.valid_until, quotes.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars())
