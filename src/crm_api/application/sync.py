"""Offline sync: commands a device recorded while offline, applied in order, each on its own.

Every command is answered by itself: `applied`; `duplicate` (its command_id was applied
before: retrying a batch is harmless); `conflict` (the record is no longer at the
`expected_version` the device read, or an earlier command of the batch on the same record
conflicted: the device must see the newer state first); or `rejected` (a problem). A
command's `command_id` is remembered with a fingerprint of the command in the Idempotency-Key
store (key `sync:<command_id>` of the caller); every event also records the command id it came
from, so a command applied before its key expired is still recognised by its record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_api.application.app import CommandContext, CrmApplication, Outcome
from crm_api.application.idempotency import (
    IdempotencyStore,
    InFlight,
    Mismatch,
    Replay,
    command_id_for,
)
from crm_api.domain.base import CrmAggregate
from crm_api.domain.context import Clock
from crm_api.domain.errors import Conflict, DomainError, NotFound, VersionConflict
from crm_api.domain.people import Principal

MAX_COMMANDS = 500
MAX_EVENTS = 100
"""A conflict lists at most this many of the record's events since expected_version."""

APPLIED = "applied"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
REJECTED = "rejected"


class CommandIdReused(DomainError):
    code = "command_id_reused"
    title = "command_id reused for another command"


class BlockedByConflict(Conflict):
    code = "blocked_by_conflict"
    title = "An earlier command on this record conflicted"


class CommandInFlight(Conflict):
    code = "command_in_flight"
    title = "Command in progress"


@dataclass(frozen=True)
class SyncCommand:
    """One offline command, its body already checked (`run` carries it)."""

    command_id: str
    fingerprint: str
    aggregate: type[CrmAggregate]
    creates: bool
    target_id: str | None
    expected_version: int | None
    occurred_at: datetime | None
    run: Callable[[CommandContext, str | None, int | None], Outcome[Any]]
    """Runs the application command: (context, target id, expected version) → outcome."""
    get: Callable[[Principal, str], CrmAggregate]
    """Reads the record as the caller may see it (NotFound otherwise)."""


@dataclass(frozen=True)
class SyncResult:
    status: str
    record_id: str | None = None
    record: CrmAggregate | None = None
    events: list[Any] = field(default_factory=list)
    error: DomainError | None = None
    position: int = 0


class SyncService:
    def __init__(self, app: CrmApplication, idempotency: IdempotencyStore, clock: Clock) -> None:
        self.app = app
        self.idempotency = idempotency
        self.clock = clock

    def apply(
        self,
        principal: Principal,
        correlation_id: str,
        commands: Sequence[SyncCommand | DomainError],
    ) -> list[SyncResult]:
        """Each command in order; a DomainError in the list is a command already rejected."""
        conflicted: set[str] = set()
        results = []
        for command in commands:
            if isinstance(command, DomainError):
                results.append(SyncResult(REJECTED, error=command))
                continue
            result = self._one(principal, correlation_id, command, conflicted)
            if result.status == CONFLICT and result.record_id is not None:
                conflicted.add(result.record_id)
            results.append(result)
        return results

    def _one(
        self,
        principal: Principal,
        correlation_id: str,
        command: SyncCommand,
        conflicted: set[str],
    ) -> SyncResult:
        target = command.target_id
        if target is not None and target in conflicted:
            return self._conflict(
                principal,
                command,
                target,
                BlockedByConflict(
                    f"an earlier command of this batch on {command.aggregate.kind} {target} "
                    "conflicted; send this one again after resolving it"
                ),
            )
        key = f"sync:{command.command_id}"
        claimed = self.idempotency.claim(principal.id, key, command.fingerprint, self.clock.now())
        if isinstance(claimed, Mismatch):
            return SyncResult(
                REJECTED,
                error=CommandIdReused(
                    f"command_id {command.command_id} was applied with another type, target or "
                    "body; give each command its own command_id"
                ),
            )
        if isinstance(claimed, InFlight):
            return SyncResult(
                REJECTED,
                error=CommandInFlight(
                    f"command {command.command_id} is being applied by another request; retry later"
                ),
            )
        if isinstance(claimed, Replay):
            record_id = claimed.body.decode()
            return SyncResult(DUPLICATE, record_id, self._visible(principal, command, record_id))
        ctx = CommandContext(
            principal, command_id_for(principal.id, key), correlation_id, command.occurred_at
        )
        try:
            outcome = command.run(ctx, target, command.expected_version)
        except VersionConflict as error:
            self.idempotency.release(principal.id, key)
            assert target is not None
            return self._conflict(principal, command, target, error)
        except DomainError as error:
            self.idempotency.release(principal.id, key)
            return SyncResult(REJECTED, error=error)
        except BaseException:
            self.idempotency.release(principal.id, key)
            raise
        record = outcome.record
        self.idempotency.complete(principal.id, key, 200, {}, str(record.id).encode())
        status = APPLIED if outcome.applied else DUPLICATE
        return SyncResult(status, str(record.id), record, position=outcome.position)

    def _conflict(
        self, principal: Principal, command: SyncCommand, target: str, error: DomainError
    ) -> SyncResult:
        current = self._visible(principal, command, target)
        events: list[Any] = []
        if current is not None:
            events = self.app.history(
                current.id,
                command.aggregate,
                after_version=command.expected_version or 0,
                limit=MAX_EVENTS,
            )
        return SyncResult(CONFLICT, target, current, events, error)

    def _visible(
        self, principal: Principal, command: SyncCommand, record_id: str
    ) -> CrmAggregate | None:
        try:
            return command.get(principal, record_id)
        except NotFound:
            return None
