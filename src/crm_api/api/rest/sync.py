"""/api/v1/sync: offline clients send the commands they recorded, in order; each is answered
applied, duplicate, conflict or rejected (see crm_api/application/sync.py and docs/workspaces.md).

Command bodies are the same as the REST bodies of the same command (AccountCreate for
`account.create`, and so on), checked by the same models."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, SkipValidation
from pydantic import ValidationError as PydanticValidationError

from crm_api.api.rest import accounts as rest_accounts
from crm_api.api.rest import activities as rest_activities
from crm_api.api.rest import contacts as rest_contacts
from crm_api.api.rest import opportunities as rest_opportunities
from crm_api.api.rest import tasks as rest_tasks
from crm_api.api.rest.conventions import PROBLEMS, HistoryEntry, Strict, history_entry
from crm_api.api.rest.deps import Command, ServicesDep
from crm_api.application.accounts import account_view, contact_view
from crm_api.application.activities import activity_view
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.opportunities import opportunity_view
from crm_api.application.services import Services
from crm_api.application.sync import (
    CONFLICT,
    MAX_COMMANDS,
    SyncCommand,
    SyncResult,
)
from crm_api.application.tasks import task_view
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.activities import Activity
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import DomainError, FieldError, ValidationFailed
from crm_api.domain.opportunities import Opportunity
from crm_api.domain.people import Principal
from crm_api.domain.tasks import Task
from crm_api.errors import domain_problem_body

router = APIRouter(prefix="/api/v1/sync", tags=["sync"], responses=PROBLEMS)

FUTURE_TOLERANCE = dt.timedelta(minutes=5)
"""A device's clock may run a little ahead; occurred_at further in the future is refused."""


@dataclass(frozen=True)
class RecordType:
    aggregate: type[CrmAggregate]
    out: type[BaseModel]
    view: Callable[[Any], dict[str, Any]]
    get: Callable[[Services, Principal, str], CrmAggregate]


RECORD_TYPES: dict[str, RecordType] = {
    "account": RecordType(
        Account,
        rest_accounts.AccountOut,
        account_view,
        lambda s, p, i: s.accounts.get_account(p, i),
    ),
    "contact": RecordType(
        Contact,
        rest_contacts.ContactOut,
        contact_view,
        lambda s, p, i: s.accounts.get_contact(p, i),
    ),
    "activity": RecordType(
        Activity,
        rest_activities.ActivityOut,
        activity_view,
        lambda s, p, i: s.activities.get_activity(p, i),
    ),
    "task": RecordType(Task, rest_tasks.TaskOut, task_view, lambda s, p, i: s.tasks.get_task(p, i)),
    "opportunity": RecordType(
        Opportunity,
        rest_opportunities.OpportunityOut,
        opportunity_view,
        lambda s, p, i: s.opportunities.get_opportunity(p, i),
    ),
}

Run = Callable[[Services, CommandContext, str, Any, int | None], Outcome[Any]]


@dataclass(frozen=True)
class CommandType:
    record_type: str
    body: type[BaseModel]
    run: Run
    """(services, context, target id — None for a create, checked body, expected version)."""
    creates: bool = False


COMMAND_TYPES: dict[str, CommandType] = {
    "account.create": CommandType(
        "account",
        rest_accounts.AccountCreate,
        lambda s, ctx, _, b, __: s.accounts.open_account(ctx, **rest_accounts.account_details(b)),
        creates=True,
    ),
    "account.update": CommandType(
        "account",
        rest_accounts.AccountUpdate,
        lambda s, ctx, t, b, v: s.accounts.change_account(
            ctx, t, rest_accounts.account_details(b), v
        ),
    ),
    "contact.create": CommandType(
        "contact",
        rest_contacts.ContactCreate,
        lambda s, ctx, _, b, __: s.accounts.add_contact(
            ctx, str(b.account_id), **b.model_dump(exclude={"account_id"})
        ),
        creates=True,
    ),
    "contact.update": CommandType(
        "contact",
        rest_contacts.ContactUpdate,
        lambda s, ctx, t, b, v: s.accounts.change_contact(
            ctx, t, b.model_dump(exclude_unset=True), v
        ),
    ),
    "activity.create": CommandType(
        "activity",
        rest_activities.ActivityCreate,
        lambda s, ctx, _, b, __: s.activities.record_activity(
            ctx, **rest_activities.activity_details(b)
        ),
        creates=True,
    ),
    "activity.update": CommandType(
        "activity",
        rest_activities.ActivityUpdate,
        lambda s, ctx, t, b, v: s.activities.change_activity(
            ctx, t, rest_activities.activity_changes(b), v
        ),
    ),
    "task.create": CommandType(
        "task",
        rest_tasks.TaskCreate,
        lambda s, ctx, _, b, __: s.tasks.create_task(ctx, **rest_tasks.task_details(b)),
        creates=True,
    ),
    "task.update": CommandType(
        "task",
        rest_tasks.TaskUpdate,
        lambda s, ctx, t, b, v: s.tasks.change_task(ctx, t, rest_tasks.task_changes(b), v),
    ),
    "task.complete": CommandType(
        "task", rest_tasks.TaskNote, lambda s, ctx, t, b, v: s.tasks.complete(ctx, t, b.note, v)
    ),
    "task.cancel": CommandType(
        "task", rest_tasks.TaskCancel, lambda s, ctx, t, b, v: s.tasks.cancel(ctx, t, b.reason, v)
    ),
    "opportunity.create": CommandType(
        "opportunity",
        rest_opportunities.OpportunityCreate,
        lambda s, ctx, _, b, __: s.opportunities.open_opportunity(
            ctx, **rest_opportunities.opportunity_details(b)
        ),
        creates=True,
    ),
    "opportunity.update": CommandType(
        "opportunity",
        rest_opportunities.OpportunityUpdate,
        lambda s, ctx, t, b, v: s.opportunities.change_opportunity(
            ctx, t, rest_opportunities.opportunity_changes(b), v
        ),
    ),
    "opportunity.stage": CommandType(
        "opportunity",
        rest_opportunities.StageMove,
        lambda s, ctx, t, b, v: s.opportunities.move_stage(ctx, t, b.stage, b.occurred_at, v),
    ),
    "opportunity.win": CommandType(
        "opportunity",
        rest_opportunities.Win,
        lambda s, ctx, t, b, v: s.opportunities.win(ctx, t, b.occurred_at, v),
    ),
    "opportunity.lose": CommandType(
        "opportunity",
        rest_opportunities.Lose,
        lambda s, ctx, t, b, v: s.opportunities.lose(ctx, t, b.reason, b.occurred_at, v),
    ),
}

CommandTypeName = Literal[
    "account.create",
    "account.update",
    "contact.create",
    "contact.update",
    "activity.create",
    "activity.update",
    "task.create",
    "task.update",
    "task.complete",
    "task.cancel",
    "opportunity.create",
    "opportunity.update",
    "opportunity.stage",
    "opportunity.win",
    "opportunity.lose",
]
RecordTypeName = Literal["account", "contact", "activity", "task", "opportunity"]


class SyncTarget(Strict):
    type: RecordTypeName
    id: UUID | None = Field(
        None, description="The record (required, except for a create: leave it out there)."
    )


class SyncCommandIn(Strict):
    command_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Made by the device, unique per command (a UUID is fine). The same id "
        "again is a duplicate; with another type, target or body it is refused.",
    )
    type: CommandTypeName
    target: SyncTarget
    expected_version: int | None = Field(
        None,
        ge=1,
        description="The record's version the device last saw; a record past it is a "
        "conflict. Left out: the change applies whatever the version.",
    )
    occurred_at: dt.datetime | None = Field(
        None,
        description="When it happened on the device (business time; default now). Naive "
        "times are UTC; not more than 5 minutes in the future.",
    )
    body: dict[str, Any] = Field(
        default_factory=dict, description="The REST body of the same command."
    )


class SyncRequest(Strict):
    commands: list[SkipValidation[SyncCommandIn]] = Field(
        min_length=1,
        max_length=MAX_COMMANDS,
        description=f"1–{MAX_COMMANDS} commands, applied in order; each one is checked and "
        "answered on its own.",
    )


class SyncTargetOut(BaseModel):
    type: str
    id: UUID


class SyncOutcome(BaseModel):
    index: int
    command_id: str | None
    status: Literal["applied", "duplicate", "conflict", "rejected"]
    target: SyncTargetOut | None = Field(description="The record the command created or acted on.")
    version: int | None = Field(description="The record's version now (applied, duplicate).")
    record: dict[str, Any] | None = Field(
        description="The record now, as its REST resource shows it."
    )
    events: list[HistoryEntry] | None = Field(
        description="conflict: the record's events after expected_version (at most 100)."
    )
    problem: dict[str, Any] | None = Field(
        description="rejected: the RFC 9457 problem (errors[] names commands[i].…); conflict: "
        "why (version_conflict or blocked_by_conflict)."
    )


class SyncAnswer(BaseModel):
    results: list[SyncOutcome]
    position: int = Field(description="The log position after the batch (use as min_position).")


def _fingerprint(command: SyncCommandIn) -> str:
    data = command.model_dump(mode="json", exclude={"command_id"})
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _renamed(error: ValidationFailed, prefix: str) -> ValidationFailed:
    return ValidationFailed([FieldError(f"{prefix}.{e.field}", e.message) for e in error.errors])


def _pydantic_errors(error: PydanticValidationError, prefix: str) -> ValidationFailed:
    fields = []
    for e in error.errors():
        name = prefix
        for part in e["loc"]:
            name += f"[{part}]" if isinstance(part, int) else f".{part}"
        fields.append(FieldError(name, e["msg"]))
    return ValidationFailed(fields)


def _prepare(
    services: Services, index: int, raw: Any, now: dt.datetime
) -> tuple[SyncCommand | DomainError, str | None]:
    """Check one command; its answer's record type rides along."""
    prefix = f"commands[{index}]"
    try:
        command = SyncCommandIn.model_validate(raw)
    except PydanticValidationError as error:
        return _pydantic_errors(error, prefix), None
    spec = COMMAND_TYPES[command.type]
    record_type = RECORD_TYPES[spec.record_type]
    problems = []
    if command.target.type != spec.record_type:
        problems.append(
            FieldError(f"{prefix}.target.type", f"{command.type} acts on a {spec.record_type}")
        )
    if spec.creates and command.target.id is not None:
        problems.append(
            FieldError(
                f"{prefix}.target.id",
                "a create's record id derives from its command_id: leave target.id out",
            )
        )
    if not spec.creates and command.target.id is None:
        problems.append(FieldError(f"{prefix}.target.id", f"{command.type} names its record"))
    occurred_at = command.occurred_at
    if occurred_at is not None:
        occurred_at = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=dt.UTC)
        if occurred_at > now + FUTURE_TOLERANCE:
            problems.append(FieldError(f"{prefix}.occurred_at", "must not be in the future"))
    if problems:
        return ValidationFailed(problems), spec.record_type
    try:
        body = spec.body.model_validate(command.body)
    except PydanticValidationError as error:
        return _pydantic_errors(error, f"{prefix}.body"), spec.record_type

    def run(ctx: CommandContext, target: str | None, expected: int | None) -> Outcome[Any]:
        try:
            return spec.run(services, ctx, target or "", body, expected)
        except ValidationFailed as error:
            raise _renamed(error, f"{prefix}.body") from None

    return (
        SyncCommand(
            command_id=command.command_id,
            fingerprint=_fingerprint(command),
            aggregate=record_type.aggregate,
            creates=spec.creates,
            target_id=str(command.target.id) if command.target.id else None,
            expected_version=command.expected_version,
            occurred_at=occurred_at,
            run=run,
            get=lambda principal, record_id: record_type.get(services, principal, record_id),
        ),
        spec.record_type,
    )


def _answer(index: int, raw: Any, record_type: str | None, result: SyncResult) -> dict[str, Any]:
    command_id = raw.get("command_id") if isinstance(raw, dict) else None
    record = result.record
    shown = RECORD_TYPES[record_type] if record_type else None
    return {
        "index": index,
        "command_id": command_id if isinstance(command_id, str) else None,
        "status": result.status,
        "target": {"type": record_type, "id": result.record_id}
        if result.record_id and record_type
        else None,
        "version": record.version if record is not None else None,
        "record": shown.out.model_validate(shown.view(record)).model_dump(mode="json")
        if record is not None and shown is not None
        else None,
        "events": [history_entry(e) for e in result.events] if result.status == CONFLICT else None,
        "problem": domain_problem_body(result.error)[1] if result.error is not None else None,
    }


def run_sync(
    services: Services, principal: Principal, correlation_id: str, commands: list[Any]
) -> dict[str, Any]:
    """Apply a batch for REST and GraphQL alike; answers in request order, read-your-writes."""
    now = services.clock.now()
    prepared = [_prepare(services, i, raw, now) for i, raw in enumerate(commands)]
    results = services.sync.apply(principal, correlation_id, [command for command, _ in prepared])
    position = max((r.position for r in results), default=0)
    if position:
        services.wait_for(position)
    return {
        "results": [
            _answer(i, raw, record_type, result)
            for i, (raw, (_, record_type), result) in enumerate(
                zip(commands, prepared, results, strict=True)
            )
        ],
        "position": position or services.app.head(),
    }


@router.post("", response_model=SyncAnswer)
def sync(body: SyncRequest, ctx: Command, services: ServicesDep, response: Response) -> Any:
    """Apply commands recorded offline, in order. Always 200 when the batch itself is well
    formed (1–500 commands): each command has its own status."""
    answer = run_sync(services, ctx.principal, ctx.correlation_id, list(body.commands))
    response.headers["X-Log-Position"] = str(answer["position"])
    return answer
