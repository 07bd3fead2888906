"""Read model of fulfilment: per order, the ordered and shipped quantity of each line, its
shipments with their latest tracking status, and whose accounts they are (kept here from the
account and order events, so lists filter by visibility without another projection's tables)."""

from __future__ import annotations

from decimal import Decimal
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
from crm_api.domain.fulfilment import Shipment, fulfilment_status
from crm_api.domain.orders import Order
from crm_api.projections.base import Gathering, gathers, handles, insert_row
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page

fulfilment_account_owners = account_owners_table("fulfilment_account_owners")

fulfilment_orders = Table(
    "fulfilment_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("order_status", String(20), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
)

fulfilment_lines = Table(
    "fulfilment_lines",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("product_id", String(36), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("ordered", Numeric(18, 3), nullable=False),
    Column("shipped", Numeric(18, 3), nullable=False),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False, index=True),
    Column("account_id", String(36), nullable=False),
    Column("carrier", String(100), nullable=False),
    Column("tracking_number", String(100), nullable=True),
    Column("shipped_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("line_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_shipments_order_id_shipped_at_id", "order_id", "shipped_at", "id"),
)

shipment_lines = Table(
    "shipment_lines",
    metadata,
    Column("shipment_id", String(36), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("quantity", Numeric(18, 3), nullable=False),
)


def _line_row(order_id: str, line: dict[str, Any], shipped: Decimal) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line": int(line["line"]),
        "product_id": str(line["product_id"]),
        "sku": str(line.get("sku") or ""),
        "ordered": Decimal(line["quantity"]),
        "shipped": shipped,
    }


class FulfilmentProjection(Gathering, FollowsAccountOwners):
    name = "fulfilment"
    tables = (
        shipment_lines,
        shipments,
        fulfilment_lines,
        fulfilment_orders,
        fulfilment_account_owners,
    )
    account_owners = fulfilment_account_owners
    owner_columns = (fulfilment_orders.c.account_owner_id,)

    # orders

    def write_gathered(self, conn: Connection, events: list[tuple[Any, int]]) -> None:
        owners = self.owners_of(conn, [e.account_id for e, _ in events])
        rows, lines = [], []
        for e, position in events:
            order_id = str(e.originator_id)
            rows.append(
                {
                    "order_id": order_id,
                    "account_id": e.account_id,
                    "account_owner_id": owners.get(str(e.account_id), ""),
                    "order_status": "open",
                    "updated_at": e.timestamp,
                    "position": position,
                }
            )
            # a new order: nothing shipped yet, nothing to replace
            lines.extend(_line_row(order_id, line, Decimal(0)) for line in e.lines)
        conn.execute(fulfilment_orders.insert(), rows)
        if lines:
            conn.execute(fulfilment_lines.insert(), lines)

    @gathers(Order.Placed)
    def order_placed(self, conn: Connection, e: Any, position: int) -> None:
        self.gather(e, position)

    @handles(Order.Revised)
    def order_revised(self, conn: Connection, e: Any, position: int) -> None:
        order_id = str(e.originator_id)
        values: dict[str, Any] = {"updated_at": e.timestamp, "position": position}
        if "account_id" in e.changed:
            values["account_id"] = e.account_id
            values["account_owner_id"] = self.owner_of(conn, e.account_id)
        conn.execute(
            update(fulfilment_orders)
            .where(fulfilment_orders.c.order_id == order_id)
            .values(**values)
        )
        if "lines" in e.changed:
            self._write_lines(conn, order_id, e.lines)

    @handles(Order.Cancelled)
    def order_cancelled(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(fulfilment_orders)
            .where(fulfilment_orders.c.order_id == str(e.originator_id))
            .values(order_status="cancelled", updated_at=e.timestamp, position=position)
        )

    @staticmethod
    def _write_lines(conn: Connection, order_id: str, lines: list[dict[str, Any]]) -> None:
        """The ordered quantities; what was shipped of a line stays, even if a revision
        removes the line (its ordered quantity is then 0)."""
        shipped = {
            row.line: row.shipped
            for row in conn.execute(
                select(fulfilment_lines.c.line, fulfilment_lines.c.shipped).where(
                    fulfilment_lines.c.order_id == order_id
                )
            )
        }
        conn.execute(delete(fulfilment_lines).where(fulfilment_lines.c.order_id == order_id))
        rows = {
            int(line["line"]): _line_row(order_id, line, shipped.get(int(line["line"]), Decimal(0)))
            for line in lines
        }
        for number, quantity in shipped.items():
            if number not in rows and quantity:
                rows[number] = {
                    "order_id": order_id,
                    "line": number,
                    "product_id": "",
                    "sku": "",
                    "ordered": Decimal(0),
                    "shipped": quantity,
                }
        if rows:
            conn.execute(fulfilment_lines.insert(), list(rows.values()))

    # shipments

    @handles(Shipment.Created)
    def shipment_created(self, conn: Connection, e: Any, position: int) -> None:
        shipment_id = str(e.originator_id)
        insert_row(
            conn,
            shipments,
            dict(
                id=shipment_id,
                order_id=e.order_id,
                account_id=e.account_id,
                carrier=e.carrier,
                tracking_number=e.tracking_number,
                shipped_at=e.shipped_at,
                status="shipped",
                status_at=e.shipped_at,
                delivered_at=None,
                line_count=len(e.lines),
                version=e.originator_version,
                created_at=e.timestamp,
                updated_at=e.timestamp,
                position=position,
            ),
        )
        if e.lines:
            conn.execute(
                shipment_lines.insert(),
                [
                    {"shipment_id": shipment_id, "line": x["line"], "quantity": x["quantity"]}
                    for x in e.lines
                ],
            )
        for x in e.lines:
            conn.execute(
                update(fulfilment_lines)
                .where(
                    fulfilment_lines.c.order_id == e.order_id,
                    fulfilment_lines.c.line == x["line"],
                )
                .values(shipped=fulfilment_lines.c.shipped + Decimal(x["quantity"]))
            )

    @handles(Shipment.Tracked)
    def tracked(self, conn: Connection, e: Any, position: int) -> None:
        self._status(conn, e, position, status=e.status, status_at=e.at)

    @handles(Shipment.Delivered)
    def delivered(self, conn: Connection, e: Any, position: int) -> None:
        self._status(
            conn,
            e,
            position,
            status="delivered",
            status_at=e.delivered_at,
            delivered_at=e.delivered_at,
        )

    @staticmethod
    def _status(conn: Connection, e: Any, position: int, **values: Any) -> None:
        conn.execute(
            update(shipments)
            .where(shipments.c.id == str(e.originator_id))
            .values(
                **values,
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )


SHIPMENT_SORTS = ("shipped_at", "created_at", "updated_at")
SHIPMENT_COLUMNS = tuple(c.name for c in shipments.c if c.name != "position")


def shipment_lines_of(conn: Connection, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    stmt = (
        select(shipment_lines)
        .where(shipment_lines.c.shipment_id.in_(ids))
        .order_by(shipment_lines.c.shipment_id, shipment_lines.c.line)
    )
    for row in conn.execute(stmt):
        found[row.shipment_id].append({"line": row.line, "quantity": row.quantity})
    return found


def list_shipments(
    conn: Connection, order_id: str, *, sort: Sort, cursor: str | None, limit: int
) -> Page:
    stmt = select(*[shipments.c[n] for n in SHIPMENT_COLUMNS]).where(
        shipments.c.order_id == order_id
    )
    page = keyset_page(conn, stmt, dict(shipments.c), sort, cursor, limit)
    lines = shipment_lines_of(conn, [row["id"] for row in page.rows])
    for row in page.rows:
        row["lines"] = lines[row["id"]]
    return page


def fulfilment_of(conn: Connection, order_id: str) -> dict[str, Any] | None:
    """The order's fulfilment: status, per line ordered/shipped/remaining, per shipment its
    latest tracking status. None when the read model does not know the order (yet)."""
    order = conn.execute(
        select(fulfilment_orders).where(fulfilment_orders.c.order_id == order_id)
    ).first()
    if order is None:
        return None
    lines = [
        {
            "line": row.line,
            "product_id": row.product_id or None,
            "sku": row.sku or None,
            "ordered": row.ordered,
            "shipped": row.shipped,
            "remaining": max(row.ordered - row.shipped, Decimal(0)),
        }
        for row in conn.execute(
            select(fulfilment_lines)
            .where(fulfilment_lines.c.order_id == order_id)
            .order_by(fulfilment_lines.c.line)
        )
    ]
    rows = conn.execute(
        select(
            shipments.c.id,
            shipments.c.carrier,
            shipments.c.tracking_number,
            shipments.c.shipped_at,
            shipments.c.status,
            shipments.c.status_at,
            shipments.c.delivered_at,
        )
        .where(shipments.c.order_id == order_id)
        .order_by(shipments.c.shipped_at, shipments.c.id)
    ).all()
    listed = [dict(row._mapping) for row in rows]
    return {
        "order_id": order_id,
        "account_id": order.account_id,
        "order_status": order.order_status,
        "status": fulfilment_status(lines, [s["status"] for s in listed]),
        "lines": lines,
        "shipments": listed,
        "updated_at": order.updated_at,
    }
