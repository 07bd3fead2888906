"""Read models of the service area.

`ServiceProjection`: assets and service requests (filtered by the ACCOUNT's owner, kept here
from the account events; the request's SLA due times are indexed columns so a watcher can pick
due rows cheaply), SLA policies, routing rules, queues and their members, and the outbox of
customer emails (`service_outbox`; the mailer keeps its attempts in `service_email_deliveries`,
which nothing else writes).

`ServiceAnalyticsProjection`: aggregates updated per event (requests per product and kind per
month, the service KPIs per month, duration histograms, complaints and installed assets), so
answers read a few aggregate rows and never the history.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    or_,
    select,
    true,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import ERASED, Contact
from crm_api.domain.assets import Asset
from crm_api.domain.opportunities import business_time
from crm_api.domain.routing import Queue, Route, RoutingRule
from crm_api.domain.service import KINDS, ServiceRequest, SlaPolicy
from crm_api.projections.base import handles, insert_row, upsert
from crm_api.projections.custom_fields import CustomFieldQuery
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, encode_cursor, keyset_page

service_account_owners = account_owners_table("service_account_owners")

assets = Table(
    "assets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("serial_number", String(100), nullable=False, index=True),
    Column("asset_number", String(100), nullable=True),
    Column("model", String(200), nullable=True),
    Column("product_id", String(36), nullable=True, index=True),
    Column("manufacturer", String(200), nullable=True),
    Column("install_date", String(10), nullable=True),
    Column("warranty_end", String(10), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_assets_created_at_id", "created_at", "id"),
)

service_requests = Table(
    "service_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("asset_id", String(36), nullable=True, index=True),
    Column("product_id", String(36), nullable=True),
    Column("contact_id", String(36), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("state", String(30), nullable=False, index=True),
    Column("assignee_id", String(36), nullable=True, index=True),
    Column("queue_id", String(36), nullable=True, index=True),
    Column("routed_by_rule_id", String(36), nullable=True),
    Column("reopen_count", Integer, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("first_responded_at", UTCDateTime, nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("first_response_due_at", UTCDateTime, nullable=True, index=True),
    Column("resolve_due_at", UTCDateTime, nullable=True, index=True),
    Column("paused_since", UTCDateTime, nullable=True),
    Column("paused_seconds", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_service_requests_created_at_id", "created_at", "id"),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("priority", String(10), nullable=False, unique=True),
    Column("terms", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

routing_rules = Table(
    "routing_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("assignee_id", String(36), nullable=True),
    Column("queue_id", String(36), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

service_queues = Table(
    "service_queues",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("member_ids", JSON, nullable=False),
    Column("last_picked", String(36), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

service_queue_members = Table(
    "service_queue_members",
    metadata,
    Column("queue_id", String(36), primary_key=True),
    Column("user_id", String(36), primary_key=True, index=True),
)

service_outbox = Table(
    "service_outbox",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("contact_id", String(36), nullable=True, index=True),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("position", BigInteger, nullable=False),
)

service_email_deliveries = Table(
    "service_email_deliveries",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(500), nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True, index=True),
    Column("updated_at", UTCDateTime, nullable=False),
)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


def _admin_stamp(event: Any) -> dict[str, Any]:
    return {"version": event.originator_version, "updated_at": event.timestamp}


def _iso(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


REQUEST_STATE_EVENTS = (
    ServiceRequest.Routed,
    ServiceRequest.Assigned,
    ServiceRequest.Started,
    ServiceRequest.WaitingOnCustomer,
    ServiceRequest.Resumed,
    ServiceRequest.Resolved,
    ServiceRequest.Closed,
    ServiceRequest.Reopened,
)


class ServiceProjection(FollowsAccountOwners):
    name = "service"
    tables = (
        service_account_owners,
        assets,
        service_requests,
        sla_policies,
        routing_rules,
        service_queues,
        service_queue_members,
        service_outbox,
    )
    # visibility through the account's owner (kept by FollowsAccountOwners)
    account_owners = service_account_owners
    owner_columns = (assets.c.account_owner_id, service_requests.c.account_owner_id)

    # assets

    @handles(Asset.Registered)
    def asset_registered(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            assets,
            dict(
                id=str(e.originator_id),
                account_id=e.account_id,
                account_owner_id=self.owner_of(conn, e.account_id),
                serial_number=e.serial_number,
                asset_number=e.asset_number,
                model=e.model,
                product_id=e.product_id,
                manufacturer=e.manufacturer,
                install_date=_iso(e.install_date),
                warranty_end=_iso(e.warranty_end),
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(Asset.DetailsChanged)
    def asset_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = {k: _iso(v) for k, v in e.changes.items()}
        if "account_id" in values:
            values["account_owner_id"] = self.owner_of(conn, values["account_id"])
        conn.execute(
            update(assets)
            .where(assets.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )

    @handles(Asset.CustomFieldsChanged)
    def asset_custom_fields(self, conn: Connection, e: Any, position: int) -> None:
        """The values live in the custom_fields read model; here only the version moves."""
        conn.execute(
            update(assets).where(assets.c.id == str(e.originator_id)).values(**_stamp(e, position))
        )

    # service requests

    @handles(ServiceRequest.Opened)
    def request_opened(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            service_requests,
            dict(
                id=str(e.originator_id),
                account_id=e.account_id,
                account_owner_id=self.owner_of(conn, e.account_id),
                asset_id=e.asset_id,
                product_id=e.product_id,
                contact_id=e.contact_id,
                kind=e.kind,
                channel=e.channel,
                priority=e.priority,
                subject=e.subject[:300],
                state="new",
                reopen_count=0,
                opened_at=business_time(e),
                first_response_due_at=e.first_response_due_at,
                resolve_due_at=e.resolve_due_at,
                paused_seconds=0.0,
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(*REQUEST_STATE_EVENTS)
    def request_state_changed(self, conn: Connection, e: Any, position: int) -> None:
        at = business_time(e)
        values: dict[str, Any] = {"state": e.to_state}
        name = type(e).__name__
        if name in ("Routed", "Assigned"):
            values["assignee_id"] = getattr(e, "assignee_id", None) or getattr(
                e, "to_assignee_id", None
            )
            values["queue_id"] = getattr(e, "queue_id", None) or getattr(e, "to_queue_id", None)
            if name == "Routed":
                values["routed_by_rule_id"] = e.rule_id
        elif name == "WaitingOnCustomer":
            values["paused_since"] = at
        elif name == "Resumed":
            values.update(
                paused_since=None,
                paused_seconds=e.paused_seconds,
                first_response_due_at=e.first_response_due_at,
                resolve_due_at=e.resolve_due_at,
            )
        elif name == "Resolved":
            values["resolved_at"] = at
        elif name == "Closed":
            values["closed_at"] = at
            values["resolved_at"] = func.coalesce(service_requests.c.resolved_at, at)
        elif name == "Reopened":
            values.update(
                resolved_at=None,
                closed_at=None,
                resolve_due_at=e.resolve_due_at,
                reopen_count=service_requests.c.reopen_count + 1,
            )
        if name == "Started":
            values["first_responded_at"] = func.coalesce(service_requests.c.first_responded_at, at)
        self._update_request(conn, e, position, values)

    @handles(ServiceRequest.Replied)
    def request_replied(self, conn: Connection, e: Any, position: int) -> None:
        values = {
            "first_responded_at": func.coalesce(
                service_requests.c.first_responded_at, business_time(e)
            )
        }
        self._update_request(conn, e, position, values)

    @handles(ServiceRequest.NoteAdded, ServiceRequest.Evaluated, ServiceRequest.CustomFieldsChanged)
    def request_touched(self, conn: Connection, e: Any, position: int) -> None:
        self._update_request(conn, e, position, {})

    @handles(ServiceRequest.CustomerNotified)
    def customer_notified(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            service_outbox,
            dict(
                message_id=e.message_id,
                request_id=str(e.originator_id),
                contact_id=e.contact_id,
                recipient=e.to,
                subject=e.subject[:500],
                body=e.body,
                created_at=e.timestamp,
                position=position,
            ),
        )
        self._update_request(conn, e, position, {})

    @handles(Contact.Erased)
    def contact_erased(self, conn: Connection, e: Any, position: int) -> None:
        """Messages to an erased contact keep their record but not its address or text (the
        events read the same once the contact's key is gone); unsent ones are never sent."""
        conn.execute(
            update(service_outbox)
            .where(service_outbox.c.contact_id == str(e.originator_id))
            .values(recipient=ERASED, body=ERASED)
        )

    def _update_request(
        self, conn: Connection, e: Any, position: int, values: dict[str, Any]
    ) -> None:
        conn.execute(
            update(service_requests)
            .where(service_requests.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )

    # administration

    @handles(SlaPolicy.Defined)
    def policy_defined(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            sla_policies,
            dict(
                id=str(e.originator_id),
                priority=e.priority,
                terms=e.terms,
                created_at=e.timestamp,
                **_admin_stamp(e),
            ),
        )

    @handles(SlaPolicy.TermsChanged)
    def policy_changed(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(sla_policies)
            .where(sla_policies.c.id == str(e.originator_id))
            .values(terms=e.terms, **_admin_stamp(e))
        )

    @handles(RoutingRule.Defined)
    def rule_defined(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            routing_rules,
            dict(
                id=str(e.originator_id),
                name=e.name,
                position=e.position,
                conditions=e.conditions,
                assignee_id=e.assignee_id,
                queue_id=e.queue_id,
                active=True,
                created_at=e.timestamp,
                **_admin_stamp(e),
            ),
        )

    @handles(RoutingRule.Changed, RoutingRule.Retired)
    def rule_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = dict(getattr(e, "changes", {"active": False}))
        conn.execute(
            update(routing_rules)
            .where(routing_rules.c.id == str(e.originator_id))
            .values(**values, **_admin_stamp(e))
        )

    @handles(Queue.Formed)
    def queue_formed(self, conn: Connection, e: Any, position: int) -> None:
        queue_id = str(e.originator_id)
        insert_row(
            conn,
            service_queues,
            dict(
                id=queue_id,
                name=e.name,
                member_ids=e.member_ids,
                created_at=e.timestamp,
                **_admin_stamp(e),
            ),
        )
        self._members(conn, queue_id, e.member_ids)

    @handles(Queue.Changed, Queue.MemberPicked)
    def queue_changed(self, conn: Connection, e: Any, position: int) -> None:
        queue_id = str(e.originator_id)
        values = dict(getattr(e, "changes", {}))
        if "member_ids" in values:
            self._members(conn, queue_id, values["member_ids"])
        if isinstance(e, Queue.MemberPicked):
            values["last_picked"] = e.member_id
        conn.execute(
            update(service_queues)
            .where(service_queues.c.id == queue_id)
            .values(**values, **_admin_stamp(e))
        )

    def _members(self, conn: Connection, queue_id: str, member_ids: list[str]) -> None:
        conn.execute(
            service_queue_members.delete().where(service_queue_members.c.queue_id == queue_id)
        )
        if member_ids:
            conn.execute(
                service_queue_members.insert(),
                [{"queue_id": queue_id, "user_id": member} for member in member_ids],
            )


# queries: lists


def _page(
    conn: Connection,
    table: Table,
    columns: list[str],
    conditions: list[Any],
    sort: Sort,
    cursor: str | None,
    limit: int,
    custom: CustomFieldQuery | None = None,
) -> Page:
    stmt = select(*[table.c[n] for n in columns]).where(and_(true(), *conditions))
    keys: dict[str, Any] = dict(table.c)
    if custom is not None:
        stmt, keys = custom.narrow(stmt, table.c.id, sort, keys)
    return keyset_page(conn, stmt, keys, sort, cursor, limit)


ASSET_SORTS = ("created_at", "updated_at", "serial_number")
ASSET_COLUMNS = [c.name for c in assets.c if c.name not in ("account_owner_id", "position")]


def list_assets(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    product_id: str | None = None,
    serial_number: str | None = None,
    custom: CustomFieldQuery | None = None,
) -> Page:
    c = assets.c
    conditions: list[Any] = []
    if visible_owners is not None:
        conditions.append(c.account_owner_id.in_(sorted(visible_owners)))
    if account_id:
        conditions.append(c.account_id == account_id)
    if product_id:
        conditions.append(c.product_id == product_id)
    if serial_number:
        conditions.append(c.serial_number == serial_number)
    return _page(conn, assets, ASSET_COLUMNS, conditions, sort, cursor, limit, custom)


REQUEST_SORTS = ("created_at", "updated_at", "opened_at", "priority")
REQUEST_COLUMNS = [
    c.name for c in service_requests.c if c.name not in ("account_owner_id", "position")
]


def list_requests(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    agent_id: str | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    filters: dict[str, Any],
    custom: CustomFieldQuery | None = None,
) -> Page:
    """Visible by the account's owner, or (`agent_id`, a service agent) by assignment: to the
    agent, or to a queue it is a member of. `filters`: equality on request columns."""
    c = service_requests.c
    conditions: list[Any] = [c[name] == value for name, value in filters.items() if value]
    if visible_owners is not None:
        conditions.append(c.account_owner_id.in_(sorted(visible_owners)))
    if agent_id is not None:
        queues = select(service_queue_members.c.queue_id).where(
            service_queue_members.c.user_id == agent_id
        )
        conditions.append(or_(c.assignee_id == agent_id, c.queue_id.in_(queues)))
    return _page(conn, service_requests, REQUEST_COLUMNS, conditions, sort, cursor, limit, custom)


ADMIN_SORTS = ("created_at", "updated_at")


def list_policies(conn: Connection, sort: Sort, cursor: str | None, limit: int) -> Page:
    return _page(conn, sla_policies, [c.name for c in sla_policies.c], [], sort, cursor, limit)


def list_rules(
    conn: Connection, sort: Sort, cursor: str | None, limit: int, active: bool | None
) -> Page:
    conditions = [] if active is None else [routing_rules.c.active == active]
    columns = [c.name for c in routing_rules.c]
    return _page(conn, routing_rules, columns, conditions, sort, cursor, limit)


def list_queues(conn: Connection, sort: Sort, cursor: str | None, limit: int) -> Page:
    return _page(conn, service_queues, [c.name for c in service_queues.c], [], sort, cursor, limit)


def active_routes(conn: Connection) -> list[Route]:
    rows = conn.execute(select(routing_rules).where(routing_rules.c.active.is_(True)))
    return [Route(r.id, r.position, dict(r.conditions), r.assignee_id, r.queue_id) for r in rows]


# queries: the outbox (for the mailer)


def due_messages(conn: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Messages never tried, or whose retry is due, oldest first."""
    o, d = service_outbox.c, service_email_deliveries.c
    stmt = (
        select(
            o.message_id,
            o.recipient.label("to"),
            o.subject,
            o.body,
            func.coalesce(d.attempts, 0).label("attempts"),
        )
        .select_from(
            service_outbox.outerjoin(service_email_deliveries, d.message_id == o.message_id)
        )
        .where(or_(d.message_id.is_(None), and_(d.status == "retrying", d.next_attempt_at <= now)))
        .where(o.recipient != ERASED)
        .order_by(o.position)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def record_delivery(
    conn: Connection,
    message_id: str,
    status: str,
    attempts: int,
    error: str | None,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    upsert(
        conn,
        service_email_deliveries,
        {
            "message_id": message_id,
            "status": status,
            "attempts": attempts,
            "last_error": error,
            "next_attempt_at": next_attempt_at,
            "updated_at": now,
        },
        ["message_id"],
    )


# analytics

service_kpi_requests = Table(
    "service_kpi_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("owner_id", String(36), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("first_response_due_at", UTCDateTime, nullable=True),
    Column("resolve_due_at", UTCDateTime, nullable=True),
    Column("first_responded", Boolean, nullable=False),
)

service_by_product = Table(
    "service_by_product",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    Column("product_key", String(450), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("product_id", String(36), nullable=True),
    Column("manufacturer", String(200), nullable=True),
    Column("model", String(200), nullable=True),
    Column("requests", Integer, nullable=False),
)

KPI_COUNTERS = (
    "opened",
    "complaints",
    "first_responses",
    "first_response_seconds",
    "first_response_met",
    "first_response_breached",
    "resolutions",
    "resolution_seconds",
    "resolution_met",
    "resolution_breached",
    "evaluations",
    "score_sum",
    "satisfied",
    "reopens",
)

service_kpis = Table(
    "service_kpis",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    *[Column(name, BigInteger, nullable=False, server_default="0") for name in KPI_COUNTERS],
)

DURATION_BUCKETS = (
    60,
    300,
    900,
    1800,
    3600,
    7200,
    14400,
    28800,
    86400,
    172800,
    432000,
    864000,
    2592000,
    2**62,
)
"""Upper bounds (seconds) of the duration histogram's buckets: the p50 is read from it."""

service_kpi_durations = Table(
    "service_kpi_durations",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    Column("metric", String(20), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

service_analytics_accounts = account_owners_table("service_analytics_accounts")

service_analytics_assets = Table(
    "service_analytics_assets",
    metadata,
    Column("asset_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("owner_id", String(36), nullable=False),
    Column("product_id", String(36), nullable=True),
    Column("manufacturer", String(200), nullable=True),
    Column("model", String(200), nullable=True),
)

service_complaint_counts = Table(
    "service_complaint_counts",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("key", String(36), primary_key=True),
    Column("complaints", BigInteger, nullable=False),
)

service_asset_totals = Table(
    "service_asset_totals",
    metadata,
    Column("owner_id", String(36), primary_key=True),
    Column("scope", String(10), primary_key=True),
    Column("key", String(36), primary_key=True),
    Column("assets", BigInteger, nullable=False),
)

COMPLAINT_SCOPES = ("product", "account")


def _month(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def _bump(conn: Connection, table: Table, keys: dict[str, Any], column: str, by: int = 1) -> None:
    """Add `by` to a counter of the aggregate row `keys`, creating the row at need."""
    done = conn.execute(
        update(table)
        .where(and_(*[table.c[k] == v for k, v in keys.items()]))
        .values({column: table.c[column] + by})
    )
    if done.rowcount == 0:
        insert_row(conn, table, dict(**keys, **{column: by}))


def _bucket(seconds: float) -> int:
    return next(b for b in DURATION_BUCKETS if seconds <= b)


def _product_key(asset: dict[str, Any] | None) -> dict[str, Any]:
    """Requests count per product; per manufacturer and model for foreign assets."""
    if asset is None:
        return {"product_key": "none", "product_id": None, "manufacturer": None, "model": None}
    if asset["product_id"]:
        key = f"product:{asset['product_id']}"
        return {
            "product_key": key,
            "product_id": asset["product_id"],
            "manufacturer": None,
            "model": None,
        }
    return {
        "product_key": f"model:{asset['manufacturer']}/{asset['model']}"[:450],
        "product_id": None,
        "manufacturer": asset["manufacturer"],
        "model": asset["model"],
    }


def _asset_keys(asset: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [("account", asset["account_id"])]
    if asset["product_id"]:
        keys.append(("product", asset["product_id"]))
    return keys


class ServiceAnalyticsProjection(FollowsAccountOwners):
    name = "service_analytics"
    tables = (
        service_analytics_accounts,
        service_analytics_assets,
        service_kpi_requests,
        service_by_product,
        service_kpis,
        service_kpi_durations,
        service_complaint_counts,
        service_asset_totals,
    )

    # counts stay with the owner at the time a request was opened (no owner_columns)
    account_owners = service_analytics_accounts

    def _count_asset(self, conn: Connection, asset: dict[str, Any], by: int) -> None:
        for scope, key in _asset_keys(asset):
            _bump(
                conn,
                service_asset_totals,
                {"owner_id": asset["owner_id"], "scope": scope, "key": key},
                "assets",
                by,
            )

    @handles(Asset.Registered)
    def asset_registered(self, conn: Connection, e: Any, position: int) -> None:
        asset = {
            "asset_id": str(e.originator_id),
            "account_id": e.account_id,
            "owner_id": self.owner_of(conn, e.account_id),
            "product_id": e.product_id,
            "manufacturer": e.manufacturer,
            "model": e.model,
        }
        insert_row(conn, service_analytics_assets, dict(**asset))
        self._count_asset(conn, asset, 1)

    @handles(Asset.DetailsChanged)
    def asset_changed(self, conn: Connection, e: Any, position: int) -> None:
        changes = {
            k: v
            for k, v in e.changes.items()
            if k in ("account_id", "product_id", "manufacturer", "model")
        }
        if not changes:
            return
        before = self._asset(conn, str(e.originator_id))
        assert before is not None
        after = {**before, **changes}
        if "account_id" in changes:
            after["owner_id"] = self.owner_of(conn, changes["account_id"])
        self._count_asset(conn, before, -1)
        self._count_asset(conn, after, 1)
        conn.execute(
            update(service_analytics_assets)
            .where(service_analytics_assets.c.asset_id == before["asset_id"])
            .values(**{k: v for k, v in after.items() if k != "asset_id"})
        )

    def _asset(self, conn: Connection, asset_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            select(service_analytics_assets).where(service_analytics_assets.c.asset_id == asset_id)
        ).first()
        return dict(row._mapping) if row else None

    def _request(self, conn: Connection, request_id: str) -> dict[str, Any]:
        return dict(
            conn.execute(
                select(service_kpi_requests).where(service_kpi_requests.c.id == request_id)
            )
            .one()
            ._mapping
        )

    @handles(ServiceRequest.Opened)
    def request_opened(self, conn: Connection, e: Any, position: int) -> None:
        at = business_time(e)
        owner = self.owner_of(conn, e.account_id)
        month = _month(at)
        insert_row(
            conn,
            service_kpi_requests,
            dict(
                id=str(e.originator_id),
                month=month,
                owner_id=owner,
                opened_at=at,
                first_response_due_at=e.first_response_due_at,
                resolve_due_at=e.resolve_due_at,
                first_responded=False,
            ),
        )
        asset = self._asset(conn, e.asset_id) if e.asset_id else None
        product = _product_key(asset)
        keys = {"month": month, "owner_id": owner, "kind": e.kind, **product}
        _bump(conn, service_by_product, keys, "requests")
        kpis = {"month": month, "owner_id": owner}
        _bump(conn, service_kpis, kpis, "opened")
        if e.kind == "complaint":
            _bump(conn, service_kpis, kpis, "complaints")
            scopes = [("account", e.account_id)]
            if e.product_id:
                scopes.append(("product", e.product_id))
            for scope, key in scopes:
                _bump(
                    conn,
                    service_complaint_counts,
                    {**kpis, "scope": scope, "key": key},
                    "complaints",
                )

    def _measure(
        self, conn: Connection, request: dict[str, Any], metric: str, at: datetime, due: Any
    ) -> None:
        kpis = {"month": request["month"], "owner_id": request["owner_id"]}
        seconds = max(int((at - request["opened_at"]).total_seconds()), 0)
        _bump(conn, service_kpis, kpis, f"{metric}s")
        _bump(conn, service_kpis, kpis, f"{metric}_seconds", seconds)
        if due is not None:
            _bump(conn, service_kpis, kpis, f"{metric}_met" if at <= due else f"{metric}_breached")
        _bump(
            conn,
            service_kpi_durations,
            {**kpis, "metric": metric, "bucket": _bucket(seconds)},
            "count",
        )

    @handles(ServiceRequest.Started, ServiceRequest.Replied)
    def first_response(self, conn: Connection, e: Any, position: int) -> None:
        request = self._request(conn, str(e.originator_id))
        if request["first_responded"]:
            return
        self._measure(
            conn, request, "first_response", business_time(e), request["first_response_due_at"]
        )
        conn.execute(
            update(service_kpi_requests)
            .where(service_kpi_requests.c.id == request["id"])
            .values(first_responded=True)
        )

    @handles(ServiceRequest.Resumed, ServiceRequest.Reopened)
    def due_moved(self, conn: Connection, e: Any, position: int) -> None:
        request_id = str(e.originator_id)
        conn.execute(
            update(service_kpi_requests)
            .where(service_kpi_requests.c.id == request_id)
            .values(resolve_due_at=e.resolve_due_at)
        )
        if isinstance(e, ServiceRequest.Reopened):
            request = self._request(conn, request_id)
            _bump(
                conn,
                service_kpis,
                {"month": request["month"], "owner_id": request["owner_id"]},
                "reopens",
            )

    @handles(ServiceRequest.Resolved)
    def resolved(self, conn: Connection, e: Any, position: int) -> None:
        request = self._request(conn, str(e.originator_id))
        self._measure(conn, request, "resolution", business_time(e), request["resolve_due_at"])

    @handles(ServiceRequest.Evaluated)
    def evaluated(self, conn: Connection, e: Any, position: int) -> None:
        request = self._request(conn, str(e.originator_id))
        kpis = {"month": request["month"], "owner_id": request["owner_id"]}
        _bump(conn, service_kpis, kpis, "evaluations")
        _bump(conn, service_kpis, kpis, "score_sum", e.score)
        if e.satisfied:
            _bump(conn, service_kpis, kpis, "satisfied")


# analytics queries


def _period(column: Any, start: date | None, end: date | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= _month(datetime.combine(start, time(), tzinfo=UTC)))
    if end is not None:
        conditions.append(column < _month(datetime.combine(end, time(), tzinfo=UTC)))
    return conditions


def _owners(column: Any, visible_owners: frozenset[str] | None) -> list[Any]:
    return [] if visible_owners is None else [column.in_(sorted(visible_owners))]


def service_by_product_page(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """Requests per product (per manufacturer and model for foreign assets; `none` without an
    asset), with counts by kind."""
    b = service_by_product.c
    kinds = {kind: func.sum(case((b.kind == kind, b.requests), else_=0)) for kind in KINDS}
    stmt = (
        select(
            b.product_key.label("id"),
            func.max(b.product_key).label("product_key"),
            func.max(b.product_id).label("product_id"),
            func.max(b.manufacturer).label("manufacturer"),
            func.max(b.model).label("model"),
            func.sum(b.requests).label("requests"),
            *[total.label(f"n_{kind}") for kind, total in kinds.items()],
        )
        .where(and_(true(), *_owners(b.owner_id, visible_owners), *_period(b.month, start, end)))
        .group_by(b.product_key)
    ).subquery()
    sort = Sort.parse("id", ("id",), "id")
    page = keyset_page(conn, select(stmt), dict(stmt.c), sort, cursor, limit)
    rows = [
        {
            "product_key": row["product_key"],
            "product_id": row["product_id"],
            "manufacturer": row["manufacturer"],
            "model": row["model"],
            "requests": int(row["requests"] or 0),
            "by_kind": {kind: int(row[f"n_{kind}"] or 0) for kind in KINDS},
            "cursor": encode_cursor(sort, [row["id"]]),
        }
        for row in page.rows
    ]
    return Page(rows, page.next_cursor)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _minutes(seconds: int, count: int) -> float | None:
    return round(seconds / count / 60, 1) if count else None


def _p50_minutes(histogram: dict[int, int]) -> float | None:
    """The upper bound of the bucket holding the median (an over-estimate by at most one
    bucket: see DURATION_BUCKETS); None for the open-ended last bucket."""
    total = sum(histogram.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen * 2 >= total:
            return None if bucket == DURATION_BUCKETS[-1] else round(bucket / 60, 1)
    return None


def service_kpis_summary(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    """The service KPIs of the requests opened in [start, end) (whole months)."""
    k = service_kpis.c
    row = conn.execute(
        select(*[func.coalesce(func.sum(k[name]), 0).label(name) for name in KPI_COUNTERS]).where(
            and_(true(), *_owners(k.owner_id, visible_owners), *_period(k.month, start, end))
        )
    ).one()
    n = {name: int(row._mapping[name]) for name in KPI_COUNTERS}
    d = service_kpi_durations.c
    histograms: dict[str, dict[int, int]] = {"first_response": {}, "resolution": {}}
    for metric, bucket, count in conn.execute(
        select(d.metric, d.bucket, func.sum(d.count))
        .where(and_(true(), *_owners(d.owner_id, visible_owners), *_period(d.month, start, end)))
        .group_by(d.metric, d.bucket)
    ):
        histograms[metric][int(bucket)] = int(count)
    return {
        "requests_opened": n["opened"],
        "complaints": n["complaints"],
        "first_response": {
            "count": n["first_responses"],
            "avg_minutes": _minutes(n["first_response_seconds"], n["first_responses"]),
            "p50_minutes": _p50_minutes(histograms["first_response"]),
            "sla_met": n["first_response_met"],
            "sla_breached": n["first_response_breached"],
            "sla_attainment_pct": _pct(
                n["first_response_met"], n["first_response_met"] + n["first_response_breached"]
            ),
        },
        "resolution": {
            "count": n["resolutions"],
            "avg_minutes": _minutes(n["resolution_seconds"], n["resolutions"]),
            "p50_minutes": _p50_minutes(histograms["resolution"]),
            "sla_met": n["resolution_met"],
            "sla_breached": n["resolution_breached"],
            "sla_attainment_pct": _pct(
                n["resolution_met"], n["resolution_met"] + n["resolution_breached"]
            ),
        },
        "satisfaction": {
            "evaluations": n["evaluations"],
            "avg_score": round(n["score_sum"] / n["evaluations"], 2) if n["evaluations"] else None,
            "satisfied_pct": _pct(n["satisfied"], n["evaluations"]),
        },
        "reopen_rate": _ratio(n["reopens"], n["resolutions"]),
    }


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def complaint_rates(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    scope: str,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """Per product or account: complaints opened in the period, installed assets now, and the
    complaint rate = complaints / assets (null without assets)."""
    c, t = service_complaint_counts.c, service_asset_totals.c
    complaints = (
        select(c.key.label("key"), func.sum(c.complaints).label("complaints"))
        .where(
            and_(
                c.scope == scope,
                *_owners(c.owner_id, visible_owners),
                *_period(c.month, start, end),
            )
        )
        .group_by(c.key)
        .subquery()
    )
    installed = (
        select(t.key.label("key"), func.sum(t.assets).label("assets"))
        .where(and_(t.scope == scope, *_owners(t.owner_id, visible_owners)))
        .group_by(t.key)
        .subquery()
    )
    joined = (
        select(
            complaints.c.key.label("id"),
            complaints.c.complaints,
            func.coalesce(installed.c.assets, 0).label("assets"),
        )
        .select_from(complaints.outerjoin(installed, installed.c.key == complaints.c.key))
        .subquery()
    )
    sort = Sort.parse("id", ("id",), "id")
    page = keyset_page(conn, select(joined), dict(joined.c), sort, cursor, limit)
    rows = []
    for row in page.rows:
        count, assets_count = int(row["complaints"]), int(row["assets"])
        rows.append(
            {
                "scope": scope,
                "id": row["id"],
                "complaints": count,
                "assets": assets_count,
                "complaint_rate": _ratio(count, assets_count),
                "cursor": encode_cursor(sort, [row["id"]]),
            }
        )
    return Page(rows, page.next_cursor)
