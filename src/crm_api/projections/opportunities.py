"""Read models of opportunities: the list (filtered by the ACCOUNT's owner, which this
projection keeps itself from the account events) and the funnel (per opportunity: when it was
created and first reached each stage, for conversion, win-rate and cycle analytics)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
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
    case,
    func,
    literal_column,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.opportunities import (
    LOST,
    NEGOTIATION,
    PROPOSAL,
    PROSPECTING,
    QUALIFICATION,
    WON,
    Opportunity,
    business_time,
)
from crm_api.projections.base import Projection, handles, insert_row
from crm_api.projections.custom_fields import CustomFieldQuery
from crm_api.projections.directory import like_pattern
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, encode_cursor, keyset_page

opportunity_account_owners = account_owners_table("opportunity_account_owners")

opportunities = Table(
    "opportunities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected_close_date", String(10), nullable=False),
    Column("product_id", String(36), nullable=True),
    Column("stage", String(20), nullable=False),
    Column("lost_reason", String(500), nullable=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("won_at", UTCDateTime, nullable=True),
    Column("lost_at", UTCDateTime, nullable=True),
    Column("search_text", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_opportunities_name_id", "name", "id"),
    Index("ix_opportunities_updated_at_id", "updated_at", "id"),
)

STAGE_EVENTS = (Opportunity.StageChanged, Opportunity.Won, Opportunity.Lost, Opportunity.Reopened)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


class OpportunitiesProjection(FollowsAccountOwners):
    name = "opportunities"
    tables = (opportunities, opportunity_account_owners)
    account_owners = opportunity_account_owners
    owner_columns = (opportunities.c.account_owner_id,)

    @handles(Opportunity.Created)
    def created(self, conn: Connection, e: Any, position: int) -> None:
        account_owner_id = conn.execute(
            select(opportunity_account_owners.c.owner_id).where(
                opportunity_account_owners.c.account_id == e.account_id
            )
        ).scalar_one()
        insert_row(
            conn,
            opportunities,
            dict(
                id=str(e.originator_id),
                account_id=e.account_id,
                account_owner_id=account_owner_id,
                owner_id=e.owner_id,
                name=e.name,
                amount=e.amount,
                currency=e.currency,
                expected_close_date=e.expected_close_date,
                product_id=e.product_id,
                stage=e.stage,
                opened_at=business_time(e),
                search_text=e.name.lower()[:200],
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(Opportunity.CustomFieldsChanged)
    def opportunity_custom_fields(self, conn: Connection, e: Any, position: int) -> None:
        """The values live in the custom_fields read model; here only the version moves."""
        conn.execute(
            update(opportunities)
            .where(opportunities.c.id == str(e.originator_id))
            .values(**_stamp(e, position))
        )

    @handles(Opportunity.DetailsChanged)
    def details_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = dict(e.changes)
        if "name" in values:
            values["search_text"] = values["name"].lower()[:200]
        conn.execute(
            update(opportunities)
            .where(opportunities.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )

    @handles(*STAGE_EVENTS)
    def stage_changed(self, conn: Connection, e: Any, position: int) -> None:
        values: dict[str, Any] = {"stage": e.to_stage}
        if isinstance(e, Opportunity.Won):
            values["won_at"] = business_time(e)
        elif isinstance(e, Opportunity.Lost):
            values.update(lost_at=business_time(e), lost_reason=e.reason)
        elif isinstance(e, Opportunity.Reopened):
            values.update(lost_at=None, lost_reason=None)
        conn.execute(
            update(opportunities)
            .where(opportunities.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )


OPPORTUNITY_SORTS = ("name", "created_at", "updated_at", "expected_close_date")
OPPORTUNITY_COLUMNS = tuple(
    c.name for c in opportunities.c if c.name not in ("search_text", "position", "account_owner_id")
)


def list_opportunities(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    owner_id: str | None = None,
    account_id: str | None = None,
    stage: str | None = None,
    q: str | None = None,
    updated_since: datetime | None = None,
    custom: CustomFieldQuery | None = None,
) -> Page:
    """Visible by the account's owner; `owner_id` filters on the opportunity's own owner."""
    stmt = select(*[opportunities.c[n] for n in OPPORTUNITY_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(opportunities.c.account_owner_id.in_(sorted(visible_owners)))
    if owner_id:
        stmt = stmt.where(opportunities.c.owner_id == owner_id)
    if account_id:
        stmt = stmt.where(opportunities.c.account_id == account_id)
    if stage:
        stmt = stmt.where(opportunities.c.stage == stage)
    if updated_since:
        stmt = stmt.where(opportunities.c.updated_at >= updated_since)
    if q:
        stmt = stmt.where(opportunities.c.search_text.like(like_pattern(q), escape="\\"))
    columns: dict[str, Any] = dict(opportunities.c)
    if custom is not None:
        stmt, columns = custom.narrow(stmt, opportunities.c.id, sort, columns)
    return keyset_page(conn, stmt, columns, sort, cursor, limit)


# the funnel

FUNNEL_STAGES = (QUALIFICATION, PROPOSAL, NEGOTIATION, WON)
"""The stages whose first reaching is kept; an opportunity reaches a stage when it enters it
or any later one (won is beyond negotiation; lost is not a stage reached)."""

funnel_opportunities = Table(
    "funnel_opportunities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("created_month", String(7), nullable=False),
    Column("qualification_at", UTCDateTime, nullable=True),
    Column("proposal_at", UTCDateTime, nullable=True),
    Column("negotiation_at", UTCDateTime, nullable=True),
    Column("won_at", UTCDateTime, nullable=True),
    Column("lost_at", UTCDateTime, nullable=True),
    Column("cycle_seconds", BigInteger, nullable=True),
)

_ORDER = {stage: i for i, stage in enumerate((PROSPECTING, *FUNNEL_STAGES))}


def _reached(stage: str, at: datetime, current: dict[str, Any] | None) -> dict[str, Any]:
    """The first-reached times after entering `stage` at `at`: that stage and every earlier
    funnel stage not reached before `at`."""
    values: dict[str, Any] = {}
    if stage not in _ORDER:
        return values
    for earlier in FUNNEL_STAGES:
        if _ORDER[earlier] > _ORDER[stage]:
            break
        known = current.get(f"{earlier}_at") if current else None
        if known is None or at < known:
            values[f"{earlier}_at"] = at
    return values


class FunnelProjection(Projection):
    name = "funnel"
    tables = (funnel_opportunities,)

    @handles(Opportunity.Created)
    def created(self, conn: Connection, e: Any, position: int) -> None:
        at = business_time(e)
        insert_row(
            conn,
            funnel_opportunities,
            dict(
                id=str(e.originator_id),
                owner_id=e.owner_id,
                currency=e.currency,
                amount=e.amount,
                stage=e.stage,
                created_at=at,
                created_month=f"{at.year:04d}-{at.month:02d}",
                **_reached(e.stage, at, None),
            ),
        )

    @handles(Opportunity.DetailsChanged)
    def details_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = {k: v for k, v in e.changes.items() if k in ("owner_id", "currency", "amount")}
        if values:
            conn.execute(
                update(funnel_opportunities)
                .where(funnel_opportunities.c.id == str(e.originator_id))
                .values(**values)
            )

    @handles(*STAGE_EVENTS)
    def stage_changed(self, conn: Connection, e: Any, position: int) -> None:
        opportunity_id = str(e.originator_id)
        current = dict(
            conn.execute(
                select(funnel_opportunities).where(funnel_opportunities.c.id == opportunity_id)
            )
            .one()
            ._mapping
        )
        at = business_time(e)
        values: dict[str, Any] = {"stage": e.to_stage, **_reached(e.to_stage, at, current)}
        if isinstance(e, Opportunity.Won):
            values["cycle_seconds"] = int((at - current["created_at"]).total_seconds())
        elif isinstance(e, Opportunity.Lost):
            values["lost_at"] = at
        elif isinstance(e, Opportunity.Reopened):
            values["lost_at"] = None
        conn.execute(
            update(funnel_opportunities)
            .where(funnel_opportunities.c.id == opportunity_id)
            .values(**values)
        )


FUNNEL_GROUPS = ("total", "rep", "month")
STEPS = (
    (PROSPECTING, QUALIFICATION),
    (QUALIFICATION, PROPOSAL),
    (PROPOSAL, NEGOTIATION),
    (NEGOTIATION, WON),
)


def _ratio(part: int, whole: int, places: int = 4) -> float | None:
    return round(part / whole, places) if whole else None


def funnel(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    group_by: str,
    cursor: str | None,
    limit: int,
    start: date | None = None,
    end: date | None = None,
    owner_id: str | None = None,
) -> Page:
    """Per group and currency, over the cohort created in [start, end): how many (and how
    much) reached each stage, the conversions between stages, win rate and cycle length."""
    f = funnel_opportunities.c
    group: Any = {
        "total": literal_column("'total'", String),
        "rep": f.owner_id,
        "month": f.created_month,
    }[group_by]
    counts = {PROSPECTING: func.count()}
    amounts = {PROSPECTING: func.sum(f.amount)}
    for stage in FUNNEL_STAGES:
        reached = f[f"{stage}_at"].isnot(None)
        counts[stage] = func.sum(case((reached, 1), else_=0))
        amounts[stage] = func.sum(case((reached, f.amount), else_=0))
    counts[LOST] = func.sum(case((f.stage == LOST, 1), else_=0))
    amounts[LOST] = func.sum(case((f.stage == LOST, f.amount), else_=0))
    stmt = select(
        group.label("grp"),
        f.currency.label("currency"),
        (group + ":" + f.currency).label("id"),
        *[c.label(f"n_{stage}") for stage, c in counts.items()],
        *[a.label(f"a_{stage}") for stage, a in amounts.items()],
        func.sum(f.cycle_seconds).label("cycle_seconds"),
    )
    if visible_owners is not None:
        stmt = stmt.where(f.owner_id.in_(sorted(visible_owners)))
    if owner_id:
        stmt = stmt.where(f.owner_id == owner_id)
    if start is not None:
        stmt = stmt.where(f.created_at >= datetime.combine(start, time(), tzinfo=UTC))
    if end is not None:
        stmt = stmt.where(f.created_at < datetime.combine(end, time(), tzinfo=UTC))
    keys = [f.currency] if group_by == "total" else [group, f.currency]
    grouped = stmt.group_by(*keys).subquery()
    sort = Sort.parse("grp,currency", ("grp", "currency"), "grp,currency")
    page = keyset_page(conn, select(grouped), dict(grouped.c), sort, cursor, limit)
    rows = [
        {
            **_funnel_row(group_by, row),
            "cursor": encode_cursor(sort, [row[k] for k, _ in sort.keys]),
        }
        for row in page.rows
    ]
    return Page(rows, page.next_cursor)


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _funnel_row(group_by: str, row: dict[str, Any]) -> dict[str, Any]:
    stages = (PROSPECTING, *FUNNEL_STAGES, LOST)
    counts = {stage: int(row[f"n_{stage}"] or 0) for stage in stages}
    won, lost = counts[WON], counts[LOST]
    cycle = row["cycle_seconds"]
    return {
        "group": row["grp"],
        "owner_id": row["grp"] if group_by == "rep" else None,
        "month": row["grp"] if group_by == "month" else None,
        "currency": row["currency"],
        "counts": counts,
        "amounts": {stage: _money(row[f"a_{stage}"]) for stage in stages},
        "conversion": {f"{a}_to_{b}": _ratio(counts[b], counts[a]) for a, b in STEPS},
        "win_rate": _ratio(won, won + lost),
        "avg_cycle_days": round(int(cycle) / won / 86400, 2) if won and cycle is not None else None,
    }
