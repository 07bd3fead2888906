"""Read model of alerts, and the due-time tables the watchers pick their work from.

- `dormancy_due`: one row per account: its manual grade, its last activity (last order not
  cancelled, or its opening) and `pending_since` (= the last activity while no alert is open
  and the account is not archived; null otherwise). The watcher asks, per grade, for rows with
  `pending_since <= now - days(grade)` through the (grade, pending_since) index: the days come
  from settings at tick time, so changing them needs no rebuild.
- `sla_due`: per service request, target (first response, resolution) and level (warning at
  80 %, breach at 100 %), `threshold_at` and `due_at` (= threshold_at while the clock runs; null
  while paused, raised or done). The watcher asks for `due_at <= now` through its index.
- `alert_clearings`: open alerts whose cause ended (an order arrived, the request was answered
  or resolved); the watcher clears each and the Cleared event removes the row.

Each row carries the episode it belongs to; an alert raised for an episode that has already
ended (a tick that read a due row just before the order arrived) is queued for clearing at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import Account
from crm_api.domain.alerts import (
    ACCOUNT_DORMANT,
    FIRST_RESPONSE,
    RESOLUTION,
    SLA_BREACHED,
    SLA_WARNING,
    Alert,
    sla_warning_at,
)
from crm_api.domain.opportunities import business_time
from crm_api.domain.orders import Order
from crm_api.domain.service import ServiceRequest
from crm_api.domain.sla import SlaTerms
from crm_api.projections.base import Gathering, gathers, handles, insert_ignore, insert_row
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page

alert_account_owners = account_owners_table("alert_account_owners")

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("subject_type", String(20), nullable=False),
    Column("subject_id", String(36), nullable=False, index=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("assignee_id", String(36), nullable=True, index=True),
    Column("target", String(20), nullable=True),
    Column("threshold_at", UTCDateTime, nullable=False),
    Column("episode", Integer, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("cleared_at", UTCDateTime, nullable=True),
    Column("clear_reason", String(40), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_alerts_raised_at_id", "raised_at", "id"),
)

dormancy_due = Table(
    "dormancy_due",
    metadata,
    Column("account_id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("grade", String(1), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("last_activity_at", UTCDateTime, nullable=False),
    Column("pending_since", UTCDateTime, nullable=True),
    Column("archived", Boolean, nullable=False),
    Column("episode", Integer, nullable=False),
    Column("alert_id", String(36), nullable=True),
    Index("ix_dormancy_due_grade_pending", "grade", "pending_since"),
)

dormancy_orders = Table(
    "dormancy_orders",
    metadata,
    Column("order_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("ordered_at", UTCDateTime, nullable=False),
    Column("open", Boolean, nullable=False),
)

sla_due = Table(
    "sla_due",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("request_id", String(36), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("target", String(20), nullable=False),
    Column("account_id", String(36), nullable=False),
    Column("owner_id", String(36), nullable=False),
    Column("assignee_id", String(36), nullable=True),
    Column("episode", Integer, nullable=False),
    Column("threshold_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=True, index=True),
    Column("alert_id", String(36), nullable=True),
)

sla_requests = Table(
    "sla_requests",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("assignee_id", String(36), nullable=True),
    Column("terms", JSON, nullable=True),
    Column("first_responded", Boolean, nullable=False),
    Column("resolution_episode", Integer, nullable=False),
    Column("paused_since", UTCDateTime, nullable=True),
)

alert_clearings = Table(
    "alert_clearings",
    metadata,
    Column("alert_id", String(36), primary_key=True),
    Column("reason", String(40), nullable=False),
    Column("position", BigInteger, nullable=False, index=True),
)

NO_GRADE = ""


def _grade(value: str | None) -> str:
    return value or NO_GRADE


class AlertsProjection(Gathering, FollowsAccountOwners):
    name = "alerts"
    tables = (
        alerts,
        dormancy_due,
        dormancy_orders,
        sla_due,
        sla_requests,
        alert_clearings,
        alert_account_owners,
    )
    account_owners = alert_account_owners
    owner_columns = (alerts.c.owner_id, dormancy_due.c.owner_id, sla_due.c.owner_id)

    # alerts

    @handles(Alert.Raised)
    def alert_raised(self, conn: Connection, e: Any, position: int) -> None:
        alert_id = str(e.originator_id)
        insert_row(
            conn,
            alerts,
            dict(
                id=alert_id,
                kind=e.alert_kind,
                subject_type=e.subject_type,
                subject_id=e.subject_id,
                account_id=e.account_id,
                owner_id=self.owner_of(conn, e.account_id) or e.owner_id,
                assignee_id=e.assignee_id,
                target=e.target,
                threshold_at=e.threshold_at,
                episode=e.episode,
                raised_at=business_time(e),
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            ),
        )
        if e.alert_kind == ACCOUNT_DORMANT:
            table, key = dormancy_due, dormancy_due.c.account_id == e.subject_id
            still = conn.execute(
                update(table)
                .where(key, table.c.episode == e.episode, table.c.alert_id.is_(None))
                .values(alert_id=alert_id, pending_since=None)
                .returning(table.c.account_id)
            ).first()
        else:
            still = conn.execute(
                update(sla_due)
                .where(
                    sla_due.c.id == _sla_row_id(e.subject_id, e.target, e.alert_kind),
                    sla_due.c.episode == e.episode,
                    sla_due.c.alert_id.is_(None),
                )
                .values(alert_id=alert_id, due_at=None)
                .returning(sla_due.c.id)
            ).first()
            if still is not None and e.alert_kind == SLA_BREACHED:
                # A breach makes the warning of the same target moot if it never went out.
                conn.execute(
                    delete(sla_due).where(
                        sla_due.c.id == _sla_row_id(e.subject_id, e.target, SLA_WARNING),
                        sla_due.c.alert_id.is_(None),
                    )
                )
        if still is None:
            _queue_clearing(conn, alert_id, "episode_ended", position)

    @handles(Alert.Acknowledged)
    def alert_acknowledged(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(alerts)
            .where(alerts.c.id == str(e.originator_id))
            .values(
                acknowledged_by=e.meta.get("on_behalf_of") or e.meta["actor"],
                acknowledged_at=business_time(e),
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )

    @handles(Alert.Cleared)
    def alert_cleared(self, conn: Connection, e: Any, position: int) -> None:
        alert_id = str(e.originator_id)
        conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(
                cleared_at=business_time(e),
                clear_reason=e.reason[:40],
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )
        conn.execute(delete(alert_clearings).where(alert_clearings.c.alert_id == alert_id))

    # dormancy: accounts

    @handles(Account.Opened)
    def account_opened(self, conn: Connection, e: Any, position: int) -> None:
        super().account_opened(conn, e, position)
        opened_at = business_time(e)
        insert_row(
            conn,
            dormancy_due,
            dict(
                account_id=str(e.originator_id),
                owner_id=e.owner_id,
                grade=_grade(e.manual_grade),
                opened_at=opened_at,
                last_activity_at=opened_at,
                pending_since=opened_at,
                archived=False,
                episode=0,
                alert_id=None,
            ),
        )

    @handles(Account.DetailsChanged)
    def account_changed(self, conn: Connection, e: Any, position: int) -> None:
        if "manual_grade" not in e.changes:
            return
        row = _dormancy_row(conn, str(e.originator_id))
        # Another grade, another number of days: the episode starts over (and is raised again
        # at once if the account is dormant under its new grade too).
        _new_episode(
            conn,
            row,
            row.last_activity_at,
            "grade_changed",
            position,
            grade=e.changes["manual_grade"],
        )

    @handles(Account.Archived)
    def account_archived(self, conn: Connection, e: Any, position: int) -> None:
        row = _dormancy_row(conn, str(e.originator_id))
        _new_episode(conn, row, row.last_activity_at, "account_archived", position, archived=True)

    @handles(Account.Restored)
    def account_restored(self, conn: Connection, e: Any, position: int) -> None:
        row = _dormancy_row(conn, str(e.originator_id))
        _new_episode(conn, row, row.last_activity_at, "account_restored", position, archived=False)

    # dormancy: orders

    def write_gathered(self, conn: Connection, events: list[tuple[Any, int]]) -> None:
        conn.execute(
            dormancy_orders.insert(),
            [
                {
                    "order_id": str(e.originator_id),
                    "account_id": str(e.account_id),
                    "ordered_at": e.ordered_at,
                    "open": True,
                }
                for e, _ in events
            ],
        )
        arrivals: dict[str, list[tuple[datetime, int]]] = {}
        for e, position in events:
            arrivals.setdefault(str(e.account_id), []).append((e.ordered_at, position))
        _orders_arrived(conn, arrivals)

    @gathers(Order.Placed)
    def order_placed(self, conn: Connection, e: Any, position: int) -> None:
        self.gather(e, position)

    @handles(Order.Revised)
    def order_revised(self, conn: Connection, e: Any, position: int) -> None:
        if not {"account_id", "ordered_at"} & set(e.changed):
            return
        order_id = str(e.originator_id)
        before = conn.execute(
            select(dormancy_orders.c.account_id).where(dormancy_orders.c.order_id == order_id)
        ).scalar_one()
        conn.execute(
            update(dormancy_orders)
            .where(dormancy_orders.c.order_id == order_id)
            .values(account_id=str(e.account_id), ordered_at=e.ordered_at)
        )
        for account_id in sorted({before, str(e.account_id)}):
            _recount(conn, account_id, "order_placed", position)

    @handles(Order.Cancelled)
    def order_cancelled(self, conn: Connection, e: Any, position: int) -> None:
        order_id = str(e.originator_id)
        account_id = conn.execute(
            update(dormancy_orders)
            .where(dormancy_orders.c.order_id == order_id)
            .values(open=False)
            .returning(dormancy_orders.c.account_id)
        ).scalar_one()
        _recount(conn, account_id, "order_cancelled", position)

    # SLA: service requests

    @handles(ServiceRequest.Opened)
    def request_opened(self, conn: Connection, e: Any, position: int) -> None:
        request_id = str(e.originator_id)
        insert_row(
            conn,
            sla_requests,
            dict(
                request_id=request_id,
                account_id=e.account_id,
                assignee_id=None,
                terms=e.sla_terms,
                first_responded=False,
                resolution_episode=0,
                paused_since=None,
            ),
        )
        terms = SlaTerms.from_dict(e.sla_terms) if e.sla_terms else None
        owner_id = self.owner_of(conn, e.account_id)
        start = business_time(e)
        for target, due in (
            (FIRST_RESPONSE, e.first_response_due_at),
            (RESOLUTION, e.resolve_due_at),
        ):
            if due is not None:
                _schedule(
                    conn, request_id, e.account_id, owner_id, None, target, 0, terms, start, due
                )

    @handles(ServiceRequest.Routed)
    def request_routed(self, conn: Connection, e: Any, position: int) -> None:
        _reassign(conn, str(e.originator_id), e.assignee_id)

    @handles(ServiceRequest.Assigned)
    def request_assigned(self, conn: Connection, e: Any, position: int) -> None:
        _reassign(conn, str(e.originator_id), e.to_assignee_id)

    @handles(ServiceRequest.Started)
    def request_started(self, conn: Connection, e: Any, position: int) -> None:
        _first_response(conn, str(e.originator_id), position)

    @handles(ServiceRequest.Replied)
    def request_replied(self, conn: Connection, e: Any, position: int) -> None:
        _first_response(conn, str(e.originator_id), position)

    @handles(ServiceRequest.WaitingOnCustomer)
    def request_waiting(self, conn: Connection, e: Any, position: int) -> None:
        request_id = str(e.originator_id)
        conn.execute(
            update(sla_requests)
            .where(sla_requests.c.request_id == request_id)
            .values(paused_since=business_time(e))
        )
        conn.execute(
            update(sla_due)
            .where(sla_due.c.request_id == request_id, sla_due.c.alert_id.is_(None))
            .values(due_at=None)
        )

    @handles(ServiceRequest.Resumed)
    def request_resumed(self, conn: Connection, e: Any, position: int) -> None:
        request_id = str(e.originator_id)
        request = _request_row(conn, request_id)
        terms = SlaTerms.from_dict(request.terms) if request.terms else None
        resumed_at = business_time(e)
        breach_at = {FIRST_RESPONSE: e.first_response_due_at, RESOLUTION: e.resolve_due_at}
        for row in conn.execute(
            select(sla_due).where(sla_due.c.request_id == request_id, sla_due.c.alert_id.is_(None))
        ).all():
            threshold = breach_at[row.target] if row.kind == SLA_BREACHED else row.threshold_at
            if row.kind == SLA_WARNING and terms is not None and request.paused_since is not None:
                threshold = terms.extended(row.threshold_at, request.paused_since, resumed_at)
            conn.execute(
                update(sla_due)
                .where(sla_due.c.id == row.id)
                .values(threshold_at=threshold, due_at=threshold)
            )
        conn.execute(
            update(sla_requests)
            .where(sla_requests.c.request_id == request_id)
            .values(paused_since=None)
        )

    @handles(ServiceRequest.Resolved, ServiceRequest.Closed)
    def request_done(self, conn: Connection, e: Any, position: int) -> None:
        _targets_done(
            conn, str(e.originator_id), (FIRST_RESPONSE, RESOLUTION), "resolved", position
        )

    @handles(ServiceRequest.Reopened)
    def request_reopened(self, conn: Connection, e: Any, position: int) -> None:
        request_id = str(e.originator_id)
        _targets_done(conn, request_id, (RESOLUTION,), "reopened", position)
        request = _request_row(conn, request_id)
        episode = request.resolution_episode + 1
        conn.execute(
            update(sla_requests)
            .where(sla_requests.c.request_id == request_id)
            .values(resolution_episode=episode, paused_since=None)
        )
        if e.resolve_due_at is not None:
            terms = SlaTerms.from_dict(request.terms) if request.terms else None
            _schedule(
                conn,
                request_id,
                request.account_id,
                self.owner_of(conn, request.account_id),
                request.assignee_id,
                RESOLUTION,
                episode,
                terms,
                business_time(e),
                e.resolve_due_at,
            )


# dormancy rules


def _dormancy_row(conn: Connection, account_id: str) -> Any:
    return conn.execute(select(dormancy_due).where(dormancy_due.c.account_id == account_id)).one()


def _queue_clearing(conn: Connection, alert_id: str, reason: str, position: int) -> None:
    insert_ignore(
        conn,
        alert_clearings,
        {"alert_id": alert_id, "reason": reason, "position": position},
        ["alert_id"],
    )


def _new_episode(
    conn: Connection,
    row: Any,
    last_activity: datetime,
    reason: str,
    position: int,
    **changes: Any,
) -> None:
    """The account's dormancy starts over from `last_activity`: an open alert is cleared."""
    if row.alert_id is not None:
        _queue_clearing(conn, row.alert_id, reason, position)
    if "grade" in changes:
        changes["grade"] = _grade(changes["grade"])
    archived = changes.get("archived", row.archived)
    conn.execute(
        update(dormancy_due)
        .where(dormancy_due.c.account_id == row.account_id)
        .values(
            last_activity_at=last_activity,
            pending_since=None if archived else last_activity,
            episode=row.episode + 1,
            alert_id=None,
            **changes,
        )
    )


def _orders_arrived(conn: Connection, arrivals: dict[str, list[tuple[datetime, int]]]) -> None:
    """Orders placed on these accounts (ordered_at and position each, in log order): each one
    later than the last activity starts a new episode, exactly as if the orders had been
    applied one by one, so the episode numbers (which raised alerts refer to) do not depend on
    how the log was cut into batches. Read in one statement per 500 accounts, written in one."""
    ids = sorted(arrivals)
    rows = [
        row
        for start in range(0, len(ids), 500)
        for row in conn.execute(
            select(dormancy_due).where(dormancy_due.c.account_id.in_(ids[start : start + 500]))
        ).all()
    ]
    moved = []
    for row in rows:
        last, episode, alert_id = row.last_activity_at, row.episode, row.alert_id
        for at, position in arrivals[row.account_id]:
            if at <= last:
                continue
            if alert_id is not None:
                _queue_clearing(conn, alert_id, "order_placed", position)
                alert_id = None
            last, episode = at, episode + 1
        if episode != row.episode:
            moved.append(
                {
                    "key": row.account_id,
                    "last": last,
                    "pending": None if row.archived else last,
                    "episode": episode,
                }
            )
    if moved:
        conn.execute(
            update(dormancy_due)
            .where(dormancy_due.c.account_id == bindparam("key"))
            .values(
                last_activity_at=bindparam("last"),
                pending_since=bindparam("pending"),
                episode=bindparam("episode"),
                alert_id=None,
            ),
            moved,
        )


def _recount(conn: Connection, account_id: str, reason: str, position: int) -> None:
    """The account's last activity from its open orders (or its opening), after a revision or
    cancellation moved or removed one."""
    row = _dormancy_row(conn, account_id)
    last_order = conn.execute(
        select(func.max(dormancy_orders.c.ordered_at)).where(
            dormancy_orders.c.account_id == account_id, dormancy_orders.c.open.is_(True)
        )
    ).scalar()
    last = max(row.opened_at, last_order) if last_order is not None else row.opened_at
    if last != row.last_activity_at:
        _new_episode(conn, row, last, reason, position)


# SLA rules


def _sla_row_id(request_id: str, target: str, kind: str) -> str:
    return f"{request_id}:{target}:{kind}"


def _request_row(conn: Connection, request_id: str) -> Any:
    return conn.execute(select(sla_requests).where(sla_requests.c.request_id == request_id)).one()


def _schedule(
    conn: Connection,
    request_id: str,
    account_id: str,
    owner_id: str,
    assignee_id: str | None,
    target: str,
    episode: int,
    terms: SlaTerms | None,
    start: datetime,
    due: datetime,
) -> None:
    for kind, threshold in (
        (SLA_WARNING, sla_warning_at(terms, start, due)),
        (SLA_BREACHED, due),
    ):
        insert_row(
            conn,
            sla_due,
            dict(
                id=_sla_row_id(request_id, target, kind),
                request_id=request_id,
                kind=kind,
                target=target,
                account_id=account_id,
                owner_id=owner_id,
                assignee_id=assignee_id,
                episode=episode,
                threshold_at=threshold,
                due_at=threshold,
                alert_id=None,
            ),
        )


def _reassign(conn: Connection, request_id: str, assignee_id: str | None) -> None:
    for table, key in (
        (sla_requests, sla_requests.c.request_id),
        (sla_due, sla_due.c.request_id),
        (alerts, alerts.c.subject_id),
    ):
        conn.execute(update(table).where(key == request_id).values(assignee_id=assignee_id))


def _first_response(conn: Connection, request_id: str, position: int) -> None:
    request = conn.execute(
        select(sla_requests.c.first_responded).where(sla_requests.c.request_id == request_id)
    ).scalar()
    if request is False:
        conn.execute(
            update(sla_requests)
            .where(sla_requests.c.request_id == request_id)
            .values(first_responded=True)
        )
        _targets_done(conn, request_id, (FIRST_RESPONSE,), "responded", position)


def _targets_done(
    conn: Connection, request_id: str, targets: tuple[str, ...], reason: str, position: int
) -> None:
    """These targets are met (or moot): nothing more is due, raised alerts are cleared."""
    done = sla_due.c.request_id == request_id, sla_due.c.target.in_(targets)
    for alert_id in conn.execute(
        select(sla_due.c.alert_id).where(*done, sla_due.c.alert_id.is_not(None))
    ).scalars():
        _queue_clearing(conn, alert_id, reason, position)
    conn.execute(delete(sla_due).where(*done))


# what the watchers read


def due_dormant(
    conn: Connection, grade: str | None, idle_since: datetime, limit: int
) -> list[dict[str, Any]]:
    """Accounts of this manual grade (None: without one) whose last activity is at or before
    `idle_since` and that have no open dormancy alert."""
    t = dormancy_due.c
    stmt = (
        select(t.account_id, t.owner_id, t.last_activity_at, t.episode)
        .where(t.grade == _grade(grade), t.pending_since <= idle_since)
        .order_by(t.pending_since)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def due_sla(conn: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    t = sla_due.c
    stmt = (
        select(
            t.request_id,
            t.kind,
            t.target,
            t.account_id,
            t.owner_id,
            t.assignee_id,
            t.episode,
            t.threshold_at,
        )
        .where(t.due_at <= now)
        .order_by(t.due_at)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(stmt)]


def due_clearings(conn: Connection, limit: int) -> list[dict[str, Any]]:
    t = alert_clearings.c
    stmt = select(t.alert_id, t.reason).order_by(t.position).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


# what the API reads

ALERT_SORTS = ("raised_at", "updated_at")
ALERT_COLUMNS = tuple(c.name for c in alerts.c if c.name != "position")


def list_alerts(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    assignee_id: str | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    kind: str | None = None,
    owner_id: str | None = None,
    subject_id: str | None = None,
    open_: bool | None = None,
) -> Page:
    """`visible_owners` narrows to alerts on those owners' accounts; `assignee_id` to the alerts
    on a service agent's requests."""
    t = alerts.c
    stmt = select(*[t[n] for n in ALERT_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(t.owner_id.in_(sorted(visible_owners)))
    if assignee_id is not None:
        stmt = stmt.where(t.assignee_id == assignee_id)
    for column, value in (("kind", kind), ("owner_id", owner_id), ("subject_id", subject_id)):
        if value is not None:
            stmt = stmt.where(t[column] == value)
    if open_ is not None:
        stmt = stmt.where(t.cleared_at.is_(None) if open_ else t.cleared_at.is_not(None))
    return keyset_page(conn, stmt, dict(alerts.c), sort, cursor, limit)


def alert_row(conn: Connection, alert_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(*[alerts.c[n] for n in ALERT_COLUMNS]).where(alerts.c.id == alert_id)
    ).first()
    return dict(row._mapping) if row is not None else None
