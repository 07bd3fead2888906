"""Daily work over GraphQL: activities, the account timeline, tasks, work plans, meeting notices
and matter reports, through the same services, read models and request models as REST. The
types are derived from the REST response models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.experimental import pydantic as strawberry_pydantic
from strawberry.scalars import JSON

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.custom_fields import (
    CustomFieldConditions,
    custom_field_field,
    custom_field_query,
    custom_fields_field,
    sort_argument,
)
from crm_api.api.graphql.inputs import validated
from crm_api.api.graphql.limits import embedded_lists
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, keyset_connection, page_size
from crm_api.api.graphql.queries import _listed, _read, _visible_owners
from crm_api.api.rest import activities as rest_activities
from crm_api.api.rest import notices as rest_notices
from crm_api.api.rest import tasks as rest_tasks
from crm_api.api.rest import work_plans as rest_plans
from crm_api.api.rest.conventions import point_in_time
from crm_api.application.activities import activity_view
from crm_api.application.app import CommandContext
from crm_api.application.notices import notice_view, report_view, sees_all_reports
from crm_api.application.services import Services
from crm_api.application.tasks import task_view
from crm_api.application.work_plans import work_plan_view
from crm_api.domain.activities import ACTIVITY_TYPES
from crm_api.domain.activities import Activity as ActivityRecord
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.notices import SEVERITIES
from crm_api.domain.notices import MatterReport as ReportRecord
from crm_api.domain.notices import MeetingNotice as NoticeRecord
from crm_api.domain.people import Principal
from crm_api.domain.tasks import STATUSES
from crm_api.domain.tasks import Task as TaskRecord
from crm_api.domain.work_plans import STATES, PlanPeriod
from crm_api.domain.work_plans import WorkPlan as PlanRecord
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort
from crm_api.projections.timeline import TIMELINE_SORT, account_timeline, parse_types
from crm_api.projections.work import (
    ACTIVITY_SORTS,
    NOTICE_SORTS,
    PLAN_SORTS,
    REPORT_SORTS,
    TASK_SORTS,
    list_activities,
    list_notices,
    list_plans,
    list_reports,
    list_tasks,
    missing_plans,
)

A = TypeVar("A", bound=CrmAggregate)

# types


@strawberry_pydantic.type(model=rest_activities.ActivityOut, all_fields=True)
class Activity:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(
    model=rest_activities.TimelineItem,
    all_fields=True,
    description="One item of an account's timeline: an activity or an event of a record.",
)
class TimelineItem:
    pass


@strawberry_pydantic.type(model=rest_tasks.TaskOut, all_fields=True)
class Task:
    pass


@strawberry_pydantic.type(model=rest_plans.PlanItemOut, all_fields=True)
class WorkPlanItem:
    pass


@strawberry_pydantic.type(model=rest_plans.CommentOut, all_fields=True)
class WorkPlanComment:
    pass


@strawberry_pydantic.type(model=rest_plans.OutcomeOut, all_fields=True)
class WorkPlanOutcome:
    pass


@strawberry_pydantic.type(model=rest_plans.SummaryOut, all_fields=True)
class WorkPlanSummary:
    pass


@strawberry_pydantic.type(model=rest_plans.WorkPlanOut, all_fields=True)
class WorkPlan:
    pass


@strawberry_pydantic.type(model=rest_plans.MissingPlanOut, all_fields=True)
class MissingWorkPlan:
    pass


@strawberry_pydantic.type(model=rest_notices.AttendeeOut, all_fields=True)
class Attendee:
    pass


@strawberry_pydantic.type(model=rest_notices.NoticeOut, all_fields=True)
class MeetingNotice:
    pass


@strawberry_pydantic.type(model=rest_notices.LinkOut, all_fields=True)
class RecordLink:
    pass


@strawberry_pydantic.type(model=rest_notices.ReportOut, all_fields=True)
class MatterReport:
    pass


embedded_lists("WorkPlan", "items", "comments")
embedded_lists("WorkPlanSummary", "outcomes")
embedded_lists("MeetingNotice", "attendees")
embedded_lists("MatterReport", "links")


def _node(gql_type: Any, model: type[BaseModel]) -> Callable[[dict[str, Any]], Any]:
    def convert(row: dict[str, Any]) -> Any:
        return gql_type.from_pydantic(model.model_validate(row))

    return convert


_activity = _node(Activity, rest_activities.ActivityOut)
_timeline_item = _node(TimelineItem, rest_activities.TimelineItem)
_task = _node(Task, rest_tasks.TaskOut)
_plan = _node(WorkPlan, rest_plans.WorkPlanOut)
_missing = _node(MissingWorkPlan, rest_plans.MissingPlanOut)
_notice = _node(MeetingNotice, rest_notices.NoticeOut)
_report = _node(MatterReport, rest_notices.ReportOut)


def _id(value: Any) -> str | None:
    return str(value) if value else None


# inputs


@strawberry.input
class ActivityFilter:
    account_id: strawberry.ID | None = None
    type: str | None = None
    owner_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


@strawberry.input
class CreateActivityInput:
    account_id: strawberry.ID
    type: str = strawberry.field(description="call, visit, email, meeting or note")
    occurred_at: datetime | None = None
    subject: str | None = None
    notes: str | None = None
    contact_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    service_request_id: strawberry.ID | None = None
    duration_minutes: int | None = None
    outcome: str | None = None
    next_step: str | None = None
    owner_id: strawberry.ID | None = None

    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateActivityInput:
    type: str | None = strawberry.UNSET
    occurred_at: datetime | None = strawberry.UNSET
    subject: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    contact_id: strawberry.ID | None = strawberry.UNSET
    opportunity_id: strawberry.ID | None = strawberry.UNSET
    service_request_id: strawberry.ID | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    outcome: str | None = strawberry.UNSET
    next_step: str | None = strawberry.UNSET

    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes a value."
    )


@strawberry.input
class TaskFilter:
    assignee_id: strawberry.ID | None = None
    status: str | None = None
    overdue: bool = strawberry.field(default=False, description="Open and due before today.")
    linked_id: strawberry.ID | None = None


@strawberry.input
class CreateTaskInput:
    title: str
    due_date: date
    assignee_id: strawberry.ID | None = None
    priority: str = "normal"
    notes: str | None = None
    linked_type: str | None = None
    linked_id: strawberry.ID | None = None


@strawberry.input
class WorkPlanFilter:
    owner_id: strawberry.ID | None = None
    period: str | None = None
    state: str | None = None


@strawberry.input
class WorkPlanItemInput:
    text: str
    id: str | None = None
    planned_minutes: int | None = None
    account_id: strawberry.ID | None = None
    opportunity_id: strawberry.ID | None = None
    task_id: strawberry.ID | None = None


@strawberry.input
class ItemOutcomeInput:
    item_id: str
    done: bool
    note: str | None = None


@strawberry.input
class MeetingNoticeFilter:
    attendee_id: strawberry.ID | None = None
    organizer_id: strawberry.ID | None = None
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None


@strawberry.input
class IssueMeetingNoticeInput:
    title: str
    starts_at: datetime
    attendee_ids: list[strawberry.ID]
    ends_at: datetime | None = None
    place: str | None = None
    agenda: str | None = None


@strawberry.input
class MatterReportFilter:
    severity: str | None = None
    acknowledged: bool | None = None
    author_id: strawberry.ID | None = None


@strawberry.input
class RecordLinkInput:
    type: str
    id: strawberry.ID


@strawberry.input
class FileMatterReportInput:
    title: str
    text: str
    severity: str = strawberry.field(description="low, medium, high or critical")
    links: list[RecordLinkInput] = strawberry.field(default_factory=list)


def _one_of(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise ValidationFailed([FieldError(field, f"must be one of {', '.join(allowed)}")])
    return value


def _one(
    info: Info,
    get: Callable[[Services, Principal], A],
    cls: type[A],
    view: Callable[[A], dict[str, Any]],
    node: Callable[[dict[str, Any]], Any],
    as_of: datetime | None,
    version: int | None,
) -> Any:
    def read(services: Services, principal: Principal) -> Any:
        record = get(services, principal)
        past = point_in_time(services.app, record, cls, version=version, as_of=as_of)
        return node(view(past))

    return _read(info, read)


AsOf = Annotated[datetime | None, strawberry.argument(description="Null: now.")]


@strawberry.type
class WorkQuery:
    @strawberry.field
    async def activity(
        self, info: Info, id: strawberry.ID, as_of: AsOf = None, version: int | None = None
    ) -> Activity:
        return await _one(
            info,
            lambda s, p: s.activities.get_activity(p, id),
            ActivityRecord,
            activity_view,
            _activity,
            as_of,
            version,
        )

    @strawberry.field(description="Newest first by default (sort: -occurred_at).")
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ActivityFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(ACTIVITY_SORTS)] = None,
    ) -> Connection[Activity]:
        limit, given = page_size(first), filter or ActivityFilter()
        bounds = rest_activities.period_bounds(given.from_, given.to)
        activity_type = _one_of(given.type, ACTIVITY_TYPES, "filter.type")

        def read(services: Services, principal: Principal) -> Connection[Activity]:
            principal.require("activities:read")
            custom = custom_field_query(services, "activities", custom_fields)
            return _listed(
                services,
                Sort.parse(sort, ACTIVITY_SORTS + custom.sort_names, "-occurred_at"),
                _activity,
                lambda conn, sort: with_custom_fields(
                    conn,
                    "activities",
                    list_activities(
                        conn,
                        visible_owners=_visible_owners(principal),
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        account_id=_id(given.account_id),
                        type=activity_type,
                        owner_id=_id(given.owner_id),
                        start=bounds[0],
                        end=bounds[1],
                        custom=custom,
                    ),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="An account's activities and record events, newest first.")
    async def timeline(
        self,
        info: Info,
        account_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        types: list[str] | None = None,
    ) -> Connection[TimelineItem]:
        limit, wanted = page_size(first), parse_types(types)

        def read(services: Services, principal: Principal) -> Connection[TimelineItem]:
            principal.require("activities:read")
            account = services.accounts.get_account(principal, account_id)
            with services.read() as conn:
                page = account_timeline(
                    conn, str(account.id), cursor=after, limit=limit, types=wanted
                )
            return keyset_connection(page, TIMELINE_SORT, _timeline_item)

        return await _read(info, read)

    @strawberry.field
    async def task(
        self, info: Info, id: strawberry.ID, as_of: AsOf = None, version: int | None = None
    ) -> Task:
        return await _one(
            info, lambda s, p: s.tasks.get_task(p, id), TaskRecord, task_view, _task, as_of, version
        )

    @strawberry.field(description="By due date by default; overdue: open and due before today.")
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TaskFilter | None = None,
        sort: str | None = None,
    ) -> Connection[Task]:
        limit, given = page_size(first), filter or TaskFilter()
        status = _one_of(given.status, STATUSES, "filter.status")

        def read(services: Services, principal: Principal) -> Connection[Task]:
            principal.require("tasks:read")
            today = services.clock.now().date()
            return _listed(
                services,
                Sort.parse(sort, TASK_SORTS, "due_date"),
                _task,
                lambda conn, sort: list_tasks(
                    conn,
                    visible_owners=_visible_owners(principal),
                    acting_for=principal.acting_for,
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    assignee_id=_id(given.assignee_id),
                    status=status,
                    overdue_on=today if given.overdue else None,
                    linked_id=_id(given.linked_id),
                ),
            )

        return await _read(info, read)

    @strawberry.field
    async def work_plan(
        self, info: Info, id: strawberry.ID, as_of: AsOf = None, version: int | None = None
    ) -> WorkPlan:
        return await _one(
            info,
            lambda s, p: s.work_plans.get_plan(p, id),
            PlanRecord,
            work_plan_view,
            _plan,
            as_of,
            version,
        )

    @strawberry.field
    async def work_plans(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: WorkPlanFilter | None = None,
        sort: str | None = None,
    ) -> Connection[WorkPlan]:
        limit, given = page_size(first), filter or WorkPlanFilter()
        period = PlanPeriod.parse(given.period).text if given.period else None
        state = _one_of(given.state, STATES, "filter.state")

        def read(services: Services, principal: Principal) -> Connection[WorkPlan]:
            principal.require("work_plans:read")
            return _listed(
                services,
                Sort.parse(sort, PLAN_SORTS, "-period_start"),
                _plan,
                lambda conn, sort: list_plans(
                    conn,
                    visible_owners=_visible_owners(principal),
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    owner_id=_id(given.owner_id),
                    period=period,
                    state=state,
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="Team members with no submitted plan for the period.")
    async def missing_work_plans(
        self,
        info: Info,
        period: str,
        team_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[MissingWorkPlan]:
        limit, parsed = page_size(first), PlanPeriod.parse(period)

        def read(services: Services, principal: Principal) -> Connection[MissingWorkPlan]:
            teams = services.work_plans.reviewed_teams(principal, _id(team_id))
            return _listed(
                services,
                Sort.parse(None, ("name",), "name"),
                _missing,
                lambda conn, sort: missing_plans(
                    conn, team_ids=teams, period=parsed.text, sort=sort, cursor=after, limit=limit
                ),
            )

        return await _read(info, read)

    @strawberry.field
    async def meeting_notice(
        self, info: Info, id: strawberry.ID, as_of: AsOf = None, version: int | None = None
    ) -> MeetingNotice:
        return await _one(
            info,
            lambda s, p: s.notices.get_notice(p, id),
            NoticeRecord,
            notice_view,
            _notice,
            as_of,
            version,
        )

    @strawberry.field
    async def meeting_notices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: MeetingNoticeFilter | None = None,
        sort: str | None = None,
    ) -> Connection[MeetingNotice]:
        limit, given = page_size(first), filter or MeetingNoticeFilter()
        start, end = rest_activities.period_bounds(given.from_, given.to)

        def read(services: Services, principal: Principal) -> Connection[MeetingNotice]:
            principal.require("notices:read")
            return _listed(
                services,
                Sort.parse(sort, NOTICE_SORTS, "starts_at"),
                _notice,
                lambda conn, sort: list_notices(
                    conn,
                    visible_owners=_visible_owners(principal),
                    acting_for=principal.acting_for,
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    attendee_id=_id(given.attendee_id),
                    organizer_id=_id(given.organizer_id),
                    start=start,
                    end=end,
                ),
            )

        return await _read(info, read)

    @strawberry.field
    async def matter_report(
        self, info: Info, id: strawberry.ID, as_of: AsOf = None, version: int | None = None
    ) -> MatterReport:
        return await _one(
            info,
            lambda s, p: s.notices.get_report(p, id),
            ReportRecord,
            report_view,
            _report,
            as_of,
            version,
        )

    @strawberry.field
    async def matter_reports(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: MatterReportFilter | None = None,
        sort: str | None = None,
    ) -> Connection[MatterReport]:
        limit, given = page_size(first), filter or MatterReportFilter()
        severity = _one_of(given.severity, SEVERITIES, "filter.severity")

        def read(services: Services, principal: Principal) -> Connection[MatterReport]:
            principal.require("matter_reports:read")
            return _listed(
                services,
                Sort.parse(sort, REPORT_SORTS, "-created_at"),
                _report,
                lambda conn, sort: list_reports(
                    conn,
                    sees_all=sees_all_reports(principal),
                    caller_id=principal.id,
                    acting_for=principal.acting_for,
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    severity=severity,
                    acknowledged=given.acknowledged,
                    author_id=_id(given.author_id),
                ),
            )

        return await _read(info, read)


def _commands(
    service: Callable[[Services], Any],
    view: Callable[[Any], dict[str, Any]],
    node: Callable[[dict[str, Any]], Any],
) -> Callable[..., Any]:
    """A mutation of one area: run `act(service, ctx)`, answer with the record as a node."""

    async def run(
        info: Info, idempotency_key: str | None, act: Callable[[Any, CommandContext], Any]
    ) -> Any:
        target = service(info.context.services)
        return node(await _run(info, idempotency_key, lambda ctx: act(target, ctx), view))

    return run


_on_activities = _commands(lambda s: s.activities, activity_view, _activity)
_on_tasks = _commands(lambda s: s.tasks, task_view, _task)
_on_plans = _commands(lambda s: s.work_plans, work_plan_view, _plan)
_on_notices = _commands(lambda s: s.notices, notice_view, _notice)
_on_reports = _commands(lambda s: s.notices, report_view, _report)


def _items(items: list[WorkPlanItemInput]) -> list[dict[str, Any]]:
    return rest_plans.plan_items(validated(rest_plans.PlanItems, {"items": items}).items)


@strawberry.type
class WorkMutation:
    @strawberry.mutation(description="Record an interaction, possibly back-dated (occurredAt).")
    async def create_activity(
        self, info: Info, input: CreateActivityInput, idempotency_key: IdempotencyKey = None
    ) -> Activity:
        details = rest_activities.activity_details(validated(rest_activities.ActivityCreate, input))
        return await _on_activities(
            info,
            idempotency_key,
            lambda activities, ctx: activities.record_activity(ctx, **details),
        )

    @strawberry.mutation
    async def update_activity(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateActivityInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Activity:
        changes = rest_activities.activity_changes(validated(rest_activities.ActivityUpdate, input))
        return await _on_activities(
            info,
            idempotency_key,
            lambda activities, ctx: activities.change_activity(ctx, id, changes, if_match),
        )

    @strawberry.mutation
    async def create_task(
        self, info: Info, input: CreateTaskInput, idempotency_key: IdempotencyKey = None
    ) -> Task:
        details = rest_tasks.task_details(validated(rest_tasks.TaskCreate, input))
        return await _on_tasks(
            info, idempotency_key, lambda tasks, ctx: tasks.create_task(ctx, **details)
        )

    @strawberry.mutation
    async def complete_task(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Task:
        body = validated(rest_tasks.TaskNote, {"note": note})
        return await _on_tasks(
            info, idempotency_key, lambda tasks, ctx: tasks.complete(ctx, id, body.note, if_match)
        )

    @strawberry.mutation
    async def cancel_task(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Task:
        body = validated(rest_tasks.TaskCancel, {"reason": reason})
        return await _on_tasks(
            info, idempotency_key, lambda tasks, ctx: tasks.cancel(ctx, id, body.reason, if_match)
        )

    @strawberry.mutation
    async def reopen_task(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Task:
        return await _on_tasks(
            info, idempotency_key, lambda tasks, ctx: tasks.reopen(ctx, id, if_match)
        )

    @strawberry.mutation(description="A manager gives the task to another rep of its team.")
    async def reassign_task(
        self,
        info: Info,
        id: strawberry.ID,
        assignee_id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Task:
        body = validated(rest_tasks.TaskReassign, {"assignee_id": assignee_id})
        return await _on_tasks(
            info,
            idempotency_key,
            lambda tasks, ctx: tasks.reassign(ctx, id, str(body.assignee_id), if_match),
        )

    @strawberry.mutation(description="The caller's plan for a day (2026-01-05) or week (2026-W02).")
    async def create_work_plan(
        self,
        info: Info,
        period: str,
        items: list[WorkPlanItemInput],
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.PlanCreate, {"period": period, "items": items})
        checked = rest_plans.plan_items(body.items)
        return await _on_plans(
            info,
            idempotency_key,
            lambda plans, ctx: plans.draft_plan(ctx, period=body.period, items=checked),
        )

    @strawberry.mutation(description="The owner replaces the items of a draft or returned plan.")
    async def change_work_plan_items(
        self,
        info: Info,
        id: strawberry.ID,
        items: list[WorkPlanItemInput],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        checked = _items(items)
        return await _on_plans(
            info, idempotency_key, lambda plans, ctx: plans.change_items(ctx, id, checked, if_match)
        )

    @strawberry.mutation(description="Submit a draft, or resubmit a returned plan.")
    async def submit_work_plan(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        return await _on_plans(
            info, idempotency_key, lambda plans, ctx: plans.submit(ctx, id, if_match)
        )

    @strawberry.mutation(description="The reviewer changes the items, with a comment.")
    async def edit_work_plan(
        self,
        info: Info,
        id: strawberry.ID,
        items: list[WorkPlanItemInput],
        comment: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.ReviewerEdit, {"items": items, "comment": comment})
        checked = rest_plans.plan_items(body.items)
        return await _on_plans(
            info,
            idempotency_key,
            lambda plans, ctx: plans.edit(ctx, id, checked, body.comment, if_match),
        )

    @strawberry.mutation
    async def comment_work_plan(
        self,
        info: Info,
        id: strawberry.ID,
        text: str,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.PlanComment, {"text": text})
        return await _on_plans(
            info, idempotency_key, lambda plans, ctx: plans.comment(ctx, id, body.text, if_match)
        )

    @strawberry.mutation(description="The reviewer sends a submitted plan back, saying why.")
    async def return_work_plan(
        self,
        info: Info,
        id: strawberry.ID,
        comment: str,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.PlanReturn, {"comment": comment})
        return await _on_plans(
            info,
            idempotency_key,
            lambda plans, ctx: plans.return_plan(ctx, id, body.comment, if_match),
        )

    @strawberry.mutation
    async def accept_work_plan(
        self,
        info: Info,
        id: strawberry.ID,
        comment: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.PlanAccept, {"comment": comment})
        return await _on_plans(
            info, idempotency_key, lambda plans, ctx: plans.accept(ctx, id, body.comment, if_match)
        )

    @strawberry.mutation(description="How the period went: text and, per item, done or not.")
    async def submit_work_plan_summary(
        self,
        info: Info,
        id: strawberry.ID,
        text: str,
        outcomes: list[ItemOutcomeInput],
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> WorkPlan:
        body = validated(rest_plans.PlanSummary, {"text": text, "outcomes": outcomes})
        checked = [o.model_dump() for o in body.outcomes]
        return await _on_plans(
            info,
            idempotency_key,
            lambda plans, ctx: plans.submit_summary(ctx, id, body.text, checked, if_match),
        )

    @strawberry.mutation
    async def issue_meeting_notice(
        self, info: Info, input: IssueMeetingNoticeInput, idempotency_key: IdempotencyKey = None
    ) -> MeetingNotice:
        details = rest_notices.notice_details(validated(rest_notices.NoticeCreate, input))
        return await _on_notices(
            info, idempotency_key, lambda notices, ctx: notices.issue_notice(ctx, **details)
        )

    @strawberry.mutation(description="An attendee confirms it has read the notice.")
    async def acknowledge_meeting_notice(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> MeetingNotice:
        return await _on_notices(
            info,
            idempotency_key,
            lambda notices, ctx: notices.acknowledge_notice(ctx, id, if_match),
        )

    @strawberry.mutation
    async def cancel_meeting_notice(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> MeetingNotice:
        body = validated(rest_notices.NoticeCancel, {"reason": reason})
        return await _on_notices(
            info,
            idempotency_key,
            lambda notices, ctx: notices.cancel_notice(ctx, id, body.reason, if_match),
        )

    @strawberry.mutation(description="Report an important matter to your manager.")
    async def file_matter_report(
        self, info: Info, input: FileMatterReportInput, idempotency_key: IdempotencyKey = None
    ) -> MatterReport:
        details = rest_notices.report_details(validated(rest_notices.ReportCreate, input))
        return await _on_reports(
            info, idempotency_key, lambda notices, ctx: notices.file_report(ctx, **details)
        )

    @strawberry.mutation
    async def acknowledge_matter_report(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> MatterReport:
        return await _on_reports(
            info,
            idempotency_key,
            lambda notices, ctx: notices.acknowledge_report(ctx, id, if_match),
        )
