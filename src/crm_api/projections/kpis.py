"""Read model of the data-entry KPIs, as counters per user and UTC day (or per owner), so an
answer costs the users on the page, not the history.

- Timeliness: each activity counts, on the day it occurred, for the user it was entered for
  (the rep an assistant acted for, else the one who entered it), split by `via` (self or
  on_behalf), with its entry lag (recorded − occurred) in buckets and whether it was recorded
  by 10:00 UTC the next day.
- Completeness: per owner, how many accounts and contacts have each key field. Only whether a
  field is filled is kept (never its value: contacts can be erased); an erased contact counts
  as empty.
- Growth: accounts opened per owner and day. Opportunities: created, won and lost per owner
  and day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
    update,
)

from crm_api.db import metadata
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.activities import Activity
from crm_api.domain.opportunities import Opportunity, business_time
from crm_api.domain.people import User
from crm_api.projections.base import Projection, handles, insert_row
from crm_api.projections.insights import accumulate
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page

ACCOUNT_FIELDS = ("phone", "industry", "address")
CONTACT_FIELDS = ("phone", "email", "occupation", "birth_year")
KEY_FIELDS = ("phone", "email", "occupation", "birth_year", "industry", "address")
LAG_BUCKETS = (
    ("within_1h", timedelta(hours=1)),
    ("within_1d", timedelta(days=1)),
    ("within_3d", timedelta(days=3)),
)
LATE = "later"
RECORDED_BY = time(10, 0)
ACTIVITY_SUMS = ("activities", *[name for name, _ in LAG_BUCKETS], LATE, "recorded_by_next_10")

kpi_account_owners = account_owners_table("kpi_account_owners")

kpi_users = Table(
    "kpi_users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("team_id", String(36), nullable=True, index=True),
    Column("role", String(20), nullable=False),
)

kpi_activity_days = Table(
    "kpi_activity_days",
    metadata,
    Column("id", String(96), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("via", String(10), nullable=False),
    Column("activities", Integer, nullable=False),
    *[Column(name, Integer, nullable=False) for name, _ in LAG_BUCKETS],
    Column(LATE, Integer, nullable=False),
    Column("recorded_by_next_10", Integer, nullable=False),
    Index("ix_kpi_activity_days_user_day", "user_id", "day"),
)

kpi_records = Table(
    "kpi_records",
    metadata,
    Column("record_id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("account_id", String(36), nullable=False, index=True),
    *[Column(name, Boolean, nullable=False) for name in KEY_FIELDS],
)

kpi_completeness = Table(
    "kpi_completeness",
    metadata,
    Column("id", String(48), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("records", Integer, nullable=False),
    *[Column(name, Integer, nullable=False) for name in KEY_FIELDS],
)

kpi_owner_days = Table(
    "kpi_owner_days",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("day", Date, nullable=False),
    Column("accounts_opened", Integer, nullable=False),
    Column("opportunities_created", Integer, nullable=False),
    Column("opportunities_won", Integer, nullable=False),
    Column("opportunities_lost", Integer, nullable=False),
    Index("ix_kpi_owner_days_owner_day", "owner_id", "day"),
)

kpi_opportunities = Table(
    "kpi_opportunities",
    metadata,
    Column("opportunity_id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
)

OWNER_COUNTS = (
    "accounts_opened",
    "opportunities_created",
    "opportunities_won",
    "opportunities_lost",
)


def _add(
    conn: Connection, table: Table, key: str, values: dict[str, Any], sums: Iterable[str]
) -> None:
    """Insert the row or add its counters to the existing one."""
    accumulate(conn, table, key, [values], sums)


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != "[erased]"


def entry_lag_bucket(lag: timedelta) -> str:
    return next((name for name, limit in LAG_BUCKETS if lag <= limit), LATE)


def _count_owner(
    conn: Connection, owner_id: str, at: datetime, counter: str, sign: int = 1
) -> None:
    day = at.astimezone(UTC).date()
    values = {"id": f"{owner_id}:{day.isoformat()}", "owner_id": owner_id, "day": day}
    values.update({c: sign if c == counter else 0 for c in OWNER_COUNTS})
    _add(conn, kpi_owner_days, "id", values, OWNER_COUNTS)


class KpisProjection(FollowsAccountOwners, Projection):
    name = "kpis"
    tables = (
        kpi_users,
        kpi_activity_days,
        kpi_records,
        kpi_completeness,
        kpi_owner_days,
        kpi_opportunities,
        kpi_account_owners,
    )
    account_owners = kpi_account_owners

    # users

    @handles(User.Registered)
    def user_registered(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn, kpi_users, dict(user_id=str(e.originator_id), team_id=e.team_id, role=e.role)
        )

    @handles(User.DetailsChanged)
    def user_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = {k: e.changes[k] for k in ("team_id", "role") if k in e.changes}
        if values:
            conn.execute(
                update(kpi_users)
                .where(kpi_users.c.user_id == str(e.originator_id))
                .values(**values)
            )

    # timeliness

    @handles(Activity.Created)
    def activity_created(self, conn: Connection, e: Any, position: int) -> None:
        occurred = business_time(e)
        recorded = e.timestamp
        on_behalf = e.meta.get("on_behalf_of")
        user = on_behalf or e.meta["actor"]
        day = occurred.astimezone(UTC).date()
        via = "on_behalf" if on_behalf else "self"
        bucket = entry_lag_bucket(recorded - occurred)
        deadline = datetime.combine(day + timedelta(days=1), RECORDED_BY, tzinfo=UTC)
        values = {
            "id": f"{user}:{day.isoformat()}:{via}",
            "user_id": user,
            "day": day,
            "via": via,
            "activities": 1,
            **{name: int(name == bucket) for name, _ in LAG_BUCKETS},
            LATE: int(bucket == LATE),
            "recorded_by_next_10": int(recorded <= deadline),
        }
        _add(conn, kpi_activity_days, "id", values, ACTIVITY_SUMS)

    # completeness and growth

    @handles(Account.Opened)
    def account_opened(self, conn: Connection, e: Any, position: int) -> None:
        super().account_opened(conn, e, position)
        account_id = str(e.originator_id)
        flags = {
            f: _filled(getattr(e, f, None)) if f in ACCOUNT_FIELDS else False for f in KEY_FIELDS
        }
        insert_row(
            conn,
            kpi_records,
            dict(record_id=account_id, kind="account", account_id=account_id, **flags),
        )
        self._count_flags(conn, e.owner_id, "account", flags, 1, 1)
        _count_owner(conn, e.owner_id, business_time(e), "accounts_opened")

    @handles(Account.DetailsChanged)
    def account_changed(self, conn: Connection, e: Any, position: int) -> None:
        self._changed(conn, str(e.originator_id), "account", ACCOUNT_FIELDS, e.changes)

    @handles(Contact.Added)
    def contact_added(self, conn: Connection, e: Any, position: int) -> None:
        flags = {
            f: _filled(getattr(e, f, None)) if f in CONTACT_FIELDS else False for f in KEY_FIELDS
        }
        insert_row(
            conn,
            kpi_records,
            dict(record_id=str(e.originator_id), kind="contact", account_id=e.account_id, **flags),
        )
        self._count_flags(conn, self.owner_of(conn, e.account_id), "contact", flags, 1, 1)

    @handles(Contact.DetailsChanged)
    def contact_changed(self, conn: Connection, e: Any, position: int) -> None:
        self._changed(conn, str(e.originator_id), "contact", CONTACT_FIELDS, e.changes)

    @handles(Contact.Erased)
    def contact_erased(self, conn: Connection, e: Any, position: int) -> None:
        self._changed(
            conn, str(e.originator_id), "contact", CONTACT_FIELDS, dict.fromkeys(CONTACT_FIELDS)
        )

    @handles(Account.OwnershipTransferred)
    def ownership_transferred(self, conn: Connection, e: Any, position: int) -> None:
        super().ownership_transferred(conn, e, position)
        r = kpi_records.c
        for kind, records, *counts in conn.execute(
            select(r.kind, func.count(), *[func.sum(func.cast(r[f], Integer)) for f in KEY_FIELDS])
            .where(r.account_id == str(e.originator_id))
            .group_by(r.kind)
        ).all():
            flags = dict(zip(KEY_FIELDS, (int(c or 0) for c in counts), strict=True))
            self._count_flags(conn, e.from_owner_id, kind, flags, int(records), -1)
            self._count_flags(conn, e.to_owner_id, kind, flags, int(records), 1)

    def _changed(
        self,
        conn: Connection,
        record_id: str,
        kind: str,
        fields: tuple[str, ...],
        changes: dict[str, Any],
    ) -> None:
        touched = {f: _filled(changes[f]) for f in fields if f in changes}
        if not touched:
            return
        row = conn.execute(select(kpi_records).where(kpi_records.c.record_id == record_id)).one()
        delta = {f: int(v) - int(getattr(row, f)) for f, v in touched.items()}
        if not any(delta.values()):
            return
        conn.execute(
            update(kpi_records).where(kpi_records.c.record_id == record_id).values(**touched)
        )
        owner = self.owner_of(conn, row.account_id)
        self._count_flags(conn, owner, kind, {f: delta.get(f, 0) for f in KEY_FIELDS}, 0, 1)

    @staticmethod
    def _count_flags(
        conn: Connection, owner_id: str, kind: str, flags: dict[str, Any], records: int, sign: int
    ) -> None:
        values = {
            "id": f"{owner_id}:{kind}",
            "owner_id": owner_id,
            "kind": kind,
            "records": records * sign,
            **{f: int(flags[f]) * sign for f in KEY_FIELDS},
        }
        _add(conn, kpi_completeness, "id", values, ("records", *KEY_FIELDS))

    # opportunities

    @handles(Opportunity.Created)
    def opportunity_created(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn, kpi_opportunities, dict(opportunity_id=str(e.originator_id), owner_id=e.owner_id)
        )
        _count_owner(conn, e.owner_id, business_time(e), "opportunities_created")

    @handles(Opportunity.DetailsChanged)
    def opportunity_changed(self, conn: Connection, e: Any, position: int) -> None:
        if "owner_id" in e.changes:
            conn.execute(
                update(kpi_opportunities)
                .where(kpi_opportunities.c.opportunity_id == str(e.originator_id))
                .values(owner_id=e.changes["owner_id"])
            )

    @handles(Opportunity.Won)
    def opportunity_won(self, conn: Connection, e: Any, position: int) -> None:
        _count_owner(conn, self._opportunity_owner(conn, e), business_time(e), "opportunities_won")

    @handles(Opportunity.Lost)
    def opportunity_lost(self, conn: Connection, e: Any, position: int) -> None:
        _count_owner(conn, self._opportunity_owner(conn, e), business_time(e), "opportunities_lost")

    @staticmethod
    def _opportunity_owner(conn: Connection, e: Any) -> str:
        return str(
            conn.execute(
                select(kpi_opportunities.c.owner_id).where(
                    kpi_opportunities.c.opportunity_id == str(e.originator_id)
                )
            ).scalar_one()
        )


# queries


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 2) if whole else None


def user_page(
    conn: Connection, *, visible: frozenset[str] | None, cursor: str | None, limit: int
) -> Page:
    t = kpi_users.c
    stmt = select(t.user_id.label("id"))
    if visible is not None:
        stmt = stmt.where(t.user_id.in_(sorted(visible)))
    return keyset_page(
        conn, stmt, {"id": t.user_id}, Sort.parse("id", ("id",), "id"), cursor, limit
    )


def team_page(
    conn: Connection, *, teams: frozenset[str] | None, cursor: str | None, limit: int
) -> tuple[Page, dict[str, list[str]]]:
    """A page of teams, and each one's members."""
    t = kpi_users.c
    distinct = select(t.team_id.label("id")).where(t.team_id.is_not(None)).distinct()
    if teams is not None:
        distinct = distinct.where(t.team_id.in_(sorted(teams)))
    sub = distinct.subquery("kpi_teams")
    page = keyset_page(
        conn, select(sub.c.id), {"id": sub.c.id}, Sort.parse("id", ("id",), "id"), cursor, limit
    )
    members: dict[str, list[str]] = {row["id"]: [] for row in page.rows}
    if members:
        for user_id, team_id in conn.execute(
            select(t.user_id, t.team_id).where(t.team_id.in_(sorted(members)))
        ):
            members[team_id].append(user_id)
    return page, members


def data_entry(
    conn: Connection, groups: dict[str, list[str]], start: date, end: date, today: date
) -> list[dict[str, Any]]:
    """The KPIs of each group (a user, or a team's members) over [start, end)."""
    users = sorted({u for members in groups.values() for u in members})
    a, o, c = kpi_activity_days.c, kpi_owner_days.c, kpi_completeness.c
    activity: dict[tuple[str, str], dict[str, int]] = {}
    yesterday: dict[str, list[int]] = {}
    owners: dict[str, dict[str, int]] = {}
    complete: dict[tuple[str, str], dict[str, int]] = {}
    if users:
        for row in conn.execute(
            select(a.user_id, a.via, *[func.sum(a[n]).label(n) for n in ACTIVITY_SUMS])
            .where(a.user_id.in_(users), a.day >= start, a.day < end)
            .group_by(a.user_id, a.via)
        ):
            activity[(row.user_id, row.via)] = {n: int(row._mapping[n] or 0) for n in ACTIVITY_SUMS}
        for user_id, count, by_10 in conn.execute(
            select(a.user_id, func.sum(a.activities), func.sum(a.recorded_by_next_10))
            .where(a.user_id.in_(users), a.day == today - timedelta(days=1))
            .group_by(a.user_id)
        ):
            yesterday[user_id] = [int(count or 0), int(by_10 or 0)]
        for row in conn.execute(
            select(o.owner_id, *[func.sum(o[n]).label(n) for n in OWNER_COUNTS])
            .where(o.owner_id.in_(users), o.day >= start, o.day < end)
            .group_by(o.owner_id)
        ):
            owners[row.owner_id] = {n: int(row._mapping[n] or 0) for n in OWNER_COUNTS}
        for row in conn.execute(select(kpi_completeness).where(c.owner_id.in_(users))):
            complete[(row.owner_id, row.kind)] = {
                n: int(row._mapping[n]) for n in ("records", *KEY_FIELDS)
            }
    days = max((end - start).days, 1)
    return [
        _kpi_row(key, members, activity, yesterday, owners, complete, days)
        for key, members in groups.items()
    ]


def _total(found: dict[Any, dict[str, int]], keys: list[Any], name: str) -> int:
    return sum(found.get(k, {}).get(name, 0) for k in keys)


def _kpi_row(
    key: str,
    members: list[str],
    activity: dict[tuple[str, str], dict[str, int]],
    yesterday: dict[str, list[int]],
    owners: dict[str, dict[str, int]],
    complete: dict[tuple[str, str], dict[str, int]],
    days: int,
) -> dict[str, Any]:
    both = [(u, via) for u in members for via in ("self", "on_behalf")]
    entered = {n: _total(activity, both, n) for n in ACTIVITY_SUMS}
    on_behalf = _total(activity, [(u, "on_behalf") for u in members], "activities")
    y_count = sum(yesterday.get(u, [0, 0])[0] for u in members)
    y_by_10 = sum(yesterday.get(u, [0, 0])[1] for u in members)
    counts = {n: _total(owners, members, n) for n in OWNER_COUNTS}
    accounts = [(u, "account") for u in members]
    contacts = [(u, "contact") for u in members]
    account_fields = {f: _total(complete, accounts, f) for f in ACCOUNT_FIELDS}
    contact_fields = {f: _total(complete, contacts, f) for f in CONTACT_FIELDS}
    n_accounts, n_contacts = (
        _total(complete, accounts, "records"),
        _total(complete, contacts, "records"),
    )
    filled = sum(account_fields.values()) + sum(contact_fields.values())
    slots = n_accounts * len(ACCOUNT_FIELDS) + n_contacts * len(CONTACT_FIELDS)
    won, lost = counts["opportunities_won"], counts["opportunities_lost"]
    return {
        "id": key,
        "members": len(members),
        "activities": {
            "total": entered["activities"],
            "own": entered["activities"] - on_behalf,
            "on_behalf": on_behalf,
            "lag": {name: entered[name] for name, _ in LAG_BUCKETS} | {LATE: entered[LATE]},
            "recorded_by_next_day_10_pct": _pct(
                entered["recorded_by_next_10"], entered["activities"]
            ),
            "per_day": round(entered["activities"] / days, 2),
        },
        "yesterday": {"activities": y_count, "recorded_by_10_pct": _pct(y_by_10, y_count)},
        "completeness": {
            "accounts": n_accounts,
            "contacts": n_contacts,
            "accounts_with": account_fields,
            "contacts_with": contact_fields,
            "filled_pct": _pct(filled, slots),
        },
        "new_accounts": counts["accounts_opened"],
        "opportunities": {
            "created": counts["opportunities_created"],
            "won": won,
            "lost": lost,
            "win_rate_pct": _pct(won, won + lost),
        },
    }
