"""Read model of orders: each order's current content, totals and status, its lines, and a
fingerprint of its content so an import can tell an unchanged order without loading it. It
keeps its own account owners (from the account events) so lists filter by visibility."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
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
from crm_api.domain.orders import Order, fingerprint, order_totals
from crm_api.projections.base import Gathering, gathers, handles
from crm_api.projections.custom_fields import CustomFieldQuery
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page

order_account_owners = account_owners_table("order_account_owners")

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("quote_id", String(36), nullable=True),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reference", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    Column("amount", Numeric(20, 2), nullable=False),
    Column("cost", Numeric(20, 2), nullable=True),
    Column("margin", Numeric(20, 2), nullable=True),
    Column("line_count", Integer, nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_orders_source_external_id", "source", "external_id", unique=True),
    Index("ix_orders_ordered_at_id", "ordered_at", "id"),
    Index("ix_orders_updated_at_id", "updated_at", "id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("product_id", String(36), nullable=False, index=True),
    Column("sku", String(64), nullable=False),
    Column("quantity", Numeric(18, 3), nullable=False),
    Column("unit_price", Numeric(14, 2), nullable=False),
    Column("unit_cost", Numeric(14, 2), nullable=True),
)


def _content(e: Any) -> dict[str, Any]:
    return {
        "account_id": e.account_id,
        "ordered_at": e.ordered_at,
        "currency": e.currency,
        "reference": e.reference,
        "lines": e.lines,
    }


def _values(e: Any, position: int) -> dict[str, Any]:
    """What an order's content (placed or revised) sets on its row."""
    content = _content(e)
    return {
        "account_id": e.account_id,
        "ordered_at": e.ordered_at,
        "currency": e.currency,
        "reference": e.reference,
        **order_totals(e.lines),
        "line_count": len(e.lines),
        "fingerprint": fingerprint(content),
        "version": e.originator_version,
        "updated_at": e.timestamp,
        "position": position,
    }


def _line_rows(order_id: str, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "line": x["line"],
            "product_id": x["product_id"],
            "sku": x["sku"],
            "quantity": x["quantity"],
            "unit_price": x["unit_price"],
            "unit_cost": x["unit_cost"],
        }
        for x in lines
    ]


class OrdersProjection(Gathering, FollowsAccountOwners):
    """Placed orders are gathered and inserted together (two statements per batch, not two
    per order); any other event first flushes them, so later events always see their rows."""

    name = "orders"
    tables = (order_lines, orders, order_account_owners)
    account_owners = order_account_owners
    owner_columns = (orders.c.account_owner_id,)

    def write_gathered(self, conn: Connection, events: list[tuple[Any, int]]) -> None:
        owners = self.owners_of(conn, [e.account_id for e, _ in events])
        rows, lines = [], []
        for e, position in events:
            order_id = str(e.originator_id)
            rows.append(
                {
                    "id": order_id,
                    "source": e.source,
                    "external_id": e.external_id,
                    "quote_id": e.quote_id,
                    "status": "open",
                    "created_at": e.timestamp,
                    "account_owner_id": owners.get(str(e.account_id), ""),
                    **_values(e, position),
                }
            )
            lines.extend(_line_rows(order_id, e.lines))
        conn.execute(orders.insert(), rows)
        if lines:
            conn.execute(order_lines.insert(), lines)

    @gathers(Order.Placed)
    def placed(self, conn: Connection, e: Any, position: int) -> None:
        self.gather(e, position)

    @handles(Order.Revised)
    def revised(self, conn: Connection, e: Any, position: int) -> None:
        order_id = str(e.originator_id)
        values = _values(e, position)
        if "account_id" in e.changed:
            values["account_owner_id"] = self.owner_of(conn, e.account_id)
        conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
        if "lines" in e.changed:
            conn.execute(delete(order_lines).where(order_lines.c.order_id == order_id))
            rows = _line_rows(order_id, e.lines)
            if rows:
                conn.execute(order_lines.insert(), rows)

    @handles(Order.CustomFieldsChanged)
    def custom_fields_changed(self, conn: Connection, e: Any, position: int) -> None:
        """The values live in the custom_fields read model; here only the version moves."""
        conn.execute(
            update(orders)
            .where(orders.c.id == str(e.originator_id))
            .values(version=e.originator_version, updated_at=e.timestamp, position=position)
        )

    @handles(Order.Cancelled)
    def cancelled(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(orders)
            .where(orders.c.id == str(e.originator_id))
            .values(
                status="cancelled",
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )


ORDER_SORTS = ("ordered_at", "created_at", "updated_at", "amount")
ORDER_COLUMNS = tuple(
    c.name for c in orders.c if c.name not in ("position", "account_owner_id", "fingerprint")
)
LINE_COLUMNS = tuple(c.name for c in order_lines.c if c.name != "order_id")


def known_orders(conn: Connection, order_ids: list[str]) -> dict[str, tuple[int, str]]:
    """(version, fingerprint) of these orders, for those the read model has."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        stmt = select(orders.c.id, orders.c.version, orders.c.fingerprint).where(
            orders.c.id.in_(chunk)
        )
        for row in conn.execute(stmt):
            found[row.id] = (row.version, row.fingerprint)
    return found


def list_orders(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    source: str | None = None,
    status: str | None = None,
    ordered_from: datetime | None = None,
    ordered_to: datetime | None = None,
    updated_since: datetime | None = None,
    custom: CustomFieldQuery | None = None,
) -> Page:
    stmt = select(*[orders.c[n] for n in ORDER_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(orders.c.account_owner_id.in_(sorted(visible_owners)))
    for column, value in (("account_id", account_id), ("source", source), ("status", status)):
        if value is not None:
            stmt = stmt.where(orders.c[column] == value)
    if ordered_from:
        stmt = stmt.where(orders.c.ordered_at >= ordered_from)
    if ordered_to:
        stmt = stmt.where(orders.c.ordered_at < ordered_to)
    if updated_since:
        stmt = stmt.where(orders.c.updated_at >= updated_since)
    columns: dict[str, Any] = dict(orders.c)
    if custom is not None:
        stmt, columns = custom.narrow(stmt, orders.c.id, sort, columns)
    return keyset_page(conn, stmt, columns, sort, cursor, limit)


def lines_of(conn: Connection, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {o: [] for o in order_ids}
    if not order_ids:
        return found
    stmt = (
        select(order_lines.c.order_id, *[order_lines.c[n] for n in LINE_COLUMNS])
        .where(order_lines.c.order_id.in_(order_ids))
        .order_by(order_lines.c.order_id, order_lines.c.line)
    )
    for row in conn.execute(stmt):
        values = dict(row._mapping)
        found[values.pop("order_id")].append(values)
    return found
