"""Mutations: the REST commands, through the same services, answering with the record once
the read models show it (read-your-writes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from anyio import to_thread

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.inputs import (
    CreateAccountInput,
    CreateContactInput,
    CreateTeamInput,
    CreateUserInput,
    UpdateAccountInput,
    UpdateContactInput,
    UpdateTeamInput,
    UpdateUserInput,
    reject_nulls,
    validated,
)
from crm_api.api.graphql.types import Account, Contact, Team, User
from crm_api.api.rest.accounts import AccountCreate, AccountUpdate, Transfer, account_details
from crm_api.api.rest.contacts import ContactCreate, ContactUpdate
from crm_api.api.rest.teams import TeamCreate, TeamUpdate
from crm_api.api.rest.users import UserCreate, UserUpdate
from crm_api.application.accounts import account_view, contact_view
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.directory import team_view, user_view
from crm_api.domain.base import CrmAggregate

A = TypeVar("A", bound=CrmAggregate)

IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(
        description="Retrying with the same key is recognised and never recorded twice."
    ),
]
IfMatch = Annotated[
    int | None,
    strawberry.argument(description="The version you read: a stale one is a version_conflict."),
]


async def _run(
    info: Info,
    idempotency_key: str | None,
    command: Callable[[CommandContext], Outcome[A]],
    view: Callable[[A], dict[str, Any]],
) -> dict[str, Any]:
    context = info.context
    ctx = await context.command(idempotency_key, _fingerprint(info))
    services = context.services

    def run() -> dict[str, Any]:
        outcome = command(ctx)
        services.wait_for(outcome.position, outcome.topics)
        return view(outcome.record)

    return await to_thread.run_sync(run)


def _fingerprint(info: Info) -> str:
    """The mutation and its arguments, as an Idempotency-Key must always mean the same."""
    field = info.selected_fields[0]
    raw = json.dumps([field.name, field.arguments], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _id_or_none(value: Any) -> str | None:
    return str(value) if value else None


@strawberry.type
class AccountMutation:
    @strawberry.mutation
    async def create_account(
        self,
        info: Info,
        input: CreateAccountInput,
        idempotency_key: IdempotencyKey = None,
    ) -> Account:
        details = account_details(validated(AccountCreate, input))
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: info.context.services.accounts.open_account(ctx, **details),
            account_view,
        )
        return Account.from_row(row)

    @strawberry.mutation
    async def update_account(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateAccountInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Account:
        changes = account_details(validated(AccountUpdate, input))
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.change_account(ctx, id, changes, if_match),
            account_view,
        )
        return Account.from_row(row)

    @strawberry.mutation
    async def archive_account(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Account:
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.archive_account(ctx, id, True, if_match),
            account_view,
        )
        return Account.from_row(row)

    @strawberry.mutation
    async def restore_account(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Account:
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.archive_account(ctx, id, False, if_match),
            account_view,
        )
        return Account.from_row(row)

    @strawberry.mutation
    async def transfer_account_ownership(
        self,
        info: Info,
        id: strawberry.ID,
        to_owner_id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Account:
        body = validated(Transfer, {"to_owner_id": to_owner_id, "reason": reason})
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.transfer_ownership(
                ctx, id, str(body.to_owner_id), body.reason, if_match
            ),
            account_view,
        )
        return Account.from_row(row)


@strawberry.type
class ContactMutation:
    @strawberry.mutation
    async def create_contact(
        self,
        info: Info,
        input: CreateContactInput,
        idempotency_key: IdempotencyKey = None,
    ) -> Contact:
        body = validated(ContactCreate, input)
        details = body.model_dump(exclude={"account_id"})
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.add_contact(ctx, str(body.account_id), **details),
            contact_view,
        )
        return Contact.from_row(row)

    @strawberry.mutation
    async def update_contact(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateContactInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Contact:
        changes = validated(ContactUpdate, input).model_dump(exclude_unset=True)
        reject_nulls(changes, "name")
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.change_contact(ctx, id, changes, if_match),
            contact_view,
        )
        return Contact.from_row(row)

    @strawberry.mutation
    async def archive_contact(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Contact:
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.archive_contact(ctx, id, True, if_match),
            contact_view,
        )
        return Contact.from_row(row)

    @strawberry.mutation
    async def restore_contact(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Contact:
        accounts = info.context.services.accounts
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: accounts.archive_contact(ctx, id, False, if_match),
            contact_view,
        )
        return Contact.from_row(row)


@strawberry.type
class DirectoryMutation:
    @strawberry.mutation
    async def create_user(
        self,
        info: Info,
        input: CreateUserInput,
        idempotency_key: IdempotencyKey = None,
    ) -> User:
        body = validated(UserCreate, input)
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.register_user(
                ctx,
                name=body.name,
                email=str(body.email),
                role=body.role,
                team_id=_id_or_none(body.team_id),
                approval_limit_pct=body.approval_limit_pct,
                assists=[str(rep_id) for rep_id in body.assists],
            ),
            user_view,
        )
        return User.from_row(row)

    @strawberry.mutation
    async def update_user(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateUserInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> User:
        changes = validated(UserUpdate, input).model_dump(exclude_unset=True)
        reject_nulls(changes, "name", "email", "role", "assists")
        if "team_id" in changes:
            changes["team_id"] = _id_or_none(changes["team_id"])
        if "assists" in changes:
            changes["assists"] = [str(rep_id) for rep_id in changes["assists"]]
        if "email" in changes:
            changes["email"] = str(changes["email"])
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.change_user(ctx, id, changes, if_match),
            user_view,
        )
        return User.from_row(row)

    @strawberry.mutation
    async def deactivate_user(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> User:
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.set_active(ctx, id, False, if_match),
            user_view,
        )
        return User.from_row(row)

    @strawberry.mutation
    async def reactivate_user(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> User:
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.set_active(ctx, id, True, if_match),
            user_view,
        )
        return User.from_row(row)

    @strawberry.mutation
    async def create_team(
        self,
        info: Info,
        input: CreateTeamInput,
        idempotency_key: IdempotencyKey = None,
    ) -> Team:
        body = validated(TeamCreate, input)
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.form_team(
                ctx, name=body.name, manager_id=_id_or_none(body.manager_id)
            ),
            team_view,
        )
        return Team.from_row(row)

    @strawberry.mutation
    async def update_team(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateTeamInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Team:
        changes = validated(TeamUpdate, input).model_dump(exclude_unset=True)
        reject_nulls(changes, "name")
        if "manager_id" in changes:
            changes["manager_id"] = _id_or_none(changes["manager_id"])
        directory = info.context.services.directory
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: directory.change_team(ctx, id, changes, if_match),
            team_view,
        )
        return Team.from_row(row)


@strawberry.type
class Mutation(AccountMutation, ContactMutation, DirectoryMutation):
    pass
