"""Read models of daily work: activities (visible by their ACCOUNT's owner, kept here from the
account events), tasks, work plans (and who has not submitted one), meeting notices with their
attendees, and matter reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.activities import Activity
from crm_api.domain.notices import MatterReport, MeetingNotice
from crm_api.domain.opportunities import business_time
from crm_api.domain.people import OWNER_ROLES
from crm_api.domain.tasks import OPEN, Task
from crm_api.domain.work_plans import DRAFT, PlanPeriod, WorkPlan
from crm_api.projections.base import handles, insert_row
from crm_api.projections.custom_fields import CustomFieldQuery
from crm_api.projections.directory import users
from crm_api.projections.owners import FollowsAccountOwners, account_owners_table
from crm_api.projections.paging import Page, Sort, keyset_page


def _record_columns() -> list[Column[Any]]:
    """What every record's row ends with: its version, times and log position."""
    return [
        Column("version", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("position", BigInteger, nullable=False),
    ]


work_account_owners = account_owners_table("work_account_owners")

activities = Table(
    "activities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("account_owner_id", String(36), nullable=False, index=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("type", String(16), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    Column("contact_id", String(36), nullable=True),
    Column("opportunity_id", String(36), nullable=True),
    Column("service_request_id", String(36), nullable=True),
    Column("duration_minutes", Integer, nullable=True),
    Column("outcome", String(500), nullable=True),
    Column("next_step", String(500), nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("entered_by", String(64), nullable=False),
    Column("on_behalf_of", String(36), nullable=True),
    *_record_columns(),
    Index("ix_activities_account_id_occurred_at", "account_id", "occurred_at"),
    Index("ix_activities_occurred_at_id", "occurred_at", "id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("notes", Text, nullable=True),
    Column("due_date", Date, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignee_id", String(36), nullable=False, index=True),
    Column("linked_type", String(32), nullable=True),
    Column("linked_id", String(36), nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("on_behalf_of", String(36), nullable=True),
    Column("requested_by", String(64), nullable=False, index=True),
    *_record_columns(),
    Index("ix_tasks_due_date_id", "due_date", "id"),
)

work_plans = Table(
    "work_plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False, index=True),
    Column("period", String(10), nullable=False),
    Column("period_kind", String(8), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("items", JSON, nullable=False),
    Column("comments", JSON, nullable=False),
    Column("summary", JSON, nullable=True),
    Column("submissions", Integer, nullable=False),
    Column("reviewed_by", String(64), nullable=True),
    *_record_columns(),
    Index("ix_work_plans_period_owner_id", "period", "owner_id"),
    Index("ix_work_plans_period_start_id", "period_start", "id"),
)

meeting_notices = Table(
    "meeting_notices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("organizer_id", String(36), nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("place", String(200), nullable=True),
    Column("agenda", Text, nullable=True),
    Column("attendees", JSON, nullable=False),
    Column("acknowledged_count", Integer, nullable=False),
    Column("cancelled", Boolean, nullable=False),
    *_record_columns(),
    Index("ix_meeting_notices_starts_at_id", "starts_at", "id"),
)

notice_attendees = Table(
    "notice_attendees",
    metadata,
    Column("notice_id", String(36), primary_key=True),
    Column("user_id", String(36), primary_key=True, index=True),
)

matter_reports = Table(
    "matter_reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("author_id", String(36), nullable=False, index=True),
    Column("addressed_to", String(36), nullable=True, index=True),
    Column("title", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("links", JSON, nullable=False),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    *_record_columns(),
    Index("ix_matter_reports_created_at_id", "created_at", "id"),
)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


def _created(event: Any, position: int) -> dict[str, Any]:
    return {
        "id": str(event.originator_id),
        "created_at": event.timestamp,
        **_stamp(event, position),
    }


def _where_id(table: Table, event: Any) -> Any:
    return update(table).where(table.c.id == str(event.originator_id))


class WorkProjection(FollowsAccountOwners):
    name = "work"
    tables = (
        work_account_owners,
        activities,
        tasks,
        work_plans,
        meeting_notices,
        notice_attendees,
        matter_reports,
    )
    account_owners = work_account_owners
    owner_columns = (activities.c.account_owner_id,)

    # activities, visible by their account's owner (kept by FollowsAccountOwners)

    @handles(Activity.Created)
    def activity_recorded(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            activities,
            dict(
                account_id=e.account_id,
                account_owner_id=self.owner_of(conn, e.account_id),
                owner_id=e.owner_id,
                type=e.type,
                subject=e.subject,
                notes=e.notes,
                contact_id=e.contact_id,
                opportunity_id=e.opportunity_id,
                service_request_id=e.service_request_id,
                duration_minutes=e.duration_minutes,
                outcome=e.outcome,
                next_step=e.next_step,
                occurred_at=business_time(e),
                entered_by=e.meta["actor"],
                on_behalf_of=e.meta.get("on_behalf_of"),
                **_created(e, position),
            ),
        )

    @handles(Activity.CustomFieldsChanged)
    def activity_custom_fields(self, conn: Connection, e: Any, position: int) -> None:
        """The values live in the custom_fields read model; here only the version moves."""
        conn.execute(
            update(activities)
            .where(activities.c.id == str(e.originator_id))
            .values(**_stamp(e, position))
        )

    @handles(Activity.DetailsChanged)
    def activity_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = dict(e.changes)
        if "occurred_at" in values:
            values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        conn.execute(_where_id(activities, e).values(**values, **_stamp(e, position)))

    # tasks

    @handles(Task.Created)
    def task_created(self, conn: Connection, e: Any, position: int) -> None:
        on_behalf_of = e.meta.get("on_behalf_of")
        insert_row(
            conn,
            tasks,
            dict(
                title=e.title,
                notes=e.notes,
                due_date=e.due_date,
                priority=e.priority,
                status=OPEN,
                assignee_id=e.assignee_id,
                linked_type=e.linked_type,
                linked_id=e.linked_id,
                created_by=e.meta["actor"],
                on_behalf_of=on_behalf_of,
                requested_by=on_behalf_of or e.meta["actor"],
                **_created(e, position),
            ),
        )

    @handles(Task.DetailsChanged)
    def task_changed(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(_where_id(tasks, e).values(**e.changes, **_stamp(e, position)))

    @handles(Task.Completed, Task.Cancelled, Task.Reopened)
    def task_status(self, conn: Connection, e: Any, position: int) -> None:
        status = {"Completed": "done", "Cancelled": "cancelled", "Reopened": OPEN}
        values = {"status": status[type(e).__name__]}
        conn.execute(_where_id(tasks, e).values(**values, **_stamp(e, position)))

    @handles(Task.Reassigned)
    def task_reassigned(self, conn: Connection, e: Any, position: int) -> None:
        values = {"assignee_id": e.to_assignee_id}
        conn.execute(_where_id(tasks, e).values(**values, **_stamp(e, position)))

    # work plans

    @handles(WorkPlan.Created)
    def plan_drafted(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            work_plans,
            dict(
                owner_id=e.owner_id,
                period=e.period,
                period_kind=e.period_kind,
                period_start=PlanPeriod.parse(e.period).start,
                state=DRAFT,
                items=e.items,
                comments=[],
                summary=None,
                submissions=0,
                reviewed_by=None,
                **_created(e, position),
            ),
        )

    @handles(
        WorkPlan.ItemsChanged,
        WorkPlan.Submitted,
        WorkPlan.Resubmitted,
        WorkPlan.SummarySubmitted,
        WorkPlan.EditedByReviewer,
        WorkPlan.Commented,
        WorkPlan.Returned,
        WorkPlan.Accepted,
    )
    def plan_changed(self, conn: Connection, e: Any, position: int) -> None:
        values = _plan_change(e)
        comment = _plan_comment(e)
        if comment is not None:
            comments = conn.execute(
                select(work_plans.c.comments).where(work_plans.c.id == str(e.originator_id))
            ).scalar_one()
            values["comments"] = [*comments, comment]
        conn.execute(_where_id(work_plans, e).values(**values, **_stamp(e, position)))

    # meeting notices

    @handles(MeetingNotice.Created)
    def notice_issued(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            meeting_notices,
            dict(
                organizer_id=e.organizer_id,
                title=e.title,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                place=e.place,
                agenda=e.agenda,
                attendees=[{"user_id": u, "acknowledged_at": None} for u in e.attendee_ids],
                acknowledged_count=0,
                cancelled=False,
                **_created(e, position),
            ),
        )
        if e.attendee_ids:
            conn.execute(
                notice_attendees.insert(),
                [{"notice_id": str(e.originator_id), "user_id": u} for u in e.attendee_ids],
            )

    @handles(MeetingNotice.Acknowledged)
    def notice_acknowledged(self, conn: Connection, e: Any, position: int) -> None:
        attendees = conn.execute(
            select(meeting_notices.c.attendees).where(meeting_notices.c.id == str(e.originator_id))
        ).scalar_one()
        at = e.meta["occurred_at"]
        attendees = [
            {**a, "acknowledged_at": at} if a["user_id"] == e.attendee_id else a for a in attendees
        ]
        acknowledged = sum(1 for a in attendees if a["acknowledged_at"] is not None)
        conn.execute(
            _where_id(meeting_notices, e).values(
                attendees=attendees, acknowledged_count=acknowledged, **_stamp(e, position)
            )
        )

    @handles(MeetingNotice.Cancelled)
    def notice_cancelled(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(_where_id(meeting_notices, e).values(cancelled=True, **_stamp(e, position)))

    # matter reports

    @handles(MatterReport.Created)
    def report_filed(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            matter_reports,
            dict(
                author_id=e.author_id,
                addressed_to=e.addressed_to,
                title=e.title,
                text=e.text,
                severity=e.severity,
                links=e.links,
                **_created(e, position),
            ),
        )

    @handles(MatterReport.Acknowledged)
    def report_acknowledged(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            _where_id(matter_reports, e).values(
                acknowledged_by=e.reader_id,
                acknowledged_at=business_time(e),
                **_stamp(e, position),
            )
        )


def _plan_change(e: Any) -> dict[str, Any]:
    kind = type(e).__name__
    if kind in ("ItemsChanged", "EditedByReviewer"):
        return {"items": e.items}
    if kind in ("Submitted", "Resubmitted"):
        return {"state": "submitted", "submissions": e.submission}
    if kind == "SummarySubmitted":
        return {"summary": {"text": e.text, "outcomes": e.outcomes}}
    if kind in ("Returned", "Accepted"):
        return {"state": kind.lower(), "reviewed_by": e.reviewer_id}
    return {}


def _plan_comment(e: Any) -> dict[str, Any] | None:
    """The comment an event adds, as the aggregate keeps it."""
    kind = type(e).__name__
    if kind == "Commented":
        return {"by": e.author_id, "text": e.text}
    if kind in ("Returned", "Accepted", "EditedByReviewer") and e.comment:
        return {"by": e.reviewer_id, "text": e.comment}
    return None


# queries

ACTIVITY_SORTS = ("occurred_at", "created_at", "updated_at")
ACTIVITY_COLUMNS = tuple(
    c.name for c in activities.c if c.name not in ("position", "account_owner_id")
)


def list_activities(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    account_id: str | None = None,
    type: str | None = None,
    owner_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    custom: CustomFieldQuery | None = None,
) -> Page:
    """Visible by the account's owner; `owner_id` filters on who had the interaction;
    [start, end) bounds occurred_at."""
    a = activities.c
    stmt = select(*[a[n] for n in ACTIVITY_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(a.account_owner_id.in_(sorted(visible_owners)))
    if account_id:
        stmt = stmt.where(a.account_id == account_id)
    if type:
        stmt = stmt.where(a.type == type)
    if owner_id:
        stmt = stmt.where(a.owner_id == owner_id)
    if start is not None:
        stmt = stmt.where(a.occurred_at >= start)
    if end is not None:
        stmt = stmt.where(a.occurred_at < end)
    columns: dict[str, Any] = dict(a)
    if custom is not None:
        stmt, columns = custom.narrow(stmt, a.id, sort, columns)
    return keyset_page(conn, stmt, columns, sort, cursor, limit)


TASK_SORTS = ("due_date", "created_at", "updated_at", "priority")
TASK_COLUMNS = tuple(c.name for c in tasks.c if c.name not in ("position", "requested_by"))


def list_tasks(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    acting_for: str,
    sort: Sort,
    cursor: str | None,
    limit: int,
    assignee_id: str | None = None,
    status: str | None = None,
    overdue_on: date | None = None,
    linked_id: str | None = None,
) -> Page:
    """Visible to the assignee's viewers and to whoever asked for the task; `overdue_on` keeps
    the open tasks due before that day."""
    t = tasks.c
    stmt = select(*[t[n] for n in TASK_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(
            or_(t.assignee_id.in_(sorted(visible_owners)), t.requested_by == acting_for)
        )
    if assignee_id:
        stmt = stmt.where(t.assignee_id == assignee_id)
    if status:
        stmt = stmt.where(t.status == status)
    if overdue_on is not None:
        stmt = stmt.where(t.status == OPEN, t.due_date < overdue_on)
    if linked_id:
        stmt = stmt.where(t.linked_id == linked_id)
    return keyset_page(conn, stmt, dict(t), sort, cursor, limit)


PLAN_SORTS = ("period_start", "created_at", "updated_at")
PLAN_COLUMNS = tuple(c.name for c in work_plans.c if c.name not in ("position", "period_start"))


def list_plans(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    sort: Sort,
    cursor: str | None,
    limit: int,
    owner_id: str | None = None,
    period: str | None = None,
    state: str | None = None,
) -> Page:
    w = work_plans.c
    stmt = select(*[w[n] for n in PLAN_COLUMNS], w.period_start)
    if visible_owners is not None:
        stmt = stmt.where(w.owner_id.in_(sorted(visible_owners)))
    if owner_id:
        stmt = stmt.where(w.owner_id == owner_id)
    if period:
        stmt = stmt.where(w.period == period)
    if state:
        stmt = stmt.where(w.state == state)
    return keyset_page(conn, stmt, dict(w), sort, cursor, limit)


def missing_plans(
    conn: Connection,
    *,
    team_ids: frozenset[str] | None,
    period: str,
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> Page:
    """The active reps and managers of these teams (all teams when None) with no submitted plan
    for the period: none at all, or one still a draft."""
    u, w = users.c, work_plans.c
    joined = users.outerjoin(work_plans, and_(w.owner_id == u.id, w.period == period))
    stmt = (
        select(
            u.id.label("id"),
            u.id.label("user_id"),
            u.name,
            u.team_id,
            w.id.label("work_plan_id"),
            w.state,
        )
        .select_from(joined)
        .where(u.active.is_(True), u.role.in_(sorted(OWNER_ROLES)), u.team_id.isnot(None))
        .where(or_(w.id.is_(None), w.state == DRAFT))
    )
    if team_ids is not None:
        stmt = stmt.where(u.team_id.in_(sorted(team_ids)))
    return keyset_page(conn, stmt, {"name": u.name, "id": u.id}, sort, cursor, limit)


NOTICE_SORTS = ("starts_at", "created_at")
NOTICE_COLUMNS = tuple(c.name for c in meeting_notices.c if c.name != "position")


def list_notices(
    conn: Connection,
    *,
    visible_owners: frozenset[str] | None,
    acting_for: str,
    sort: Sort,
    cursor: str | None,
    limit: int,
    attendee_id: str | None = None,
    organizer_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Page:
    """Visible to whoever sees the organizer's records and to the attendees."""
    n = meeting_notices.c
    attending = select(notice_attendees.c.notice_id)
    stmt = select(*[n[c] for c in NOTICE_COLUMNS])
    if visible_owners is not None:
        stmt = stmt.where(
            or_(
                n.organizer_id.in_(sorted(visible_owners)),
                n.id.in_(attending.where(notice_attendees.c.user_id == acting_for)),
            )
        )
    if attendee_id:
        stmt = stmt.where(n.id.in_(attending.where(notice_attendees.c.user_id == attendee_id)))
    if organizer_id:
        stmt = stmt.where(n.organizer_id == organizer_id)
    if start is not None:
        stmt = stmt.where(n.starts_at >= start)
    if end is not None:
        stmt = stmt.where(n.starts_at < end)
    return keyset_page(conn, stmt, dict(n), sort, cursor, limit)


REPORT_SORTS = ("created_at", "updated_at")
REPORT_COLUMNS = tuple(c.name for c in matter_reports.c if c.name != "position")


def list_reports(
    conn: Connection,
    *,
    sees_all: bool,
    caller_id: str,
    acting_for: str,
    sort: Sort,
    cursor: str | None,
    limit: int,
    severity: str | None = None,
    acknowledged: bool | None = None,
    author_id: str | None = None,
) -> Page:
    r = matter_reports.c
    stmt = select(*[r[c] for c in REPORT_COLUMNS])
    if not sees_all:
        stmt = stmt.where(or_(r.author_id == acting_for, r.addressed_to == caller_id))
    if severity:
        stmt = stmt.where(r.severity == severity)
    if acknowledged is not None:
        stmt = stmt.where(
            r.acknowledged_by.isnot(None) if acknowledged else r.acknowledged_by.is_(None)
        )
    if author_id:
        stmt = stmt.where(r.author_id == author_id)
    return keyset_page(conn, stmt, dict(r), sort, cursor, limit)
