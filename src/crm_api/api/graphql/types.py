"""The GraphQL object types: the REST resources in camelCase, with their relations resolved
through the operation's DataLoaders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.custom_fields import custom_field_field, custom_fields_field
from crm_api.api.graphql.pagination import page_size
from crm_api.domain.people import Principal


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    role: str = strawberry.field(description="admin, manager, rep, assistant, …")
    team_id: strawberry.ID | None
    approval_limit_pct: Decimal | None
    assists: list[strawberry.ID]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            email=row["email"],
            role=str(row["role"]),
            team_id=row["team_id"],
            approval_limit_pct=row["approval_limit_pct"],
            assists=list(row["assists"]),
            active=row["active"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @strawberry.field
    async def team(self, info: Info) -> Team | None:
        if self.team_id is None:
            return None
        (await info.context.principal()).require("teams:read")
        row = await info.context.loaders.teams.load(self.team_id)
        return Team.from_row(row) if row else None


@strawberry.type
class Team:
    id: strawberry.ID
    name: str
    manager_id: strawberry.ID | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Team:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            manager_id=row["manager_id"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @strawberry.field
    async def manager(self, info: Info) -> User | None:
        if self.manager_id is None:
            return None
        return await load_user(info, self.manager_id)


@strawberry.type
class Account:
    id: strawberry.ID
    name: str
    owner_id: strawberry.ID
    industry: str | None
    phone: str | None
    address: JSON | None
    manual_grade: str | None
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    preferences: JSON = strawberry.field(
        description="Channel, language, contact times, preference tags.", default_factory=dict
    )
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            owner_id=strawberry.ID(row["owner_id"]),
            industry=row["industry"],
            phone=row["phone"],
            address=row["address"],
            manual_grade=row["manual_grade"],
            archived=row["archived"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            preferences=row.get("preferences") or {},
            custom_fields=row.get("custom_fields") or {},
        )

    @strawberry.field
    async def owner(self, info: Info) -> User | None:
        return await load_user(info, self.owner_id)

    @strawberry.field(
        description="The account's first live (not archived) contacts by name, 50 unless `first` says."
    )
    async def contacts(self, info: Info, first: int | None = None) -> list[Contact]:
        limit = page_size(first)
        (await info.context.principal()).require("contacts:read")
        rows = await info.context.loaders.contacts_of_account.load(self.id)
        return [Contact.from_row(row) for row in rows[:limit]]


@strawberry.type
class Contact:
    id: strawberry.ID
    account_id: strawberry.ID
    name: str
    phone: str | None
    email: str | None
    occupation: str | None
    birth_year: int | None
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    preferences: JSON = strawberry.field(
        description="Channel, language, contact times, preference tags.", default_factory=dict
    )
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Contact:
        return cls(
            id=strawberry.ID(row["id"]),
            account_id=strawberry.ID(row["account_id"]),
            name=row["name"],
            phone=row["phone"],
            email=row["email"],
            occupation=row["occupation"],
            birth_year=row["birth_year"],
            archived=row["archived"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            preferences=row.get("preferences") or {},
            custom_fields=row.get("custom_fields") or {},
        )

    @strawberry.field(description="Null when the caller may not see the account.")
    async def account(self, info: Info) -> Account | None:
        (await info.context.principal()).require("accounts:read")
        row = await info.context.loaders.visible_accounts.load(self.account_id)
        return Account.from_row(row) if row else None


async def load_user(info: Info, user_id: str) -> User | None:
    (await info.context.principal()).require("users:read")
    row = await info.context.loaders.users.load(user_id)
    return User.from_row(row) if row else None


@strawberry.type
class Me:
    id: strawberry.ID
    kind: str
    role: str
    name: str
    on_behalf_of: strawberry.ID | None
    workspace: str

    @classmethod
    def of(cls, principal: Principal, workspace: str) -> Me:
        return cls(
            id=strawberry.ID(principal.id),
            kind=principal.kind,
            role=str(principal.role),
            name=principal.name,
            on_behalf_of=strawberry.ID(principal.on_behalf_of) if principal.on_behalf_of else None,
            workspace=workspace,
        )


@strawberry.enum
class RecordType(Enum):
    ACCOUNT = "account"
    CONTACT = "contact"
    USER = "user"
    TEAM = "team"
    PRODUCT = "product"
    OPPORTUNITY = "opportunity"
    FORECAST = "forecast"


@strawberry.type
class HistoryEntry:
    type: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    actor_type: str
    on_behalf_of: str | None
    command_id: str
    correlation_id: str
    data: JSON

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> HistoryEntry:
        occurred_at = entry["occurred_at"]
        return cls(
            type=entry["type"],
            version=entry["version"],
            occurred_at=(
                occurred_at
                if isinstance(occurred_at, datetime)
                else datetime.fromisoformat(occurred_at)
            ),
            recorded_at=entry["recorded_at"],
            actor=entry["actor"],
            actor_type=entry["actor_type"],
            on_behalf_of=entry["on_behalf_of"],
            command_id=entry["command_id"],
            correlation_id=entry["correlation_id"],
            data=entry["data"],
        )


@strawberry.type
class Event:
    position: int
    type: str
    record_id: strawberry.ID
    version: int
    recorded_at: datetime
    actor: str
    on_behalf_of: str | None
    data: JSON
