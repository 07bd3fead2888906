"""GraphQL `sync(commands: [...])`: the same batch as POST /api/v1/sync, answered the same way.
A command's `body` is the REST body as JSON (snake_case field names, as REST takes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from anyio import to_thread
from strawberry.scalars import JSON

from crm_api.api.graphql.context import Info
from crm_api.api.rest.sync import run_sync
from crm_api.application.sync import MAX_COMMANDS
from crm_api.domain.errors import FieldError, ValidationFailed


@strawberry.input(description="The record a command acts on (no id for a create).")
class SyncTargetInput:
    type: str
    id: strawberry.ID | None = None


@strawberry.input(description="One command recorded offline (see POST /api/v1/sync).")
class SyncCommandInput:
    command_id: str
    type: str
    target: SyncTargetInput
    body: JSON = strawberry.field(default_factory=dict)
    expected_version: int | None = None
    occurred_at: datetime | None = None


@strawberry.type(description="One command's answer, in request order.")
class SyncCommandResult:
    index: int
    command_id: str | None
    status: str = strawberry.field(description="applied, duplicate, conflict or rejected")
    target: JSON | None = strawberry.field(description="{type, id} of the record.")
    version: int | None
    record: JSON | None = strawberry.field(description="The record now, as REST shows it.")
    events: JSON | None = strawberry.field(
        description="conflict: the record's events after expectedVersion (REST history entries)."
    )
    problem: JSON | None = strawberry.field(description="The RFC 9457 problem, if any.")


@strawberry.type
class SyncPayload:
    results: list[SyncCommandResult]
    position: int


def _command(given: SyncCommandInput) -> dict[str, Any]:
    command: dict[str, Any] = {
        "command_id": given.command_id,
        "type": given.type,
        "target": {"type": given.target.type},
        "body": given.body,
    }
    if given.target.id is not None:
        command["target"]["id"] = str(given.target.id)
    if given.expected_version is not None:
        command["expected_version"] = given.expected_version
    if given.occurred_at is not None:
        command["occurred_at"] = given.occurred_at
    return command


@strawberry.type
class SyncMutation:
    @strawberry.mutation(
        description=f"Apply 1–{MAX_COMMANDS} commands recorded offline, in order; each is "
        "answered applied, duplicate, conflict or rejected."
    )
    async def sync(self, info: Info, commands: list[SyncCommandInput]) -> SyncPayload:
        if not 1 <= len(commands) <= MAX_COMMANDS:
            raise ValidationFailed(
                [FieldError("commands", f"send 1 to {MAX_COMMANDS} commands per batch")]
            )
        context = info.context
        ctx = await context.command(None, "")
        answer = await to_thread.run_sync(
            run_sync,
            context.services,
            ctx.principal,
            ctx.correlation_id,
            [_command(c) for c in commands],
        )
        return SyncPayload(
            results=[SyncCommandResult(**_json_ready(r)) for r in answer["results"]],
            position=answer["position"],
        )


def _json_ready(result: dict[str, Any]) -> dict[str, Any]:
    """History entries hold datetimes; JSON scalars need plain values."""
    events = result["events"]
    if events is not None:
        events = [
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in e.items()}
            for e in events
        ]
    return {**result, "events": events}
