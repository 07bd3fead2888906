"""The watchers: at each tick, raise the alerts that have become due and clear those whose
cause ended, as the system. Work is picked from the due-time tables of the alerts read model
through their indexes, so a tick costs what is due, not what exists.

Each alert's id derives from its episode (the command id is the episode key), so a tick run
twice, or by two processes at once, records it once; a clearing retried finds it cleared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from sqlalchemy import Engine

from crm_api.application.app import (
    CommandContext,
    CrmApplication,
    Outcome,
    command,
    record_id_for,
)
from crm_api.domain.accounts import Account
from crm_api.domain.alerts import ACCOUNT_DORMANT, SLA_BREACHED, Alert, DormancyRule
from crm_api.domain.errors import NotFound
from crm_api.domain.people import Principal, Role
from crm_api.domain.service import ServiceRequest
from crm_api.projections.alerts import due_clearings, due_dormant, due_sla

WATCHER = Principal(
    id="system", kind="system", role=Role.ADMIN, name="watchers", visible_owners=None
)
BATCH = 500
TICK_TOPICS = frozenset(
    get_topic(cls)
    for cls in vars(Alert).values()
    if isinstance(cls, type) and issubclass(cls, Alert.Event)
)
"""What a tick records: alerts' events."""


@dataclass(frozen=True)
class TickReport:
    raised: int
    cleared: int
    last_position: int
    """The log position after the tick's events (0 when it recorded none)."""
    more: bool = False
    """A batch was full: more may be due (run another pass once the read model caught up)."""

    @property
    def changed(self) -> bool:
        return bool(self.raised or self.cleared)


def episode_key(kind: str, subject_id: str, target: str | None, episode: int) -> str:
    """The command id of raising one alert: the same episode, the same record."""
    return f"alert:{kind}:{subject_id}:{target or '-'}:{episode}"


class Watchers:
    def __init__(self, app: CrmApplication, reader: Engine, rule: DormancyRule) -> None:
        self.app = app
        self.reader = reader
        self.rule = rule

    def tick(self, now: datetime) -> TickReport:
        """One pass: clearings first (an order that arrived ends the dormancy), then what is
        due at `now`; at most BATCH of each per pass (`more` says another pass has work)."""
        with self.reader.connect() as conn:
            clearings = due_clearings(conn, BATCH)
            batches = [
                (grade, due_dormant(conn, grade, now - timedelta(days=days), BATCH))
                for grade, days in self.rule.windows()
            ]
            sla = due_sla(conn, now, BATCH)
        more = any(len(rows) == BATCH for rows in (clearings, sla, *(b for _, b in batches)))
        dormant = [(grade, row) for grade, rows in batches for row in rows]
        positions: list[int] = []
        cleared = sum(self._clear(c["alert_id"], c["reason"], now, positions) for c in clearings)
        due = [
            {
                "alert_kind": ACCOUNT_DORMANT,
                "subject_type": "account",
                "subject_id": row["account_id"],
                "account_id": row["account_id"],
                "owner_id": row["owner_id"],
                "assignee_id": None,
                "target": None,
                "threshold_at": self.rule.dormant_since(row["last_activity_at"], grade),
                "episode": row["episode"],
            }
            for grade, row in dormant
        ]
        breached = {(r["request_id"], r["target"]) for r in sla if r["kind"] == SLA_BREACHED}
        due += [
            {
                "alert_kind": row["kind"],
                "subject_type": "service_request",
                "subject_id": row["request_id"],
                "account_id": row["account_id"],
                "owner_id": row["owner_id"],
                "assignee_id": row["assignee_id"],
                "target": row["target"],
                "threshold_at": row["threshold_at"],
                "episode": row["episode"],
            }
            for row in sla
            if row["kind"] == SLA_BREACHED or (row["request_id"], row["target"]) not in breached
        ]
        raised = self._raise_all(now, positions, due)
        return TickReport(raised, cleared, max(positions, default=0), more)

    def _context(self, command_id: str, now: datetime) -> CommandContext:
        return CommandContext(
            principal=WATCHER, command_id=command_id, correlation_id=command_id, occurred_at=now
        )

    def _raise_all(self, now: datetime, positions: list[int], due: list[dict[str, Any]]) -> int:
        """Raise every due alert not raised yet, in one save (a first tick after a large
        import raises thousands); if another process raised some meanwhile, the save fails as
        a whole and each is raised on its own."""
        fresh = []
        for details in due:
            key = episode_key(
                details["alert_kind"], details["subject_id"], details["target"], details["episode"]
            )
            alert_id = record_id_for(Alert, key)
            if self.app.exists(alert_id):
                continue
            with self.app.stamping(self._context(key, now)):
                fresh.append(Alert.raise_for(alert_id, **details))
        if not fresh:
            return 0
        try:
            recordings = self.app.save(*fresh)
        except IntegrityError:
            return sum(self._raise(now, positions, **details) for details in due)
        positions.append(recordings[-1].notification.id)
        return len(fresh)

    def _raise(self, now: datetime, positions: list[int], **details: Any) -> int:
        key = episode_key(
            details["alert_kind"], details["subject_id"], details["target"], details["episode"]
        )
        try:
            outcome = self.app.create(
                self._context(key, now),
                Alert,
                lambda alert_id: [Alert.raise_for(alert_id, **details)],
            )
        except IntegrityError:
            return 0
        return _count(outcome, positions)

    def _clear(self, alert_id: str, reason: str, now: datetime, positions: list[int]) -> int:
        try:
            outcome = self.app.change(
                self._context(f"clear:{alert_id}", now),
                alert_id,
                Alert,
                lambda alert: _cleared(alert, reason),
            )
        except NotFound:
            return 0
        return _count(outcome, positions)


def _cleared(alert: Alert, reason: str) -> None:
    alert.clear(reason)


def _count(outcome: Outcome[Any], positions: list[int]) -> int:
    if outcome.applied and outcome.topics:
        positions.append(outcome.position)
        return 1
    return 0


class AlertService:
    """What people do with alerts: read them (within what they may see), acknowledge them."""

    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def acknowledge(
        self, ctx: CommandContext, alert_id: str, expected_version: int | None
    ) -> Outcome[Alert]:
        ctx.principal.require("alerts:acknowledge")
        return self.app.change(
            ctx,
            alert_id,
            Alert,
            lambda alert: alert.acknowledge(),
            expected_version=expected_version,
            authorize=self.visible_to(ctx.principal),
        )

    def get_alert(self, principal: Principal, alert_id: str) -> Alert:
        principal.require("alerts:read")
        alert = self.app.load(alert_id, Alert)
        self.visible_to(principal)(alert)
        return alert

    def visible_to(self, principal: Principal) -> Callable[[Alert], None]:
        """A service agent sees the alerts on the requests assigned to it (now); others see
        the alerts on the accounts of the owners they see (everyone's for admins and
        auditors), by the account's current owner."""

        def authorize(alert: Alert) -> None:
            if principal.role is Role.SERVICE_AGENT and not principal.training:
                if _assignee_of(self.app, alert) != principal.id:
                    raise NotFound(f"alert {alert.id} not found")
                return
            account = self.app.load(alert.account_id, Account)
            principal.require_sees_owner(account.owner_id, "alert", alert.id)

        return authorize


def _assignee_of(app: CrmApplication, alert: Alert) -> str | None:
    if alert.subject_type != "service_request":
        return None
    request: Any = app.load(alert.subject_id, ServiceRequest)
    return str(request.assignee_id) if request.assignee_id else None
