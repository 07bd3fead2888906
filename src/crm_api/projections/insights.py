"""Read model of customer value, grades and margins, kept as aggregates so an answer costs a
page, not the history: per account (all-time totals), per account and day, per day, and per
product and day. Money is kept in integer cents (exact sums on SQLite and PostgreSQL alike).

Cancelled orders do not count; a revised order counts with its latest content (its previous
contribution is taken back, from its own row in `insight_orders`). An order's line counts in
cost and margin only when it carries its unit cost: `costed_revenue` is the revenue of those
lines, margin = costed_revenue − cost.

Each account also keeps its automatic grade (`auto_grade`, computed for `grade_as_of`) and
`grade_due`, the first instant at which that grade may no longer hold: the day it changes by
ageing alone (an order leaving the window, the recency passing a threshold), or at once
(EPOCH) when an order of the account was placed, revised or cancelled. The projection only
marks accounts due (it knows no grading rule, which is configuration); the watchers' tick
grades the due rows (`refresh_grades`), and a grade query grades the few still due on the fly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import Account
from crm_api.domain.grading import GRADE_CUTS, NO_ORDERS_GRADE, GradingRule, OrderDay
from crm_api.domain.orders import Order
from crm_api.projections.base import Gathering, gathers, handles, insert_row
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import InvalidCursor, Page, Sort, encode_cursor, keyset_page

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""`last_order_sort` of an account without orders: recency sorts stay keyset-friendly."""

insight_account_owners = account_owners_table("insight_account_owners")

cv_accounts = Table(
    "cv_accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("manual_grade", String(1), nullable=True),
    Column("revenue", BigInteger, nullable=False),
    Column("costed_revenue", BigInteger, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("margin", BigInteger, nullable=False),
    Column("order_count", Integer, nullable=False),
    Column("first_order_at", UTCDateTime, nullable=True),
    Column("last_order_at", UTCDateTime, nullable=True),
    Column("last_order_sort", UTCDateTime, nullable=False),
    Column("auto_grade", String(1), nullable=False, server_default="D"),
    Column("grade_as_of", UTCDateTime, nullable=True),
    Column("grade_due", UTCDateTime, nullable=True, index=True),
    Column("grade_stamp", BigInteger, nullable=False, server_default="0"),
    Index("ix_cv_accounts_revenue", "revenue", "account_id"),
    Index("ix_cv_accounts_margin", "margin", "account_id"),
    Index("ix_cv_accounts_last_order", "last_order_sort", "account_id"),
    Index("ix_cv_accounts_grades", "manual_grade", "auto_grade", "owner_id"),
)
"""`auto_grade` holds from `grade_as_of` until `grade_due` (None: for good, e.g. no orders);
`grade_stamp` is the log position of the account's latest order change, so a tick never stores a grade computed
before a change it did not see."""

grade_state = Table(
    "auto_grade_state",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("refreshed_at", UTCDateTime, nullable=False),
)
"""One row: the grading rule the stored grades follow and the latest instant a tick graded
for (every stored grade not due was computed at or before it)."""

cv_days = Table(
    "cv_days",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("day", Date, nullable=False, index=True),
    Column("revenue", BigInteger, nullable=False),
    Column("costed_revenue", BigInteger, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("orders", Integer, nullable=False),
    Index("ix_cv_days_account_day", "account_id", "day"),
)

revenue_days = Table(
    "revenue_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("revenue", BigInteger, nullable=False),
    Column("orders", Integer, nullable=False),
)

PRODUCT_SUMS = ("revenue", "costed_revenue", "cost", "quantity_milli", "lines")


def _product_sums(name: str, *period: Column[Any]) -> Table:
    """Per product and day, or per product and month: what margins are summed from."""
    return Table(
        name,
        metadata,
        Column("id", String(48), primary_key=True),
        Column("product_id", String(36), nullable=False),
        Column("sku", String(64), nullable=False),
        Column("product_line", String(64), nullable=False),
        *period,
        Column("revenue", BigInteger, nullable=False),
        Column("costed_revenue", BigInteger, nullable=False),
        Column("cost", BigInteger, nullable=False),
        Column("quantity_milli", BigInteger, nullable=False),
        Column("lines", Integer, nullable=False),
    )


margin_days = _product_sums(
    "margin_days",
    Column("day", Date, nullable=False, index=True),
    Column("month", String(7), nullable=False),
)
margin_months = _product_sums(
    "margin_months", Column("month", String(7), nullable=False, index=True)
)
"""Month-aligned periods (and all time) are summed from these few rows."""

insight_orders = Table(
    "insight_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("lines", JSON, nullable=False),
)

CENT = Decimal("0.01")


def _int(total: Any) -> Any:
    """Sums as integers (PostgreSQL's sum of bigint is numeric; cursors carry typed keys)."""
    return cast(total, BigInteger)


def cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(value: int | None) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(CENT)


def product_line(sku: str) -> str:
    """Products carry no line or category: a sku's prefix before its first '-' stands for it."""
    return sku.split("-", 1)[0] or sku


def _lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An order's lines as kept here: cents and thousandths, JSON-safe."""
    kept = []
    for line in lines:
        quantity = Decimal(line["quantity"])
        cost = line["unit_cost"]
        kept.append(
            {
                "product_id": line["product_id"],
                "sku": line["sku"],
                "quantity_milli": int(quantity * 1000),
                "revenue": cents(quantity * Decimal(line["unit_price"])),
                "cost": None if cost is None else cents(quantity * Decimal(cost)),
            }
        )
    return kept


@dataclass
class _Sums:
    """Additions (or, with sign -1, subtractions) to every aggregate table, keyed by row."""

    accounts: dict[str, dict[str, Any]]
    days: dict[str, dict[str, Any]]
    totals: dict[date, dict[str, Any]]
    products: dict[str, dict[str, Any]]

    @classmethod
    def empty(cls) -> _Sums:
        return cls({}, {}, {}, {})

    def add(
        self,
        account_id: str,
        ordered_at: datetime,
        lines: list[dict[str, Any]],
        sign: int,
        position: int,
    ) -> None:
        day = ordered_at.astimezone(UTC).date()
        revenue = sum(x["revenue"] for x in lines) * sign
        costed = sum(x["revenue"] for x in lines if x["cost"] is not None) * sign
        cost = sum(x["cost"] for x in lines if x["cost"] is not None) * sign
        account = self.accounts.setdefault(
            account_id,
            {
                "revenue": 0,
                "costed_revenue": 0,
                "cost": 0,
                "orders": 0,
                "first": None,
                "last": None,
                "stamp": 0,
            },
        )
        account["stamp"] = max(account["stamp"], position)
        account["revenue"] += revenue
        account["costed_revenue"] += costed
        account["cost"] += cost
        account["orders"] += sign
        if sign > 0:
            account["first"] = min(filter(None, (account["first"], ordered_at)))
            account["last"] = max(filter(None, (account["last"], ordered_at)))
        row = self.days.setdefault(
            f"{account_id}:{day.isoformat()}",
            {
                "account_id": account_id,
                "day": day,
                "revenue": 0,
                "costed_revenue": 0,
                "cost": 0,
                "orders": 0,
            },
        )
        row["revenue"] += revenue
        row["costed_revenue"] += costed
        row["cost"] += cost
        row["orders"] += sign
        total = self.totals.setdefault(day, {"day": day, "revenue": 0, "orders": 0})
        total["revenue"] += revenue
        total["orders"] += sign
        for line in lines:
            product = self.products.setdefault(
                f"{line['product_id']}:{day.isoformat()}",
                {
                    "product_id": line["product_id"],
                    "sku": line["sku"][:64],
                    "product_line": product_line(line["sku"])[:64],
                    "day": day,
                    "month": day.isoformat()[:7],
                    "revenue": 0,
                    "costed_revenue": 0,
                    "cost": 0,
                    "quantity_milli": 0,
                    "lines": 0,
                },
            )
            product["revenue"] += line["revenue"] * sign
            if line["cost"] is not None:
                product["costed_revenue"] += line["revenue"] * sign
                product["cost"] += line["cost"] * sign
            product["quantity_milli"] += line["quantity_milli"] * sign
            product["lines"] += sign


def accumulate(
    conn: Connection,
    table: Table,
    key: str,
    rows: Iterable[dict[str, Any]],
    sums: Iterable[str],
) -> None:
    """INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x, for many rows in one statement
    (compiled once per table and counters)."""
    values = list(rows)
    if values:
        conn.execute(_adding(conn.dialect.name, table, key, tuple(sums)), values)


@lru_cache(maxsize=32)
def _adding(dialect: str, table: Table, key: str, sums: tuple[str, ...]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={s: table.c[s] + stmt.excluded[s] for s in sums}
    )


def _write(conn: Connection, sums: _Sums) -> None:
    accumulate(
        conn,
        cv_days,
        "id",
        ({"id": k, **v} for k, v in sums.days.items()),
        ("revenue", "costed_revenue", "cost", "orders"),
    )
    accumulate(conn, revenue_days, "day", sums.totals.values(), ("revenue", "orders"))
    accumulate(
        conn, margin_days, "id", ({"id": k, **v} for k, v in sums.products.items()), PRODUCT_SUMS
    )
    months: dict[str, dict[str, Any]] = {}
    for row in sums.products.values():
        month = months.setdefault(
            f"{row['product_id']}:{row['month']}",
            {k: row[k] for k in ("product_id", "sku", "product_line", "month")}
            | dict.fromkeys(PRODUCT_SUMS, 0),
        )
        for name in PRODUCT_SUMS:
            month[name] += row[name]
    accumulate(conn, margin_months, "id", ({"id": k, **v} for k, v in months.items()), PRODUCT_SUMS)
    t = cv_accounts.c
    first, last = bindparam("first", type_=UTCDateTime), bindparam("last", type_=UTCDateTime)
    conn.execute(
        update(cv_accounts)
        .where(t.account_id == bindparam("key"))
        .values(
            revenue=t.revenue + bindparam("revenue"),
            costed_revenue=t.costed_revenue + bindparam("costed_revenue"),
            cost=t.cost + bindparam("cost"),
            margin=t.margin + bindparam("costed_revenue") - bindparam("cost"),
            order_count=t.order_count + bindparam("orders"),
            first_order_at=case(
                (first.is_(None), t.first_order_at),
                (t.first_order_at.is_(None), first),
                (first < t.first_order_at, first),
                else_=t.first_order_at,
            ),
            last_order_at=case(
                (last.is_(None), t.last_order_at),
                (t.last_order_at.is_(None), last),
                (last > t.last_order_at, last),
                else_=t.last_order_at,
            ),
            last_order_sort=case(
                (last.is_(None), t.last_order_sort),
                (last > t.last_order_sort, last),
                else_=t.last_order_sort,
            ),
            grade_due=EPOCH,
            grade_stamp=bindparam("stamp"),
        ),
        [{"key": k, **v} for k, v in sums.accounts.items()],
    )


def _recount_dates(conn: Connection, account_ids: Iterable[str]) -> None:
    """First and last order of accounts that lost or moved an order, from their open orders."""
    o = insight_orders.c
    for account_id in sorted(set(account_ids)):
        first, last = conn.execute(
            select(func.min(o.ordered_at), func.max(o.ordered_at)).where(
                o.account_id == account_id, o.open.is_(True)
            )
        ).one()
        conn.execute(
            update(cv_accounts)
            .where(cv_accounts.c.account_id == account_id)
            .values(first_order_at=first, last_order_at=last, last_order_sort=last or EPOCH)
        )


class InsightsProjection(Gathering, FollowsAccountOwners):
    """Placed orders are gathered and summed per row in memory, then written in one statement
    per table per batch."""

    name = "insights"
    tables = (
        cv_accounts,
        cv_days,
        revenue_days,
        margin_days,
        margin_months,
        insight_orders,
        insight_account_owners,
        grade_state,
    )
    account_owners = insight_account_owners
    owner_columns = (cv_accounts.c.owner_id,)

    @handles(Account.Opened)
    def account_opened(self, conn: Connection, e: Any, position: int) -> None:
        super().account_opened(conn, e, position)
        insert_row(
            conn,
            cv_accounts,
            dict(
                account_id=str(e.originator_id),
                owner_id=e.owner_id,
                name=e.name[:200],
                manual_grade=e.manual_grade,
                revenue=0,
                costed_revenue=0,
                cost=0,
                margin=0,
                order_count=0,
                last_order_sort=EPOCH,
                auto_grade=NO_ORDERS_GRADE,
                grade_stamp=0,
            ),
        )

    @handles(Account.DetailsChanged)
    def account_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = {k: e.changes[k] for k in ("name", "manual_grade") if k in e.changes}
        if values:
            conn.execute(
                update(cv_accounts)
                .where(cv_accounts.c.account_id == str(e.originator_id))
                .values(**values)
            )

    def write_gathered(self, conn: Connection, events: list[tuple[Any, int]]) -> None:
        sums = _Sums.empty()
        rows = []
        for e, position in events:
            lines = _lines(e.lines)
            sums.add(str(e.account_id), e.ordered_at, lines, +1, position)
            rows.append(
                {
                    "order_id": str(e.originator_id),
                    "account_id": str(e.account_id),
                    "ordered_at": e.ordered_at,
                    "open": True,
                    "lines": lines,
                }
            )
        conn.execute(insight_orders.insert(), rows)
        _write(conn, sums)

    @gathers(Order.Placed)
    def order_placed(self, conn: Connection, e: Any, position: int) -> None:
        self.gather(e, position)

    @handles(Order.Revised)
    def order_revised(self, conn: Connection, e: Any, position: int) -> None:
        order_id = str(e.originator_id)
        before = conn.execute(
            select(insight_orders).where(insight_orders.c.order_id == order_id)
        ).one()
        if not before.open:
            return
        lines = _lines(e.lines)
        sums = _Sums.empty()
        sums.add(before.account_id, before.ordered_at, before.lines, -1, position)
        sums.add(str(e.account_id), e.ordered_at, lines, +1, position)
        conn.execute(
            update(insight_orders)
            .where(insight_orders.c.order_id == order_id)
            .values(account_id=str(e.account_id), ordered_at=e.ordered_at, lines=lines)
        )
        _write(conn, sums)
        _recount_dates(conn, {before.account_id, str(e.account_id)})

    @handles(Order.Cancelled)
    def order_cancelled(self, conn: Connection, e: Any, position: int) -> None:
        order_id = str(e.originator_id)
        before = conn.execute(
            select(insight_orders).where(insight_orders.c.order_id == order_id)
        ).one()
        sums = _Sums.empty()
        sums.add(before.account_id, before.ordered_at, before.lines, -1, position)
        conn.execute(
            update(insight_orders).where(insight_orders.c.order_id == order_id).values(open=False)
        )
        _write(conn, sums)
        _recount_dates(conn, {before.account_id})


# queries

VALUE_SORTS = ("revenue", "margin", "recency")


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC days; either end open."""

    start: date | None = None
    end: date | None = None

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def where(self, day: Any) -> list[ColumnElement[bool]]:
        found = []
        if self.start is not None:
            found.append(day >= self.start)
        if self.end is not None:
            found.append(day < self.end)
        return found


def total_revenue(conn: Connection, period: Period) -> int:
    t = revenue_days.c
    return int(
        conn.execute(
            select(func.coalesce(func.sum(t.revenue), 0)).where(*period.where(t.day))
        ).scalar()
        or 0
    )


def _period_sums(period: Period) -> Any:
    """Per account over the period: revenue, costed revenue, cost, margin, orders, first and
    last order day."""
    t = cv_days.c
    return (
        select(
            t.account_id.label("account_id"),
            _int(func.sum(t.revenue)).label("revenue"),
            _int(func.sum(t.costed_revenue - t.cost)).label("margin"),
            func.sum(t.orders).label("order_count"),
            func.min(t.day).label("first_day"),
            func.max(t.day).label("last_day"),
        )
        .where(*period.where(t.day), t.orders > 0)
        .group_by(t.account_id)
        .subquery("period_sums")
    )


def _value_query(
    period: Period, visible_owners: frozenset[str] | None, owner_id: str | None
) -> tuple[Select[Any], dict[str, Any]]:
    a = cv_accounts.c
    if not period.bounded:
        stmt = select(
            a.account_id.label("id"),
            a.owner_id,
            a.name,
            a.manual_grade,
            a.revenue,
            a.costed_revenue,
            a.cost,
            a.margin,
            a.order_count,
            a.first_order_at,
            a.last_order_at,
            a.last_order_sort.label("recency"),
        )
        columns = {
            "id": a.account_id,
            "revenue": a.revenue,
            "margin": a.margin,
            "recency": a.last_order_sort,
        }
    else:
        sums = _period_sums(period)
        stmt = select(
            a.account_id.label("id"),
            a.owner_id,
            a.name,
            a.manual_grade,
            sums.c.revenue,
            sums.c.margin,
            sums.c.order_count,
            sums.c.first_day,
            sums.c.last_day,
            sums.c.last_day.label("recency"),
        ).join(sums, sums.c.account_id == a.account_id)
        columns = {
            "id": a.account_id,
            "revenue": sums.c.revenue,
            "margin": sums.c.margin,
            "recency": sums.c.last_day,
        }
    if visible_owners is not None:
        stmt = stmt.where(a.owner_id.in_(sorted(visible_owners)))
    if owner_id is not None:
        stmt = stmt.where(a.owner_id == owner_id)
    return stmt, columns


def _recency_sort(sort: Sort) -> Sort:
    """`recency` ascending is the most recent order first: the last order time descending."""
    return Sort(tuple((name, not desc if name == "recency" else desc) for name, desc in sort.keys))


@dataclass(frozen=True)
class Rfm:
    recency_days: int | None
    frequency: int
    monetary: int


def rfm_of(
    conn: Connection, account_ids: list[str], as_of: datetime, rule: GradingRule
) -> dict[str, Rfm]:
    """Recency, frequency and monetary (cents) over the trailing window ending at `as_of`."""
    if not account_ids:
        return {}
    t = cv_days.c
    today = as_of.astimezone(UTC).date()
    stmt = (
        select(t.account_id, func.max(t.day), func.sum(t.orders), func.sum(t.revenue))
        .where(
            t.account_id.in_(account_ids),
            t.day > today - timedelta(days=rule.window_days),
            t.day <= today,
            t.orders > 0,
        )
        .group_by(t.account_id)
    )
    found = {
        account_id: Rfm((today - _day(last)).days, int(orders), int(revenue))
        for account_id, last, orders, revenue in conn.execute(stmt)
    }
    return {a: found.get(a, Rfm(None, 0, 0)) for a in account_ids}


def _utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def customer_value(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    period: Period,
    as_of: datetime,
    rule: GradingRule,
    owner_id: str | None = None,
) -> Page:
    stmt, columns = _value_query(period, visible_owners, owner_id)
    inner = _recency_sort(sort)
    page = keyset_page(conn, stmt, columns, inner, cursor, limit)
    rows = page.rows
    total = total_revenue(conn, period)
    rfm = rfm_of(conn, [r["id"] for r in rows], as_of, rule)
    return Page(
        [
            {**_value_row(row, rfm[row["id"]], total, as_of, rule), "cursor": _cursor(inner, row)}
            for row in rows
        ],
        page.next_cursor,
    )


def _cursor(sort: Sort, row: dict[str, Any]) -> str:
    """The cursor that resumes right after this row (GraphQL edges)."""
    return encode_cursor(sort, [row[name] for name, _ in sort.keys])


def _value_row(
    row: dict[str, Any], rfm: Rfm, total: int, as_of: datetime, rule: GradingRule
) -> dict[str, Any]:
    if "first_day" in row:
        first = _at(row["first_day"])
        last = _at(row["last_day"])
    else:
        first, last = row["first_order_at"], row["last_order_at"]
    revenue = int(row["revenue"] or 0)
    return {
        "account_id": row["id"],
        "name": row["name"],
        "owner_id": row["owner_id"],
        "revenue": money(revenue),
        "margin": money(row["margin"]),
        "order_count": int(row["order_count"] or 0),
        "first_order_at": first,
        "last_order_at": last,
        "recency_days": None if last is None else max((_utc_day(as_of) - _utc_day(last)).days, 0),
        "frequency": rfm.frequency,
        "monetary": money(rfm.monetary),
        "auto_grade": rule.grade(rfm.recency_days, rfm.frequency, money(rfm.monetary)),
        "manual_grade": row["manual_grade"],
        "contribution_pct": _pct(revenue, total),
    }


def _at(day: Any) -> datetime | None:
    """A period's first/last order, to the day (the period sums are kept per day)."""
    if day is None:
        return None
    return datetime.combine(_day(day), datetime.min.time(), tzinfo=UTC)


def _pct(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01")))


# pareto


def pareto(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    period: Period,
    cursor: str | None,
    limit: int,
    share: Decimal = Decimal("0.8"),
) -> tuple[Page, int]:
    """The smallest set of customers (largest revenue first) whose revenue reaches `share` of
    the period's revenue (of the customers the caller sees), each with its cumulative share.
    The cursor carries the running sum, so each page costs a page."""
    stmt, columns = _value_query(period, visible_owners, None)
    stmt = stmt.where(columns["revenue"] > 0)
    if visible_owners is None:
        total = total_revenue(conn, period)
    else:
        total = int(
            conn.execute(select(func.coalesce(func.sum(stmt.subquery().c.revenue), 0))).scalar()
            or 0
        )
    running, rank, inner_cursor = _pareto_cursor(cursor)
    sort = Sort.parse("-revenue", ("revenue",), "-revenue")
    page = keyset_page(conn, stmt, columns, sort, inner_cursor, limit)
    rows, threshold = [], Decimal(total) * share
    ended = False
    for row in page.rows:
        revenue = int(row["revenue"])
        if running >= threshold:
            ended = True
            break
        running += revenue
        rank += 1
        rows.append(
            {
                "rank": rank,
                "account_id": row["id"],
                "name": row["name"],
                "owner_id": row["owner_id"],
                "revenue": money(revenue),
                "share_pct": _pct(revenue, total),
                "cumulative_pct": _pct(running, total),
                "cursor": f"{_cursor(sort, row)}.{running}.{rank}",
            }
        )
    reached = running >= threshold
    next_cursor = None
    if page.next_cursor and not ended and not reached:
        next_cursor = f"{page.next_cursor}.{running}.{rank}"
    return Page(rows, next_cursor), total


def _pareto_cursor(cursor: str | None) -> tuple[int, int, str | None]:
    if not cursor:
        return 0, 0, None
    inner, _, rest = cursor.partition(".")
    running, _, rank = rest.partition(".")
    if not running.isdigit() or not rank.isdigit():
        raise InvalidCursor("the cursor is malformed; use next_cursor from a previous page")
    return int(running), int(rank), inner


# grades

GRADE_LETTERS = ("A", "B", "C", "D")
STATE_ID = "grades"


def _auto_grade_column(rule: GradingRule, as_of: datetime, only: Any = None) -> tuple[Any, Any]:
    """Per account with an order in the window: its automatic grade, as SQL (the rule of
    crm_api.domain.grading, evaluated in the database so 100k accounts cost one statement).
    `only`: a select of the account ids to grade (default: all)."""
    t = cv_days.c
    today = as_of.astimezone(UTC).date()
    where = [t.day > today - timedelta(days=rule.window_days), t.day <= today, t.orders > 0]
    if only is not None:
        where.append(t.account_id.in_(only))
    window = (
        select(
            t.account_id.label("account_id"),
            func.max(t.day).label("last_day"),
            func.sum(t.orders).label("frequency"),
            func.sum(t.revenue).label("monetary"),
        )
        .where(*where)
        .group_by(t.account_id)
        .subquery("window")
    )
    w = window.c
    r = case(
        *[(w.last_day >= today - timedelta(days=d), 4 - i) for i, d in enumerate(rule.recency)],
        else_=1,
    )
    f = case(*[(w.frequency >= n, 4 - i) for i, n in enumerate(rule.frequency)], else_=1)
    m = case(*[(w.monetary >= n * 100, 4 - i) for i, n in enumerate(rule.monetary)], else_=1)
    score = r + f + m
    grade = case(
        *[(score >= cut, literal(g)) for cut, g in GRADE_CUTS], else_=literal(NO_ORDERS_GRADE)
    )
    return window, grade


def stored_grades_hold(conn: Connection, rule: GradingRule, as_of: datetime) -> bool:
    """Whether the stored grades answer for `as_of`: they follow this rule (or no tick stored
    any yet: then every account is either without orders, D, or due) and `as_of` is not on a
    day before the latest tick's. Otherwise grades are computed from the per-day rows."""
    g = grade_state.c
    state = conn.execute(select(g.rule, g.refreshed_at).where(g.id == STATE_ID)).first()
    if state is None:
        return True
    return state.rule == rule.key and _utc_day(as_of) >= _utc_day(state.refreshed_at)


def _stale(as_of: datetime) -> Any:
    """Accounts whose stored grade may not hold at `as_of` (graded on the fly)."""
    a = cv_accounts.c
    return select(a.account_id).where(a.grade_due <= as_of)


def _auto_grade(rule: GradingRule, as_of: datetime, stored: bool) -> tuple[Any, Any]:
    """The automatic grade as a column and the window subquery to outer-join for it: the
    stored grade where it holds, else computed (for every account when not `stored`)."""
    a = cv_accounts.c
    window, grade = _auto_grade_column(rule, as_of, _stale(as_of) if stored else None)
    computed = func.coalesce(grade, literal(NO_ORDERS_GRADE))
    if not stored:
        return window, computed
    return window, case((a.grade_due <= as_of, computed), else_=a.auto_grade)


def _owners_where(visible_owners: frozenset[str] | None) -> list[ColumnElement[bool]]:
    if visible_owners is None:
        return []
    return [cv_accounts.c.owner_id.in_(sorted(visible_owners))]


def _grade_counts(
    conn: Connection,
    visible_owners: frozenset[str] | None,
    rule: GradingRule,
    as_of: datetime,
    stored: bool,
) -> dict[tuple[str | None, str], int]:
    """(manual grade, automatic grade) → accounts. Stored: one indexed count of the stored
    grades, corrected by the accounts still due (graded on the fly)."""
    a = cv_accounts.c
    where = _owners_where(visible_owners)
    counts: dict[tuple[str | None, str], int] = {}
    if stored:
        for manual, auto, n in conn.execute(
            select(a.manual_grade, a.auto_grade, func.count())
            .where(*where)
            .group_by(a.manual_grade, a.auto_grade)
        ):
            counts[(manual, auto)] = int(n)
        # The few accounts still due, through the grade_due index (owners filtered here, so
        # no other index is preferred); each moves from its stored grade to today's.
        window, grade = _auto_grade_column(rule, as_of, _stale(as_of))
        corrections = conn.execute(
            select(a.owner_id, a.manual_grade, a.auto_grade, grade)
            .select_from(cv_accounts.outerjoin(window, window.c.account_id == a.account_id))
            .where(a.grade_due <= as_of)
        )
        for owner_id, manual, before, after in corrections:
            if visible_owners is not None and owner_id not in visible_owners:
                continue
            counts[(manual, before)] -= 1
            after = after or NO_ORDERS_GRADE
            counts[(manual, after)] = counts.get((manual, after), 0) + 1
        return counts
    window, auto = _auto_grade(rule, as_of, stored=False)
    for manual, grade_, n in conn.execute(
        select(a.manual_grade, auto, func.count())
        .select_from(cv_accounts.outerjoin(window, window.c.account_id == a.account_id))
        .where(*where)
        .group_by(a.manual_grade, auto)
    ):
        counts[(manual, grade_)] = counts.get((manual, grade_), 0) + int(n)
    return counts


def grade_matrix(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    rule: GradingRule,
    as_of: datetime,
    stored: bool = False,
) -> dict[str, Any]:
    counts = _grade_counts(conn, visible_owners, rule, as_of, stored)
    matrix = [
        {"manual_grade": m, **{a: counts.get((m, a), 0) for a in GRADE_LETTERS}}
        for m in GRADE_LETTERS
    ]
    graded_total = sum(n for (m, _), n in counts.items() if m is not None)
    agree = sum(counts.get((g, g), 0) for g in GRADE_LETTERS)
    return {
        "matrix": matrix,
        "without_manual_grade": {a: counts.get((None, a), 0) for a in GRADE_LETTERS},
        "graded_accounts": graded_total,
        "agreeing": agree,
        "agreement_pct": _pct(agree, graded_total),
    }


def grade_disagreements(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    rule: GradingRule,
    as_of: datetime,
    cursor: str | None,
    limit: int,
    stored: bool = False,
) -> Page:
    a = cv_accounts.c
    window, auto = _auto_grade(rule, as_of, stored)
    stmt = (
        select(
            a.account_id.label("id"),
            a.name,
            a.owner_id,
            a.manual_grade,
            auto.label("auto_grade"),
        )
        .select_from(cv_accounts.outerjoin(window, window.c.account_id == a.account_id))
        .where(a.manual_grade.is_not(None), a.manual_grade != auto, *_owners_where(visible_owners))
    )
    sort = Sort.parse("id", ("id",), "id")
    return keyset_page(conn, stmt, {"id": a.account_id}, sort, cursor, limit)


# the watchers' tick: grading the due accounts


def begin_grading(conn: Connection, rule: GradingRule, now: datetime) -> bool:
    """Note that a tick grades at `now` under `rule`. When the stored grades follow another
    rule (or none), every account with orders becomes due. Returns whether it changed."""
    g = grade_state.c
    state = conn.execute(select(g.rule, g.refreshed_at).where(g.id == STATE_ID)).first()
    if state is None:
        insert_row(conn, grade_state, dict(id=STATE_ID, rule=rule.key, refreshed_at=now))
    else:
        conn.execute(
            update(grade_state)
            .where(g.id == STATE_ID)
            .values(rule=rule.key, refreshed_at=max(now, state.refreshed_at))
        )
    changed = state is None or state.rule != rule.key
    if changed:
        with_orders = select(cv_days.c.account_id).distinct()
        conn.execute(
            update(cv_accounts)
            .where(
                cv_accounts.c.account_id.in_(with_orders),
                or_(cv_accounts.c.grade_due.is_(None), cv_accounts.c.grade_due > EPOCH),
            )
            .values(grade_due=EPOCH)
        )
    return changed


def grade_due_accounts(
    conn: Connection, rule: GradingRule, now: datetime, limit: int
) -> tuple[int, int]:
    """Grade at `now` up to `limit` accounts whose stored grade is due (the oldest due first),
    each with the first later day its grade changes by ageing. A grade is stored only if the
    account's orders did not change meanwhile (its stamp). Returns (due, stored)."""
    a = cv_accounts.c
    due = conn.execute(
        select(a.account_id, a.grade_stamp)
        .where(a.grade_due <= now)
        .order_by(a.grade_due, a.account_id)
        .limit(limit)
    ).all()
    if not due:
        return 0, 0
    today = _utc_day(now)
    t = cv_days.c
    days: dict[str, list[OrderDay]] = {}
    for account_id, day, orders, revenue in conn.execute(
        select(t.account_id, t.day, t.orders, t.revenue).where(
            t.account_id.in_([row.account_id for row in due]),
            t.day > today - timedelta(days=rule.window_days),
            t.orders > 0,
        )
    ):
        days.setdefault(account_id, []).append(OrderDay(_day(day), int(orders), int(revenue)))
    values = []
    for account_id, stamp in due:
        grade, turn = rule.grade_over(days.get(account_id, []), today)
        values.append(
            {
                "key": account_id,
                "stamp": stamp,
                "grade": grade,
                "as_of": now,
                "due": None if turn is None else _at(turn),
            }
        )
    result = conn.execute(
        update(cv_accounts)
        .where(a.account_id == bindparam("key"), a.grade_stamp == bindparam("stamp"))
        .values(
            auto_grade=bindparam("grade"),
            grade_as_of=bindparam("as_of", type_=UTCDateTime),
            grade_due=bindparam("due", type_=UTCDateTime),
        ),
        values,
    )
    stored = (
        result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(values)
    )
    return len(due), stored


# margins

MARGIN_GROUPS = ("product", "product_line", "month")
MARGIN_SORTS = ("margin", "revenue", "key")


def margins(
    conn: Connection, *, group_by: str, period: Period, sort: Sort, cursor: str | None, limit: int
) -> Page:
    if all(d is None or d.day == 1 for d in (period.start, period.end)):
        t = margin_months.c
        where = [t.month >= period.start.isoformat()[:7]] if period.start else []
        where += [t.month < period.end.isoformat()[:7]] if period.end else []
    else:
        t = margin_days.c
        where = period.where(t.day)
    key = {"product": t.product_id, "product_line": t.product_line, "month": t.month}[group_by]
    sums = (
        select(
            key.label("key"),
            func.max(t.sku).label("sku"),
            _int(func.sum(t.revenue)).label("revenue"),
            func.sum(t.costed_revenue).label("costed_revenue"),
            func.sum(t.cost).label("cost"),
            _int(func.sum(t.costed_revenue - t.cost)).label("margin"),
            func.sum(t.quantity_milli).label("quantity_milli"),
            func.sum(t.lines).label("lines"),
        )
        .where(*where)
        .group_by(key)
        .having(func.sum(t.lines) > 0)
        .subquery("margin_sums")
    )
    s = sums.c
    stmt = select(sums, s.key.label("id"))
    page = keyset_page(
        conn,
        stmt,
        {"id": s.key, "key": s.key, "margin": s.margin, "revenue": s.revenue},
        sort,
        cursor,
        limit,
    )
    rows = []
    for row in page.rows:
        costed = int(row["costed_revenue"] or 0)
        margin = int(row["margin"] or 0)
        rows.append(
            {
                "group": group_by,
                "key": row["key"],
                "sku": row["sku"] if group_by == "product" else None,
                "revenue": money(row["revenue"]),
                "costed_revenue": money(costed),
                "cost": money(row["cost"]),
                "margin": money(margin),
                "margin_pct": _pct(margin, costed),
                "quantity": (Decimal(int(row["quantity_milli"] or 0)) / 1000).quantize(
                    Decimal("0.001")
                ),
                "order_lines": int(row["lines"] or 0),
                "cursor": _cursor(sort, row),
            }
        )
    return Page(rows, page.next_cursor)
