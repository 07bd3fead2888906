"""Commands and reads on work plans. The owner (or the assistant acting for it) drafts,
changes, submits and summarises its plan; the manager of the owner's team (or an admin)
edits, comments, returns and accepts it. A plan is visible to its owner, the owner's manager,
admins and auditors; to everyone else it does not exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import IntegrityError

from crm_api.application.app import SAVE_ATTEMPTS, CommandContext, CrmApplication, Outcome, command
from crm_api.application.work import WorkRules
from crm_api.domain.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from crm_api.domain.people import OWNER_ROLES, Principal, Role
from crm_api.domain.tasks import Task
from crm_api.domain.work_plans import ITEM_LINKS, PlanPeriod, WorkPlan

LINK_KINDS = {"account_id": "account", "opportunity_id": "opportunity", "task_id": "task"}


def work_plan_view(plan: WorkPlan) -> dict[str, Any]:
    return {
        "id": str(plan.id),
        "owner_id": plan.owner_id,
        "period": plan.period,
        "period_kind": plan.period_kind,
        "state": plan.state,
        "items": plan.items,
        "comments": plan.comments,
        "summary": plan.summary,
        "submissions": plan.submissions,
        "reviewed_by": plan.reviewed_by,
        "version": plan.version,
        "created_at": plan.created_on,
        "updated_at": plan.modified_on,
    }


class WorkPlanService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self.rules = WorkRules(app)

    @command
    def draft_plan(
        self, ctx: CommandContext, *, period: str, items: list[dict[str, Any]]
    ) -> Outcome[WorkPlan]:
        """One plan per owner and period: a second draft is 409 `work_plan_exists`."""
        principal = ctx.principal
        principal.require("work_plans:write")
        owner_id = principal.acting_for
        self.rules.user(owner_id, "owner_id", OWNER_ROLES)
        self._check_links(principal, items)
        plan_id = WorkPlan.id_for(owner_id, PlanPeriod.parse(period).text)
        for _attempt in range(SAVE_ATTEMPTS):
            if self.app.exists(plan_id):
                existing = self.app.load(plan_id, WorkPlan)
                if existing.has_applied(ctx.command_id):
                    return Outcome(existing, self.app.head(), applied=False)
                raise Conflict(
                    f"there is already a work plan for {period}; change it instead",
                    code="work_plan_exists",
                    work_plan_id=str(plan_id),
                )
            with self.app.stamping(ctx):
                plan = WorkPlan.draft(owner_id=owner_id, period=period, items=items)
            try:
                recordings = self.app.save(plan)
            except IntegrityError:
                continue
            topics = frozenset(r.notification.topic for r in recordings)
            return Outcome(plan, recordings[-1].notification.id, topics=topics)
        raise AssertionError("unreachable")

    @command
    def change_items(
        self, ctx: CommandContext, plan_id: str, items: list[dict[str, Any]], expected: int | None
    ) -> Outcome[WorkPlan]:
        self._check_links(ctx.principal, items)
        return self._as_owner(ctx, plan_id, lambda p: p.change_items(items), expected)

    @command
    def submit(self, ctx: CommandContext, plan_id: str, expected: int | None) -> Outcome[WorkPlan]:
        return self._as_owner(ctx, plan_id, lambda p: p.submit(), expected)

    @command
    def submit_summary(
        self,
        ctx: CommandContext,
        plan_id: str,
        text: str,
        outcomes: list[dict[str, Any]],
        expected: int | None,
    ) -> Outcome[WorkPlan]:
        return self._as_owner(ctx, plan_id, lambda p: p.submit_summary(text, outcomes), expected)

    @command
    def edit(
        self,
        ctx: CommandContext,
        plan_id: str,
        items: list[dict[str, Any]],
        comment: str | None,
        expected: int | None,
    ) -> Outcome[WorkPlan]:
        self._check_links(ctx.principal, items)
        reviewer = ctx.principal.id
        return self._as_reviewer(
            ctx, plan_id, lambda p: p.edit_as_reviewer(reviewer, items, comment), expected
        )

    @command
    def return_plan(
        self, ctx: CommandContext, plan_id: str, comment: str, expected: int | None
    ) -> Outcome[WorkPlan]:
        reviewer = ctx.principal.id
        return self._as_reviewer(
            ctx, plan_id, lambda p: p.return_to_owner(reviewer, comment), expected
        )

    @command
    def accept(
        self, ctx: CommandContext, plan_id: str, comment: str | None, expected: int | None
    ) -> Outcome[WorkPlan]:
        reviewer = ctx.principal.id
        return self._as_reviewer(ctx, plan_id, lambda p: p.accept(reviewer, comment), expected)

    @command
    def comment(
        self, ctx: CommandContext, plan_id: str, text: str, expected: int | None
    ) -> Outcome[WorkPlan]:
        """The owner, or its reviewer, remarks on a submitted plan."""
        principal = ctx.principal
        principal.require("work_plans:write")

        def authorize(plan: WorkPlan) -> None:
            self._require_visible(principal, plan)
            if principal.acting_for != plan.owner_id:
                principal.require("work_plans:review")

        return self.app.change(
            ctx,
            plan_id,
            WorkPlan,
            lambda p: p.comment(principal.acting_for, text),
            expected_version=expected,
            authorize=authorize,
        )

    @staticmethod
    def reviewed_teams(principal: Principal, team_id: str | None) -> frozenset[str] | None:
        """The teams whose missing plans the caller may list: a manager its own (another
        team is unknown), an admin any (None: all)."""
        principal.require("work_plans:review")
        teams = None
        if principal.role is not Role.ADMIN and not principal.training:
            teams = principal.managed_team_ids
        if team_id is None:
            return teams
        if teams is not None and team_id not in teams:
            raise NotFound(f"team {team_id} not found")
        return frozenset({team_id})

    def get_plan(self, principal: Principal, plan_id: str) -> WorkPlan:
        principal.require("work_plans:read")
        plan = self.app.load(plan_id, WorkPlan)
        self._require_visible(principal, plan)
        return plan

    # rules

    @staticmethod
    def _require_visible(principal: Principal, plan: WorkPlan) -> None:
        principal.require_sees_owner(plan.owner_id, "work plan", plan.id)

    def _as_owner(
        self,
        ctx: CommandContext,
        plan_id: str,
        decide: Callable[[WorkPlan], None],
        expected: int | None,
    ) -> Outcome[WorkPlan]:
        principal = ctx.principal
        principal.require("work_plans:write")

        def authorize(plan: WorkPlan) -> None:
            self._require_visible(principal, plan)
            if principal.acting_for != plan.owner_id and not principal.training:
                raise PermissionDenied(
                    "only the plan's owner changes, submits and summarises it; reviewers "
                    "use /edit, /return and /accept",
                    code="not_the_owner",
                )

        return self.app.change(
            ctx, plan_id, WorkPlan, decide, expected_version=expected, authorize=authorize
        )

    def _as_reviewer(
        self,
        ctx: CommandContext,
        plan_id: str,
        decide: Callable[[WorkPlan], None],
        expected: int | None,
    ) -> Outcome[WorkPlan]:
        principal = ctx.principal
        principal.require("work_plans:read")

        def authorize(plan: WorkPlan) -> None:
            self._require_visible(principal, plan)
            principal.require("work_plans:review")

        return self.app.change(
            ctx, plan_id, WorkPlan, decide, expected_version=expected, authorize=authorize
        )

    def _check_links(self, principal: Principal, items: list[dict[str, Any]]) -> None:
        for index, item in enumerate(items):
            for link in ITEM_LINKS:
                if item.get(link) is not None:
                    kind = LINK_KINDS[link]
                    record_id = item[link]
                    field = f"items[{index}].{link}"
                    if kind == "task":
                        self._check_task(principal, record_id, field)
                    else:
                        self.rules.record(principal, kind, record_id, field)

    def _check_task(self, principal: Principal, task_id: str, field: str) -> None:
        try:
            task = self.app.load(task_id, Task)
            principal.require_sees_owner(task.assignee_id, "task", task_id)
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no task {task_id}")]) from None
