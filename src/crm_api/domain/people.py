"""People: users, teams, roles, and who may see and change what."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import (
    FieldError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"
    ASSISTANT = "assistant"
    SERVICE_AGENT = "service_agent"
    AUDITOR = "auditor"
    INTEGRATOR = "integrator"


OWNER_ROLES = frozenset({Role.REP, Role.MANAGER})

_READ_ALL = frozenset(
    {
        "accounts:read",
        "contacts:read",
        "users:read",
        "teams:read",
        "history:read",
        "products:read",
        "opportunities:read",
        "quotes:read",
        "forecasts:read",
        "analytics:read",
        "orders:read",
        "invoices:read",
    }
)
_SALES = _READ_ALL | {
    "accounts:write",
    "contacts:write",
    "opportunities:write",
    "quotes:write",
    "forecasts:write",
    "orders:write",
    "invoices:write",
}
# Daily work (docs/work.md): activities, tasks, work plans, meeting notices, matter reports.
_WORK_READ = frozenset(
    {"activities:read", "tasks:read", "work_plans:read", "notices:read", "matter_reports:read"}
)
_WORK = _WORK_READ | {
    "activities:write",
    "tasks:write",
    "work_plans:write",
    "notices:write",
    "matter_reports:write",
}
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: _SALES
    | _WORK
    | {"work_plans:review"}
    | {
        "accounts:transfer",
        "users:write",
        "teams:write",
        "api_keys:write",
        "api_keys:read",
        "products:write",
        "operations:read",
        "operations:write",
        "events:read",
        "webhooks:read",
        "webhooks:write",
    },
    # Only managers approve quotes: the authority is their approval_limit_pct.
    Role.MANAGER: _SALES | _WORK | {"accounts:transfer", "quotes:approve", "work_plans:review"},
    Role.REP: _SALES | _WORK,
    Role.ASSISTANT: _SALES | _WORK,
    Role.SERVICE_AGENT: _READ_ALL,
    Role.AUDITOR: _READ_ALL | _WORK_READ | {"operations:read", "events:read", "webhooks:read"},
    # Integrators keep the catalogue in step with an ERP; prices are not a sales decision.
    Role.INTEGRATOR: _READ_ALL
    | {
        "activities:read",
        "activities:write",
        "products:write",
        "orders:write",
        "invoices:write",
        "events:read",
        "webhooks:read",
        "webhooks:write",
    },
}
# Data protection (docs/data-protection.md): only admins erase personal data; exporting one's
# own records is audited and capped; managers watch their team's exports.
_DATA_PROTECTION: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"contacts:erase", "data:export", "exports:read"}),
    Role.MANAGER: frozenset({"data:export", "exports:read"}),
    Role.REP: frozenset({"data:export"}),
    Role.ASSISTANT: frozenset({"data:export"}),
    Role.AUDITOR: frozenset({"data:export", "exports:read"}),
}
for _role, _scopes in _DATA_PROTECTION.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _scopes
# Service (docs/service.md): assets, service requests, and their routing and SLA policies.
_SERVICE_READ = frozenset({"assets:read", "service:read"})
_SERVICE_LEAD = _SERVICE_READ | {
    "assets:write",
    "service:open",
    "service:write",
    "service:assign",
    "service:admin",
}
_SERVICE: dict[Role, frozenset[str]] = {
    Role.ADMIN: _SERVICE_LEAD,
    Role.MANAGER: _SERVICE_LEAD,
    Role.REP: _SERVICE_READ | {"assets:write", "service:open"},
    Role.ASSISTANT: _SERVICE_READ | {"assets:write", "service:open"},
    Role.SERVICE_AGENT: _SERVICE_READ | {"service:open", "service:write"},
    Role.AUDITOR: _SERVICE_READ,
}
for _role, _scopes in _SERVICE.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _scopes
# Alerts (docs/analytics.md): who sees which is decided per alert (owner, team, assignee).
_ALERTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"alerts:read", "alerts:acknowledge", "alerts:tick"}),
    Role.MANAGER: frozenset({"alerts:read", "alerts:acknowledge"}),
    Role.REP: frozenset({"alerts:read", "alerts:acknowledge"}),
    Role.ASSISTANT: frozenset({"alerts:read", "alerts:acknowledge"}),
    Role.SERVICE_AGENT: frozenset({"alerts:read", "alerts:acknowledge"}),
    Role.AUDITOR: frozenset({"alerts:read"}),
    Role.INTEGRATOR: frozenset({"alerts:read"}),
}
for _role, _scopes in _ALERTS.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _scopes
# Inbound email (docs/service.md): a mail gateway's key posts messages; managers and admins
# work the unmatched inbox.
_INBOUND: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"inbound:write", "inbound:read", "inbound:link"}),
    Role.MANAGER: frozenset({"inbound:read", "inbound:link"}),
    Role.INTEGRATOR: frozenset({"inbound:write"}),
}
for _role, _scopes in _INBOUND.items():
    PERMISSIONS[_role] = PERMISSIONS[_role] | _scopes
# Custom fields (docs/custom-fields.md): only admins define them; every role reads the
# definitions (UIs render forms from them). Values are written with the record they belong to.
for _role in Role:
    PERMISSIONS[_role] = PERMISSIONS[_role] | {"fields:read"}
PERMISSIONS[Role.ADMIN] = PERMISSIONS[Role.ADMIN] | {"fields:define"}
ALL_SCOPES = frozenset().union(*PERMISSIONS.values())


@dataclass(frozen=True)
class Principal:
    """Who is calling, with what rights, over whose records.

    `visible_owners` is None for roles that see every owner's records (admin, auditor, service
    agent, integrator), else the owner ids whose accounts this caller may see; `on_behalf_of` is
    the rep an assistant acts for, and then narrows what it sees to that rep's records.
    """

    id: str
    kind: str
    role: Role
    name: str = ""
    scopes: frozenset[str] | None = None
    visible_owners: frozenset[str] | None = frozenset()
    managed_team_ids: frozenset[str] = frozenset()
    on_behalf_of: str | None = None
    training: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def permits(self, permission: str) -> bool:
        if self.training:
            return True
        if permission not in PERMISSIONS[self.role]:
            return False
        return self.scopes is None or permission in self.scopes or "*" in self.scopes

    def require(self, permission: str) -> None:
        if self.permits(permission):
            if (
                self.role is Role.ASSISTANT
                and self.on_behalf_of is None
                and permission.endswith(":write")
                and not self.training
            ):
                raise PermissionDenied(
                    "an assistant writes on behalf of a rep: send X-On-Behalf-Of: <rep id>",
                    code="on_behalf_of_required",
                )
            return
        if self.role is Role.AUDITOR and not permission.endswith(":read"):
            # Every command an auditor is refused (approve, transfer, acknowledge, erase, …),
            # not only the `:write` ones, is refused for the same reason.
            raise PermissionDenied(
                "auditors read everything and write nothing", code="read_only_role"
            )
        if self.scopes is not None and permission in PERMISSIONS[self.role]:
            raise PermissionDenied(
                f"this API key lacks the scope '{permission}'", code="insufficient_scope"
            )
        raise PermissionDenied(f"role '{self.role}' may not do '{permission}'")

    def sees_owner(self, owner_id: str) -> bool:
        if self.training or self.visible_owners is None:
            return True
        return owner_id in self.visible_owners

    def require_sees_owner(self, owner_id: str, what: str, record_id: object) -> None:
        """Records the caller may not see are reported as missing: existence never leaks."""
        if not self.sees_owner(owner_id):
            raise NotFound(f"{what} {record_id} not found")

    @property
    def acting_for(self) -> str:
        return self.on_behalf_of or self.id


def visible_owners_for(
    role: Role,
    user_id: str,
    team_member_ids: Iterable[str] = (),
    assists: Iterable[str] = (),
    on_behalf_of: str | None = None,
) -> frozenset[str] | None:
    """The owners whose records a user sees: everyone's for the roles that read all."""
    if on_behalf_of is not None:
        return frozenset({on_behalf_of})
    if role is Role.MANAGER:
        return frozenset({user_id, *team_member_ids})
    if role is Role.REP:
        return frozenset({user_id})
    if role is Role.ASSISTANT:
        return frozenset(assists)
    return None


def check_on_behalf_of(role: Role, assists: Iterable[str], rep_id: str) -> None:
    if role is not Role.ASSISTANT:
        raise PermissionDenied(
            "only assistants may act on behalf of another user", code="not_an_assistant"
        )
    if rep_id not in set(assists):
        raise PermissionDenied(f"you do not assist user {rep_id}", code="not_assisting")


def _check_limit(role: Role, approval_limit_pct: Decimal | None) -> list[FieldError]:
    errors = []
    if approval_limit_pct is not None:
        if role is not Role.MANAGER:
            errors.append(FieldError("approval_limit_pct", "only managers have an approval limit"))
        elif not Decimal(0) <= approval_limit_pct <= Decimal(100):
            errors.append(FieldError("approval_limit_pct", "must be between 0 and 100"))
    return errors


def _check_assists(role: Role, assists: list[str], user_id: str | None = None) -> list[FieldError]:
    if assists and role is not Role.ASSISTANT:
        return [FieldError("assists", "only assistants assist reps")]
    if user_id is not None and user_id in assists:
        return [FieldError("assists", "a user cannot assist itself")]
    return []


class User(CrmAggregate):
    id: UUID
    kind = "user"

    @event("Registered")
    def __init__(
        self,
        name: str,
        email: str,
        role: str,
        team_id: str | None,
        approval_limit_pct: Decimal | None,
        assists: list[str],
    ) -> None:
        self.name = name
        self.email = email
        self.role = Role(role)
        self.team_id = team_id
        self.approval_limit_pct = approval_limit_pct
        self.assists = list(assists)
        self.active = True

    @classmethod
    def register(
        cls,
        *,
        name: str,
        email: str,
        role: Role,
        team_id: str | None = None,
        approval_limit_pct: Decimal | None = None,
        assists: list[str] | None = None,
        id: Any = None,
    ) -> User:
        assists = list(assists or [])
        errors = _check_limit(role, approval_limit_pct) + _check_assists(role, assists)
        if errors:
            raise ValidationFailed(errors)
        return cls.with_id(
            id,
            name=name,
            email=email.lower(),
            role=role.value,
            team_id=team_id,
            approval_limit_pct=approval_limit_pct,
            assists=assists,
        )

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if "email" in changes:
            changes["email"] = changes["email"].lower()
        role = Role(changes.get("role", self.role))
        limit = changes.get("approval_limit_pct", self.approval_limit_pct)
        if (
            "role" in changes
            and role is not Role.MANAGER
            and "approval_limit_pct" not in changes
            and self.approval_limit_pct is not None
        ):
            changes["approval_limit_pct"] = limit = None
        assists = changes.get("assists", self.assists)
        if (
            "role" in changes
            and role is not Role.ASSISTANT
            and "assists" not in changes
            and self.assists
        ):
            changes["assists"] = assists = []
        errors = _check_limit(role, limit) + _check_assists(role, assists, str(self.id))
        if errors:
            raise ValidationFailed(errors)
        if "role" in changes:
            changes["role"] = role.value
        if changes:
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, Role(value) if key == "role" else value)

    def deactivate(self) -> None:
        if not self.active:
            raise InvalidTransition("the user is already deactivated")
        self._deactivated()

    @event("Deactivated")
    def _deactivated(self) -> None:
        self.active = False

    def reactivate(self) -> None:
        if self.active:
            raise InvalidTransition("the user is already active")
        self._reactivated()

    @event("Reactivated")
    def _reactivated(self) -> None:
        self.active = True


class Team(CrmAggregate):
    id: UUID
    kind = "team"

    @event("Formed")
    def __init__(self, name: str, manager_id: str | None) -> None:
        self.name = name
        self.manager_id = manager_id

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
