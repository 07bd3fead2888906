"""Read models of forecasts: the list, and forecast vs actual per (owner, period, product or
total, currency). Actual is what the owner won: opportunities won (by their won occurred_at)
in the period, counted in the month row and in the quarter row. Orders are not part of it yet.

The forecast-vs-actual projection keeps what it needs of opportunities and forecasts in its
own tables (owner, product, amount, currency; the current lines), never reading another
projection's tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    bindparam,
    delete,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.forecasts import Forecast, Period
from crm_api.domain.opportunities import Opportunity, business_time
from crm_api.domain.orders import Order
from crm_api.projections.base import Gathering, Projection, gathers, handles, insert_row
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, encode_cursor, keyset_page

ZERO = Decimal("0.00")

forecasts = Table(
    "forecasts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("period", String(7), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("total", Numeric(20, 2), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_forecasts_period_id", "period", "id"),
    Index("ix_forecasts_updated_at_id", "updated_at", "id"),
)


def _lines_json(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"product_id": line["product_id"], "amount": str(line["amount"])} for line in lines]


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(line["amount"])) for line in lines), ZERO)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


class ForecastsProjection(Projection):
    name = "forecasts"
    tables = (forecasts,)

    @handles(Forecast.Submitted)
    def submitted(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            forecasts,
            dict(
                id=str(e.originator_id),
                owner_id=e.owner_id,
                period=e.period,
                currency=e.currency,
                lines=_lines_json(e.lines),
                total=_total(e.lines),
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(Forecast.Revised)
    def revised(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(forecasts)
            .where(forecasts.c.id == str(e.originator_id))
            .values(
                currency=e.currency,
                lines=_lines_json(e.lines),
                total=_total(e.lines),
                **_stamp(e, position),
            )
        )


FORECAST_SORTS = ("period", "created_at", "updated_at")
FORECAST_COLUMNS = tuple(c.name for c in forecasts.c if c.name != "position")


def list_forecasts(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    owner_id: str | None = None,
    period: str | None = None,
    updated_since: datetime | None = None,
) -> Page:
    stmt = select(*[forecasts.c[n] for n in FORECAST_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(forecasts.c.owner_id.in_(sorted(visible_owners)))
    if owner_id:
        stmt = stmt.where(forecasts.c.owner_id == owner_id)
    if period:
        stmt = stmt.where(forecasts.c.period == period)
    if updated_since:
        stmt = stmt.where(forecasts.c.updated_at >= updated_since)
    return keyset_page(conn, stmt, dict(forecasts.c), sort, cursor, limit)


# forecast vs actual

TOTAL = "*"
"""product_key of the row that sums every product of an (owner, period, currency)."""
NO_PRODUCT = "-"
"""product_key of forecast lines and opportunities without a product."""

fva_opportunities = Table(
    "fva_opportunities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("product_id", String(36), nullable=True),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
)

fva_forecasts = Table(
    "fva_forecasts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("period", String(7), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("lines", JSON, nullable=False),
)

forecast_vs_actual = Table(
    "forecast_vs_actual",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("period", String(7), nullable=False),
    Column("product_key", String(36), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("forecast_amount", Numeric(20, 2), nullable=False),
    Column("won_amount", Numeric(20, 2), nullable=False),
    Column("won_count", Integer, nullable=False),
    Column("ordered_amount", Numeric(20, 2), nullable=False),
    Column("order_count", Integer, nullable=False),
    Index("ix_forecast_vs_actual_period_id", "period", "id"),
)

fva_account_owners = account_owners_table("fva_account_owners")

fva_orders = Table(
    "fva_orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("amounts", JSON, nullable=False),
)


def _row_id(owner_id: str, period: str, product_key: str, currency: str) -> str:
    return f"{owner_id}:{period}:{product_key}:{currency}"


def _add(
    conn: Connection,
    owner_id: str,
    period: str,
    product_key: str,
    currency: str,
    *,
    forecast: Decimal = ZERO,
    won: Decimal = ZERO,
    count: int = 0,
    ordered: Decimal = ZERO,
    orders: int = 0,
) -> None:
    """Add to one row (creating it); a row left with nothing forecast or won is removed."""
    row_id = _row_id(owner_id, period, product_key, currency)
    t = forecast_vs_actual.c
    current = conn.execute(
        select(t.forecast_amount, t.won_amount, t.won_count, t.ordered_amount, t.order_count).where(
            t.id == row_id
        )
    ).first()
    if current is None:
        insert_row(
            conn,
            forecast_vs_actual,
            dict(
                id=row_id,
                owner_id=owner_id,
                period=period,
                product_key=product_key,
                currency=currency,
                forecast_amount=forecast,
                won_amount=won,
                won_count=count,
                ordered_amount=ordered,
                order_count=orders,
            ),
        )
        return
    values = {
        "forecast_amount": Decimal(current.forecast_amount) + forecast,
        "won_amount": Decimal(current.won_amount) + won,
        "won_count": current.won_count + count,
        "ordered_amount": Decimal(current.ordered_amount) + ordered,
        "order_count": current.order_count + orders,
    }
    conn.execute(update(forecast_vs_actual).where(t.id == row_id).values(**values))


def _apply_lines(
    conn: Connection,
    owner_id: str,
    period: str,
    currency: str,
    lines: list[dict[str, Any]],
    sign: int,
) -> None:
    for line in lines:
        amount = Decimal(str(line["amount"])) * sign
        key = line["product_id"] or NO_PRODUCT
        _add(conn, owner_id, period, key, currency, forecast=amount)
        _add(conn, owner_id, period, TOTAL, currency, forecast=amount)


def _prune(conn: Connection, owner_id: str, period: str) -> None:
    """Rows with neither a forecast line nor a win left (after a revision) go away."""
    forecast = conn.execute(
        select(fva_forecasts.c.currency, fva_forecasts.c.lines).where(
            fva_forecasts.c.owner_id == owner_id, fva_forecasts.c.period == period
        )
    ).first()
    kept = set()
    if forecast is not None:
        kept = {(line["product_id"] or NO_PRODUCT, forecast.currency) for line in forecast.lines}
        kept.add((TOTAL, forecast.currency))
    t = forecast_vs_actual.c
    for row in conn.execute(
        select(t.id, t.product_key, t.currency).where(
            t.owner_id == owner_id, t.period == period, t.won_count == 0, t.order_count == 0
        )
    ).all():
        if (row.product_key, row.currency) not in kept:
            conn.execute(delete(forecast_vs_actual).where(t.id == row.id))


def _order_amounts(lines: list[dict[str, Any]]) -> dict[str, str]:
    """Amount per product of an order's lines (decimal strings, JSON-safe)."""
    amounts: dict[str, Decimal] = {}
    for line in lines:
        value = (Decimal(line["quantity"]) * Decimal(line["unit_price"])).quantize(ZERO)
        amounts[line["product_id"]] = amounts.get(line["product_id"], Decimal(0)) + value
    return {product: str(amount) for product, amount in amounts.items()}


def _count_order(conn: Connection, order: dict[str, Any], sign: int) -> None:
    """Add (or take back) an order's amounts to its rep's month and quarter rows."""
    at = order["ordered_at"]
    amounts = {k: Decimal(v) for k, v in order["amounts"].items()}
    total = sum(amounts.values(), Decimal(0))
    owner, currency = order["owner_id"], order["currency"]
    for period in (Period.month_of(at), Period.quarter_of(at)):
        for product_id, amount in amounts.items():
            _add(conn, owner, period, product_id, currency, ordered=amount * sign, orders=sign)
        _add(conn, owner, period, TOTAL, currency, ordered=total * sign, orders=sign)
        if sign < 0:
            _prune(conn, owner, period)


def _add_placed(conn: Connection, placed: list[dict[str, Any]]) -> None:
    """Count a run of newly placed orders: their sums per row are added in memory, then the
    touched rows are read in one statement and written in two (an import of thousands of
    orders costs a few statements per batch, not a dozen per order)."""
    sums: dict[tuple[str, str, str, str], list[Any]] = {}
    for order in placed:
        amounts = {k: Decimal(v) for k, v in order["amounts"].items()}
        total = sum(amounts.values(), Decimal(0))
        owner, currency, at = order["owner_id"], order["currency"], order["ordered_at"]
        for period in (Period.month_of(at), Period.quarter_of(at)):
            for key, amount in (*amounts.items(), (TOTAL, total)):
                row = sums.setdefault((owner, period, key, currency), [ZERO, 0])
                row[0] += amount
                row[1] += 1
    ids = {_row_id(*key): key for key in sums}
    t = forecast_vs_actual.c
    current = {
        row.id: row
        for chunk in _chunks(sorted(ids), 500)
        for row in conn.execute(
            select(t.id, t.ordered_amount, t.order_count).where(t.id.in_(chunk))
        ).all()
    }
    inserts, updates = [], []
    for row_id, (owner, period, key, currency) in ids.items():
        amount, count = sums[(owner, period, key, currency)]
        if row_id in current:
            before = current[row_id]
            updates.append(
                {
                    "row_id": row_id,
                    "ordered": Decimal(before.ordered_amount) + amount,
                    "orders": before.order_count + count,
                }
            )
        else:
            inserts.append(
                {
                    "id": row_id,
                    "owner_id": owner,
                    "period": period,
                    "product_key": key,
                    "currency": currency,
                    "forecast_amount": ZERO,
                    "won_amount": ZERO,
                    "won_count": 0,
                    "ordered_amount": amount,
                    "order_count": count,
                }
            )
    if inserts:
        conn.execute(forecast_vs_actual.insert(), inserts)
    if updates:
        conn.execute(
            update(forecast_vs_actual)
            .where(t.id == bindparam("row_id"))
            .values(ordered_amount=bindparam("ordered"), order_count=bindparam("orders")),
            updates,
        )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ForecastVsActualProjection(Gathering, FollowsAccountOwners):
    """Placed orders are gathered and counted together (see Gathering)."""

    name = "forecast_vs_actual"
    tables = (forecast_vs_actual, fva_forecasts, fva_opportunities, fva_orders, fva_account_owners)
    account_owners = fva_account_owners

    # orders: attributed to the rep who owned the account when the order was placed

    def write_gathered(self, conn: Connection, events: list[tuple[Any, int]]) -> None:
        owners = self.owners_of(conn, [e.account_id for e, _ in events])
        rows = [
            {
                "id": str(e.originator_id),
                "owner_id": owners.get(str(e.account_id), ""),
                "ordered_at": e.ordered_at,
                "currency": e.currency,
                "open": True,
                "amounts": _order_amounts(e.lines),
            }
            for e, _ in events
        ]
        conn.execute(fva_orders.insert(), rows)
        _add_placed(conn, rows)

    @gathers(Order.Placed)
    def order_placed(self, conn: Connection, e: Any, position: int) -> None:
        self.gather(e, position)

    @handles(Order.Revised)
    def order_revised(self, conn: Connection, e: Any, position: int) -> None:
        before = conn.execute(
            select(fva_orders).where(fva_orders.c.id == str(e.originator_id))
        ).one()
        after = {
            **before._mapping,
            "ordered_at": e.ordered_at,
            "currency": e.currency,
            "amounts": _order_amounts(e.lines),
        }
        if "account_id" in e.changed:
            after["owner_id"] = self.owner_of(conn, e.account_id)
        if before.open:
            _count_order(conn, dict(before._mapping), -1)
            _count_order(conn, after, 1)
        conn.execute(update(fva_orders).where(fva_orders.c.id == before.id).values(**after))

    @handles(Order.Cancelled)
    def order_cancelled(self, conn: Connection, e: Any, position: int) -> None:
        before = conn.execute(
            select(fva_orders).where(fva_orders.c.id == str(e.originator_id))
        ).one()
        _count_order(conn, dict(before._mapping), -1)
        conn.execute(update(fva_orders).where(fva_orders.c.id == before.id).values(open=False))

    @handles(Opportunity.Created)
    def opportunity_created(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            fva_opportunities,
            dict(
                id=str(e.originator_id),
                owner_id=e.owner_id,
                product_id=e.product_id,
                amount=e.amount,
                currency=e.currency,
            ),
        )

    @handles(Opportunity.DetailsChanged)
    def opportunity_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = {
            k: v
            for k, v in e.changes.items()
            if k in ("owner_id", "product_id", "amount", "currency")
        }
        if values:
            conn.execute(
                update(fva_opportunities)
                .where(fva_opportunities.c.id == str(e.originator_id))
                .values(**values)
            )

    @handles(Opportunity.Won)
    def opportunity_won(self, conn: Connection, e: Any, position: int) -> None:
        won = conn.execute(
            select(fva_opportunities).where(fva_opportunities.c.id == str(e.originator_id))
        ).one()
        at = business_time(e)
        amount = Decimal(won.amount)
        for period in (Period.month_of(at), Period.quarter_of(at)):
            for key in (won.product_id or NO_PRODUCT, TOTAL):
                _add(conn, won.owner_id, period, key, won.currency, won=amount, count=1)

    @handles(Forecast.Submitted)
    def forecast_submitted(self, conn: Connection, e: Any, position: int) -> None:
        lines = _lines_json(e.lines)
        insert_row(
            conn,
            fva_forecasts,
            dict(
                id=str(e.originator_id),
                owner_id=e.owner_id,
                period=e.period,
                currency=e.currency,
                lines=lines,
            ),
        )
        _apply_lines(conn, e.owner_id, e.period, e.currency, lines, +1)

    @handles(Forecast.Revised)
    def forecast_revised(self, conn: Connection, e: Any, position: int) -> None:
        forecast_id = str(e.originator_id)
        before = conn.execute(select(fva_forecasts).where(fva_forecasts.c.id == forecast_id)).one()
        lines = _lines_json(e.lines)
        _apply_lines(conn, before.owner_id, before.period, before.currency, before.lines, -1)
        conn.execute(
            update(fva_forecasts)
            .where(fva_forecasts.c.id == forecast_id)
            .values(currency=e.currency, lines=lines)
        )
        _apply_lines(conn, before.owner_id, before.period, e.currency, lines, +1)
        _prune(conn, before.owner_id, before.period)


FVA_GROUPS = ("total", "product")


def _attainment(won: Decimal, forecast: Decimal) -> float | None:
    if not forecast:
        return None
    return float((won / forecast * 100).quantize(Decimal("0.01")))


def forecast_vs_actual_page(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    group_by: str,
    cursor: str | None,
    limit: int,
    period: str | None = None,
    owner_id: str | None = None,
) -> Page:
    t = forecast_vs_actual.c
    stmt = select(forecast_vs_actual)
    stmt = stmt.where(t.product_key == TOTAL if group_by == "total" else t.product_key != TOTAL)
    if visible_owners is not None:
        stmt = stmt.where(t.owner_id.in_(sorted(visible_owners)))
    if owner_id:
        stmt = stmt.where(t.owner_id == owner_id)
    if period:
        stmt = stmt.where(t.period == period)
    sort = Sort.parse(None, ("period",), "period")
    page = keyset_page(conn, stmt, dict(forecast_vs_actual.c), sort, cursor, limit)
    rows = []
    for row in page.rows:
        forecast, won = Decimal(row["forecast_amount"]), Decimal(row["won_amount"])
        key = row["product_key"]
        rows.append(
            {
                "owner_id": row["owner_id"],
                "period": row["period"],
                "product_id": None if key in (TOTAL, NO_PRODUCT) else key,
                "currency": row["currency"],
                "forecast_amount": forecast.quantize(ZERO),
                "won_amount": won.quantize(ZERO),
                "won_count": row["won_count"],
                "attainment_pct": _attainment(won, forecast),
                "ordered_amount": Decimal(row["ordered_amount"]).quantize(ZERO),
                "order_count": row["order_count"],
                "order_attainment_pct": _attainment(Decimal(row["ordered_amount"]), forecast),
                "cursor": encode_cursor(sort, [row[k] for k, _ in sort.keys]),
            }
        )
    return Page(rows, page.next_cursor)
