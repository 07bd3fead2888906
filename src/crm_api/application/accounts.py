"""Commands and reads on accounts and contacts, with ownership enforced on each."""

from __future__ import annotations

from typing import Any

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    UNCHANGED,
    change_custom_fields,
    change_preferences,
    custom_fields_on_create,
    with_custom_fields,
)
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from crm_api.domain.people import OWNER_ROLES, Principal, User


def account_view(account: Account) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "name": account.name,
        "owner_id": account.owner_id,
        "industry": account.industry,
        "phone": account.phone,
        "address": account.address,
        "manual_grade": account.manual_grade,
        "external_refs": list(account.external_refs),
        "preferences": account.preferences,
        "custom_fields": account.custom_fields,
        "archived": account.archived,
        "version": account.version,
        "created_at": account.created_on,
        "updated_at": account.modified_on,
    }


def contact_view(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.id),
        "account_id": contact.account_id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "occupation": contact.occupation,
        "birth_year": contact.birth_year,
        "preferences": contact.preferences,
        "custom_fields": contact.custom_fields,
        "archived": contact.archived,
        "version": contact.version,
        "created_at": contact.created_on,
        "updated_at": contact.modified_on,
    }


class AccountService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    # accounts

    @command
    def open_account(self, ctx: CommandContext, **details: Any) -> Outcome[Account]:
        principal = ctx.principal
        principal.require("accounts:write")
        self._check_owner(principal, details["owner_id"], "owner_id")
        preferences = details.pop("preferences", None)
        custom = custom_fields_on_create(
            self.app, ctx.principal, "accounts", details.pop("custom_fields", None)
        )
        return self.app.create(
            ctx,
            Account,
            lambda account_id: [
                with_custom_fields(Account.with_id(account_id, **details), custom, preferences)
            ],
        )

    @command
    def change_account(
        self,
        ctx: CommandContext,
        account_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Account]:
        ctx.principal.require("accounts:write")
        changes = dict(changes)
        preferences = changes.pop("preferences", UNCHANGED)
        custom = changes.pop("custom_fields", None)

        def decide(account: Account) -> None:
            account.change_details(**changes)
            change_preferences(account, preferences)
            change_custom_fields(self.app, ctx.principal, account, custom)

        return self.app.change(
            ctx,
            account_id,
            Account,
            decide,
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    @command
    def archive_account(
        self, ctx: CommandContext, account_id: str, archived: bool, expected_version: int | None
    ) -> Outcome[Account]:
        ctx.principal.require("accounts:write")
        return self.app.change(
            ctx,
            account_id,
            Account,
            lambda account: account.archive() if archived else account.restore(),
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    @command
    def transfer_ownership(
        self,
        ctx: CommandContext,
        account_id: str,
        to_owner_id: str,
        reason: str | None,
        expected_version: int | None,
    ) -> Outcome[Account]:
        principal = ctx.principal
        principal.require("accounts:transfer")
        self._check_owner(principal, to_owner_id, "to_owner_id")
        return self.app.change(
            ctx,
            account_id,
            Account,
            lambda account: account.transfer_ownership(to_owner_id, reason),
            expected_version=expected_version,
            authorize=self._visible_to(principal),
        )

    def get_account(self, principal: Principal, account_id: str) -> Account:
        principal.require("accounts:read")
        account = self.app.load(account_id, Account)
        principal.require_sees_owner(account.owner_id, "account", account_id)
        return account

    # contacts

    @command
    def add_contact(self, ctx: CommandContext, account_id: str, **details: Any) -> Outcome[Contact]:
        principal = ctx.principal
        principal.require("contacts:write")
        try:
            account = self.get_account(principal, account_id)
        except NotFound:
            raise ValidationFailed([FieldError("account_id", f"no account {account_id}")]) from None
        preferences = details.pop("preferences", None)
        custom = custom_fields_on_create(
            self.app, ctx.principal, "contacts", details.pop("custom_fields", None)
        )
        return self.app.create(
            ctx,
            Contact,
            lambda contact_id: [
                with_custom_fields(
                    Contact.add_to(account, id=contact_id, **details), custom, preferences
                )
            ],
        )

    @command
    def change_contact(
        self,
        ctx: CommandContext,
        contact_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Contact]:
        ctx.principal.require("contacts:write")
        changes = dict(changes)
        preferences = changes.pop("preferences", UNCHANGED)
        custom = changes.pop("custom_fields", None)

        def decide(contact: Contact) -> None:
            contact.change_details(**changes)
            change_preferences(contact, preferences)
            change_custom_fields(self.app, ctx.principal, contact, custom)

        return self.app.change(
            ctx,
            contact_id,
            Contact,
            decide,
            expected_version=expected_version,
            authorize=self._contact_visible_to(ctx.principal),
        )

    @command
    def archive_contact(
        self, ctx: CommandContext, contact_id: str, archived: bool, expected_version: int | None
    ) -> Outcome[Contact]:
        ctx.principal.require("contacts:write")
        return self.app.change(
            ctx,
            contact_id,
            Contact,
            lambda contact: contact.archive() if archived else contact.restore(),
            expected_version=expected_version,
            authorize=self._contact_visible_to(ctx.principal),
        )

    def get_contact(self, principal: Principal, contact_id: str) -> Contact:
        principal.require("contacts:read")
        contact = self.app.load(contact_id, Contact)
        self._contact_visible_to(principal)(contact)
        return contact

    # rules

    def _visible_to(self, principal: Principal) -> Any:
        def authorize(account: Account) -> None:
            principal.require_sees_owner(account.owner_id, "account", account.id)

        return authorize

    def _contact_visible_to(self, principal: Principal) -> Any:
        def authorize(contact: Contact) -> None:
            account = self.app.load(contact.account_id, Account)
            principal.require_sees_owner(account.owner_id, "contact", contact.id)

        return authorize

    def _check_owner(self, principal: Principal, owner_id: str, field: str) -> None:
        try:
            owner = self.app.load(owner_id, User, "user")
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no user {owner_id}")]) from None
        if not owner.active or owner.role not in OWNER_ROLES:
            raise ValidationFailed(
                [FieldError(field, "the owner must be an active rep or manager")]
            )
        if not principal.sees_owner(owner_id):
            raise PermissionDenied(
                "you may only give accounts to yourself or to the reps you manage or act for",
                code="owner_not_allowed",
            )
