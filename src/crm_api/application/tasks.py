"""Commands and reads on tasks. A manager assigns tasks to the reps of its team; anyone sets
tasks for itself (an assistant for the rep it acts for). A task is visible to its assignee
(and the assistant acting for it), the assignee's manager, whoever asked for it, admins and
auditors; whoever sees it may complete, cancel or reopen it; reassigning is a manager's."""

from __future__ import annotations

from datetime import date
from typing import Any

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.work import WorkRules
from crm_api.domain.errors import NotFound, PermissionDenied
from crm_api.domain.people import OWNER_ROLES, Principal, Role
from crm_api.domain.tasks import Task

ASSIGNERS = frozenset({Role.MANAGER, Role.ADMIN})


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "title": task.title,
        "notes": task.notes,
        "due_date": task.due_date,
        "priority": task.priority,
        "status": task.status,
        "assignee_id": task.assignee_id,
        "linked_type": task.linked_type,
        "linked_id": task.linked_id,
        "created_by": task.created_by,
        "on_behalf_of": task.on_behalf_of,
        "version": task.version,
        "created_at": task.created_on,
        "updated_at": task.modified_on,
    }


def requested_by(task: Task) -> str | None:
    return task.on_behalf_of or task.created_by


class TaskService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self.rules = WorkRules(app)

    @command
    def create_task(
        self,
        ctx: CommandContext,
        *,
        title: str,
        due_date: date,
        assignee_id: str | None = None,
        priority: str = "normal",
        notes: str | None = None,
        linked_type: str | None = None,
        linked_id: str | None = None,
    ) -> Outcome[Task]:
        principal = ctx.principal
        principal.require("tasks:write")
        assignee = assignee_id or principal.acting_for
        self._check_assignee(principal, assignee)
        if linked_type is not None and linked_id is not None:
            self.rules.record(principal, linked_type, linked_id, "linked_id")

        def build(task_id: Any) -> list[Task]:
            return [
                Task.assign(
                    task_id,
                    title=title,
                    notes=notes,
                    due_date=due_date,
                    priority=priority,
                    assignee_id=assignee,
                    linked_type=linked_type,
                    linked_id=linked_id,
                )
            ]

        return self.app.create(ctx, Task, build)

    @command
    def change_task(
        self, ctx: CommandContext, task_id: str, changes: dict[str, Any], expected: int | None
    ) -> Outcome[Task]:
        return self._act(ctx, task_id, lambda t: t.change_details(**changes), expected)

    @command
    def complete(
        self, ctx: CommandContext, task_id: str, note: str | None, expected: int | None
    ) -> Outcome[Task]:
        return self._act(ctx, task_id, lambda t: t.complete(note), expected)

    @command
    def cancel(
        self, ctx: CommandContext, task_id: str, reason: str | None, expected: int | None
    ) -> Outcome[Task]:
        return self._act(ctx, task_id, lambda t: t.cancel(reason), expected)

    @command
    def reopen(self, ctx: CommandContext, task_id: str, expected: int | None) -> Outcome[Task]:
        return self._act(ctx, task_id, lambda t: t.reopen(), expected)

    @command
    def reassign(
        self, ctx: CommandContext, task_id: str, assignee_id: str, expected: int | None
    ) -> Outcome[Task]:
        principal = ctx.principal
        principal.require("tasks:write")

        def authorize(task: Task) -> None:
            self._require_visible(principal, task)
            if principal.role not in ASSIGNERS and not principal.training:
                raise PermissionDenied("only a manager reassigns tasks", code="forbidden")
            principal.require_sees_owner(task.assignee_id, "task", task.id)
            self._check_assignee(principal, assignee_id)

        return self.app.change(
            ctx,
            task_id,
            Task,
            lambda task: task.reassign(assignee_id),
            expected_version=expected,
            authorize=authorize,
        )

    def get_task(self, principal: Principal, task_id: str) -> Task:
        principal.require("tasks:read")
        task = self.app.load(task_id, Task)
        self._require_visible(principal, task)
        return task

    # rules

    def _act(self, ctx: CommandContext, task_id: str, decide: Any, expected: int | None) -> Any:
        principal = ctx.principal
        principal.require("tasks:write")
        return self.app.change(
            ctx,
            task_id,
            Task,
            decide,
            expected_version=expected,
            authorize=lambda task: self._require_visible(principal, task),
        )

    @staticmethod
    def _require_visible(principal: Principal, task: Task) -> None:
        if principal.sees_owner(task.assignee_id) or requested_by(task) == principal.acting_for:
            return
        raise NotFound(f"task {task.id} not found")

    def _check_assignee(self, principal: Principal, assignee_id: str) -> None:
        """Anyone for itself; a manager (or admin) for the reps it sees."""
        self.rules.user(assignee_id, "assignee_id", OWNER_ROLES)
        if assignee_id == principal.acting_for:
            return
        if (
            principal.role not in ASSIGNERS or not principal.sees_owner(assignee_id)
        ) and not principal.training:
            raise PermissionDenied(
                "you may assign tasks only to yourself, or as a manager to your team's reps",
                code="assignee_not_allowed",
            )
