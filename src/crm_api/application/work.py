"""What the work-management services share: finding the users and the records a command names,
checked as the caller may see them (a record the caller cannot see is an unknown record)."""

from __future__ import annotations

from typing import Any

from crm_api.application.app import CrmApplication
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from crm_api.domain.people import OWNER_ROLES, Principal, Role, User


class WorkRules:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    def user(self, user_id: str, field: str, roles: frozenset[Role] | None = None) -> User:
        """An active user (of one of `roles`), else 422 naming the field."""
        try:
            user = self.app.load(user_id, User, "user")
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no user {user_id}")]) from None
        if not user.active or (roles is not None and user.role not in roles):
            kinds = " or ".join(sorted(r.value for r in roles)) if roles else "user"
            raise ValidationFailed([FieldError(field, f"must be an active {kinds}")])
        return user

    def owner(self, principal: Principal, owner_id: str, field: str) -> User:
        """A rep or manager the caller may write for (itself, its team, the rep it acts for)."""
        owner = self.user(owner_id, field, OWNER_ROLES)
        if not principal.sees_owner(owner_id):
            raise PermissionDenied(
                "you may only act for yourself or for the reps you manage or act for",
                code="owner_not_allowed",
            )
        return owner

    def account(self, principal: Principal, account_id: str, field: str = "account_id") -> Account:
        try:
            account = self.app.load(account_id, Account)
            principal.require_sees_owner(account.owner_id, "account", account_id)
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no account {account_id}")]) from None
        return account

    def record(self, principal: Principal, kind: str, record_id: str, field: str) -> Any:
        """A record of any aggregate named by its kind (`opportunity`, `service_request`, …),
        found without importing its module; one on an account the caller cannot see is
        unknown."""
        try:
            record: Any = self.app.load(record_id, CrmAggregate, kind)
        except NotFound:
            record = None
        if record is None or record.kind != kind:
            raise ValidationFailed([FieldError(field, f"no {kind.replace('_', ' ')} {record_id}")])
        account_id = str(record.id) if kind == "account" else getattr(record, "account_id", None)
        if account_id is not None:
            self.account(principal, account_id, field)
        return record

    def of_account(
        self, principal: Principal, account_id: str, kind: str, record_id: str | None, field: str
    ) -> None:
        """A contact, opportunity or service request must belong to the activity's account."""
        if record_id is None:
            return
        record = self.record(principal, kind, record_id, field)
        if getattr(record, "account_id", None) != account_id:
            raise ValidationFailed(
                [FieldError(field, f"the {kind.replace('_', ' ')} is not of account {account_id}")]
            )
