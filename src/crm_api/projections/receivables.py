"""Read model of receivables: invoices and payments in integer cents (sums are exact on every
store), and whose accounts they are (kept here from the account events, so lists filter by
visibility without reading another projection's tables).

Receivables and the overdue list are computed from these rows for any `as_of_date`: an
invoice counts if issued on or before it and not void; a payment counts if paid on or before
it. Aging buckets are by days past due at `as_of_date` (see docs/receivables.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import Account
from crm_api.domain.invoices import AGING_BUCKETS, Invoice, aging_bucket
from crm_api.projections.base import Projection, handles, insert_row, upsert
from crm_api.projections.paging import Page, Sort, keyset_page

receivable_accounts = Table(
    "receivable_accounts",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
)

receivable_invoices = Table(
    "receivable_invoices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(64), nullable=False),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("order_id", String(36), nullable=True, index=True),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("issued_at", Date, nullable=False),
    Column("due_at", Date, nullable=False),
    Column("due_day", Integer, nullable=False, doc="due_at as a day number, for cursors"),
    Column("paid_on", Date, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_receivable_invoices_created_at_id", "created_at", "id"),
    Index("ix_receivable_invoices_due_day_id", "due_day", "id"),
)

receivable_payments = Table(
    "receivable_payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("invoice_id", String(36), nullable=False, index=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_at", Date, nullable=False),
    Column("method", String(50), nullable=True),
    Column("reference", String(200), nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_receivable_payments_recorded_at_id", "recorded_at", "id"),
)

CENTS = Decimal(100)


def cents(amount: Any) -> int:
    return int((Decimal(amount) * CENTS).to_integral_value())


def money(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / CENTS).quantize(Decimal("0.01"))


class ReceivablesProjection(Projection):
    name = "receivables"
    tables = (receivable_payments, receivable_invoices, receivable_accounts)

    # whose accounts

    @handles(Account.Opened)
    def account_opened(self, conn: Connection, e: Any, position: int) -> None:
        upsert(
            conn,
            receivable_accounts,
            {"account_id": str(e.originator_id), "owner_id": e.owner_id, "name": e.name[:200]},
            ["account_id"],
        )

    @handles(Account.DetailsChanged)
    def account_changed(self, conn: Connection, e: Any, position: int) -> None:
        if "name" in e.changes:
            conn.execute(
                update(receivable_accounts)
                .where(receivable_accounts.c.account_id == str(e.originator_id))
                .values(name=str(e.changes["name"])[:200])
            )

    @handles(Account.OwnershipTransferred)
    def ownership_transferred(self, conn: Connection, e: Any, position: int) -> None:
        account_id = str(e.originator_id)
        for table, column in (
            (receivable_accounts, receivable_accounts.c.owner_id),
            (receivable_invoices, receivable_invoices.c.account_owner_id),
            (receivable_payments, receivable_payments.c.account_owner_id),
        ):
            conn.execute(
                update(table)
                .where(table.c.account_id == account_id)
                .values({column.name: e.to_owner_id})
            )

    # invoices

    @handles(Invoice.Issued)
    def issued(self, conn: Connection, e: Any, position: int) -> None:
        owner = conn.execute(
            select(receivable_accounts.c.owner_id).where(
                receivable_accounts.c.account_id == e.account_id
            )
        ).scalar()
        insert_row(
            conn,
            receivable_invoices,
            dict(
                id=str(e.originator_id),
                number=e.number,
                account_id=e.account_id,
                account_owner_id=owner or "",
                order_id=e.order_id,
                currency=e.currency,
                amount_cents=cents(e.amount),
                paid_cents=0,
                status="open",
                issued_at=e.issued_at,
                due_at=e.due_at,
                due_day=e.due_at.toordinal(),
                paid_on=None,
                version=e.originator_version,
                created_at=e.timestamp,
                updated_at=e.timestamp,
                position=position,
            ),
        )

    @handles(Invoice.PaymentRecorded)
    def payment_recorded(self, conn: Connection, e: Any, position: int) -> None:
        invoice_id = str(e.originator_id)
        invoice = conn.execute(
            select(
                receivable_invoices.c.account_id,
                receivable_invoices.c.account_owner_id,
                receivable_invoices.c.currency,
            ).where(receivable_invoices.c.id == invoice_id)
        ).one()
        insert_row(
            conn,
            receivable_payments,
            dict(
                id=e.payment_id,
                invoice_id=invoice_id,
                account_id=invoice.account_id,
                account_owner_id=invoice.account_owner_id,
                currency=invoice.currency,
                amount_cents=cents(e.amount),
                paid_at=e.paid_at,
                method=e.method,
                reference=e.reference,
                recorded_at=e.timestamp,
                position=position,
            ),
        )
        self._set(conn, e, position, paid_cents=receivable_invoices.c.paid_cents + cents(e.amount))

    @handles(Invoice.Paid)
    def paid(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position, status="paid", paid_on=e.paid_on)

    @handles(Invoice.Voided)
    def voided(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position, status="void")

    @staticmethod
    def _set(conn: Connection, e: Any, position: int, **values: Any) -> None:
        conn.execute(
            update(receivable_invoices)
            .where(receivable_invoices.c.id == str(e.originator_id))
            .values(
                **values,
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )


# reads

INV = receivable_invoices
PAY = receivable_payments
INVOICE_SORTS = ("created_at", "updated_at", "number", "due_day")
INVOICE_COLUMNS = tuple(c.name for c in INV.c if c.name not in ("position",))


def invoice_row(row: dict[str, Any]) -> dict[str, Any]:
    amount, paid = money(row.pop("amount_cents")), money(row.pop("paid_cents"))
    row.pop("account_owner_id", None)
    return {
        **row,
        "amount": amount,
        "paid": paid,
        "balance": Decimal("0.00") if row["status"] == "void" else amount - paid,
    }


def _visible(stmt: Select[Any], column: Any, visible_owners: frozenset[str] | None) -> Any:
    if visible_owners is None:
        return stmt
    return stmt.where(column.in_(sorted(visible_owners)))


def list_invoices(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    order_id: str | None = None,
    owner_id: str | None = None,
    status: str | None = None,
    number: str | None = None,
) -> Page:
    stmt = _visible(
        select(*[INV.c[n] for n in INVOICE_COLUMNS]), INV.c.account_owner_id, visible_owners
    )
    for column, value in (
        ("account_id", account_id),
        ("order_id", order_id),
        ("account_owner_id", owner_id),
        ("status", status),
    ):
        if value is not None:
            stmt = stmt.where(INV.c[column] == value)
    if number is not None:
        stmt = stmt.where(func.lower(INV.c.number) == number.strip().lower())
    page = keyset_page(conn, stmt, dict(INV.c), sort, cursor, limit)
    return Page([invoice_row(row) for row in page.rows], page.next_cursor)


PAYMENT_SORTS = ("position", "recorded_at")
"""position: the order payments were recorded in (the log's)."""
PAYMENT_COLUMNS = tuple(c.name for c in PAY.c if c.name != "account_owner_id")


def payment_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "amount": money(row.pop("amount_cents"))}


def list_payments(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    invoice_id: str | None = None,
    account_id: str | None = None,
) -> Page:
    stmt = _visible(
        select(*[PAY.c[n] for n in PAYMENT_COLUMNS]), PAY.c.account_owner_id, visible_owners
    )
    if invoice_id is not None:
        stmt = stmt.where(PAY.c.invoice_id == invoice_id)
    if account_id is not None:
        stmt = stmt.where(PAY.c.account_id == account_id)
    page = keyset_page(conn, stmt, dict(PAY.c), sort, cursor, limit)
    return Page([payment_row(row) for row in page.rows], page.next_cursor)


def invoice_of_payment(conn: Connection, payment_id: str) -> str | None:
    return conn.execute(select(PAY.c.invoice_id).where(PAY.c.id == payment_id)).scalar()


def _paid_by(as_of: date) -> Any:
    """What was paid of each invoice on or before `as_of`."""
    return (
        select(PAY.c.invoice_id, func.sum(PAY.c.amount_cents).label("paid"))
        .where(PAY.c.paid_at <= as_of)
        .group_by(PAY.c.invoice_id)
        .subquery("paid_by")
    )


def _open_at(as_of: date) -> tuple[Any, Any]:
    """(the invoices counted at `as_of`, the open cents of each at `as_of`)."""
    paid = _paid_by(as_of)
    open_cents = INV.c.amount_cents - func.coalesce(paid.c.paid, 0)
    joined = INV.outerjoin(paid, paid.c.invoice_id == INV.c.id)
    return joined, open_cents


def bucket_bounds(as_of: date) -> dict[str, tuple[date | None, date | None]]:
    """Each bucket as due dates (earliest, latest) inclusive; None is unbounded."""
    day = timedelta(days=1)
    return {
        "not_due": (as_of + day, None),
        "d0_30": (as_of - 30 * day, as_of),
        "d31_60": (as_of - 60 * day, as_of - 31 * day),
        "d61_90": (as_of - 90 * day, as_of - 61 * day),
        "over_90": (None, as_of - 91 * day),
    }


RECEIVABLE_SORT = Sort((("account_id", False), ("currency", False)))


def receivables(
    conn: Connection,
    *,
    as_of: date,
    visible_owners: frozenset[str] | None,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    owner_id: str | None = None,
) -> Page:
    """Per account and currency at `as_of`: invoiced, paid, balance and the aging buckets of
    the open balances. Void invoices and invoices issued after `as_of` are left out."""
    joined, open_cents = _open_at(as_of)
    buckets = []
    for name in AGING_BUCKETS:
        earliest, latest = bucket_bounds(as_of)[name]
        conditions = []
        if earliest is not None:
            conditions.append(INV.c.due_at >= earliest)
        if latest is not None:
            conditions.append(INV.c.due_at <= latest)
        buckets.append(func.sum(case((and_(*conditions), open_cents), else_=0)).label(name))
    stmt = (
        select(
            INV.c.account_id,
            INV.c.currency,
            func.max(receivable_accounts.c.name).label("account_name"),
            func.max(INV.c.account_owner_id).label("owner_id"),
            func.count().label("invoice_count"),
            func.sum(INV.c.amount_cents).label("invoiced"),
            func.sum(INV.c.amount_cents - open_cents).label("paid"),
            func.sum(open_cents).label("balance"),
            func.sum(case((open_cents > 0, 1), else_=0)).label("open_invoices"),
            *buckets,
        )
        .select_from(
            joined.outerjoin(
                receivable_accounts, receivable_accounts.c.account_id == INV.c.account_id
            )
        )
        .where(INV.c.status != "void", INV.c.issued_at <= as_of)
        .group_by(INV.c.account_id, INV.c.currency)
    )
    stmt = _visible(stmt, INV.c.account_owner_id, visible_owners)
    if account_id is not None:
        stmt = stmt.where(INV.c.account_id == account_id)
    if owner_id is not None:
        stmt = stmt.where(INV.c.account_owner_id == owner_id)
    columns = {"account_id": INV.c.account_id, "currency": INV.c.currency}
    page = keyset_page(conn, stmt, columns, RECEIVABLE_SORT, cursor, limit)
    rows = []
    for row in page.rows:
        rows.append(
            {
                "account_id": row["account_id"],
                "account_name": row["account_name"],
                "owner_id": row["owner_id"] or None,
                "currency": row["currency"],
                "as_of_date": as_of,
                "invoice_count": int(row["invoice_count"]),
                "open_invoices": int(row["open_invoices"] or 0),
                "invoiced": money(row["invoiced"]),
                "paid": money(row["paid"]),
                "balance": money(row["balance"]),
                "aging": {name: money(row[name]) for name in AGING_BUCKETS},
            }
        )
    return Page(rows, page.next_cursor)


OVERDUE_SORT = Sort((("due_day", False), ("id", False)))


def overdue(
    conn: Connection,
    *,
    as_of: date,
    visible_owners: frozenset[str] | None,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    owner_id: str | None = None,
) -> Page:
    """Invoices with an open balance at `as_of` and due before it, oldest due date first."""
    joined, open_cents = _open_at(as_of)
    stmt = (
        select(
            INV.c.id,
            INV.c.due_day,
            INV.c.number,
            INV.c.account_id,
            INV.c.order_id,
            INV.c.currency,
            INV.c.amount_cents,
            open_cents.label("balance_cents"),
            INV.c.issued_at,
            INV.c.due_at,
            receivable_accounts.c.name.label("account_name"),
            INV.c.account_owner_id.label("owner_id"),
        )
        .select_from(
            joined.outerjoin(
                receivable_accounts, receivable_accounts.c.account_id == INV.c.account_id
            )
        )
        .where(
            INV.c.status != "void",
            INV.c.issued_at <= as_of,
            INV.c.due_at < as_of,
            open_cents > 0,
        )
    )
    stmt = _visible(stmt, INV.c.account_owner_id, visible_owners)
    if account_id is not None:
        stmt = stmt.where(INV.c.account_id == account_id)
    if owner_id is not None:
        stmt = stmt.where(INV.c.account_owner_id == owner_id)
    columns = {"due_day": INV.c.due_day, "id": INV.c.id}
    page = keyset_page(conn, stmt, columns, OVERDUE_SORT, cursor, limit)
    rows = []
    for row in page.rows:
        rows.append(
            {
                "id": row["id"],
                "due_day": row["due_day"],
                "number": row["number"],
                "account_id": row["account_id"],
                "account_name": row["account_name"],
                "owner_id": row["owner_id"] or None,
                "order_id": row["order_id"],
                "currency": row["currency"],
                "amount": money(row["amount_cents"]),
                "balance": money(row["balance_cents"]),
                "issued_at": row["issued_at"],
                "due_at": row["due_at"],
                "days_overdue": (as_of - row["due_at"]).days,
                "aging_bucket": aging_bucket(row["due_at"], as_of),
            }
        )
    return Page(rows, page.next_cursor)
