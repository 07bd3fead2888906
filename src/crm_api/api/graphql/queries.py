"""Queries: the REST reads, through the same services and read-model queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry
from anyio import to_thread

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.custom_fields import (
    CustomFieldConditions,
    custom_field_query,
    sort_argument,
)
from crm_api.api.graphql.inputs import AccountFilter, ContactFilter, UserFilter, search_text
from crm_api.api.graphql.pagination import Connection, connection, keyset_connection, page_size
from crm_api.api.graphql.types import Account, Contact, HistoryEntry, Me, RecordType, Team, User
from crm_api.api.rest.conventions import history, point_in_time
from crm_api.application.accounts import account_view, contact_view
from crm_api.application.directory import team_view, user_view
from crm_api.application.services import Services
from crm_api.domain.accounts import Account as AccountRecord
from crm_api.domain.accounts import Contact as ContactRecord
from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import Product as ProductRecord
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.forecasts import Forecast as ForecastRecord
from crm_api.domain.opportunities import Opportunity as OpportunityRecord
from crm_api.domain.people import Principal, Role
from crm_api.domain.people import Team as TeamRecord
from crm_api.domain.people import User as UserRecord
from crm_api.projections.accounts import ACCOUNT_SORTS, CONTACT_SORTS, list_accounts, list_contacts
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.directory import TEAM_SORTS, USER_SORTS, list_teams, list_users
from crm_api.projections.paging import Page, Sort

T = TypeVar("T")


async def _read(info: Info, read: Callable[[Services, Principal], T]) -> T:
    """Authenticate, then run a blocking read off the event loop."""
    context = info.context
    principal = await context.principal()
    return await to_thread.run_sync(read, context.services, principal)


def _listed(
    services: Services,
    sort: Sort,
    node: Callable[[dict[str, Any]], T],
    list_page: Callable[..., Page],
) -> Connection[T]:
    with services.read() as conn:
        page = list_page(conn, sort=sort)
    return keyset_connection(page, sort, node)


def _visible_owners(principal: Principal) -> frozenset[str] | None:
    return None if principal.training else principal.visible_owners


def _role(role: str | None) -> str | None:
    if role is None:
        return None
    try:
        return Role(role).value
    except ValueError:
        raise ValidationFailed([FieldError("filter.role", f"no role '{role}'")]) from None


def _history_of(
    services: Services, principal: Principal, record_type: RecordType, record_id: str
) -> tuple[CrmAggregate, type[CrmAggregate]]:
    """The record whose history is asked for, checked as REST checks it."""
    if record_type is RecordType.ACCOUNT:
        return services.accounts.get_account(principal, record_id), AccountRecord
    if record_type is RecordType.CONTACT:
        return services.accounts.get_contact(principal, record_id), ContactRecord
    if record_type is RecordType.USER:
        principal.require("users:read")
        return services.directory.get_user(record_id), UserRecord
    if record_type is RecordType.PRODUCT:
        return services.catalog.get_product(principal, record_id), ProductRecord
    if record_type is RecordType.OPPORTUNITY:
        return services.opportunities.get_opportunity(principal, record_id), OpportunityRecord
    if record_type is RecordType.FORECAST:
        return services.forecasts.get_forecast(principal, record_id), ForecastRecord
    return services.directory.get_team(record_id), TeamRecord


@strawberry.type
class Query:
    @strawberry.field(description="The caller, as authenticated.")
    async def me(self, info: Info) -> Me:
        principal = await info.context.principal()
        return Me.of(principal, info.context.services.settings.workspace_name)

    @strawberry.field
    async def user(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> User:
        def read(services: Services, principal: Principal) -> User:
            principal.require("users:read")
            user = services.directory.get_user(id)
            past = point_in_time(services.app, user, UserRecord, version=version, as_of=as_of)
            return User.from_row(user_view(past))

        return await _read(info, read)

    @strawberry.field
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: UserFilter | None = None,
        sort: str | None = None,
    ) -> Connection[User]:
        limit, given = page_size(first), filter or UserFilter()

        def read(services: Services, principal: Principal) -> Connection[User]:
            principal.require("users:read")
            return _listed(
                services,
                Sort.parse(sort, USER_SORTS, "name"),
                User.from_row,
                lambda conn, sort: list_users(
                    conn,
                    sort=sort,
                    cursor=after,
                    limit=limit,
                    role=_role(given.role),
                    team_id=given.team_id,
                    active=given.active,
                    q=search_text(given.q),
                ),
            )

        return await _read(info, read)

    @strawberry.field
    async def team(self, info: Info, id: strawberry.ID) -> Team:
        def read(services: Services, principal: Principal) -> Team:
            principal.require("teams:read")
            return Team.from_row(team_view(services.directory.get_team(id)))

        return await _read(info, read)

    @strawberry.field
    async def teams(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        sort: str | None = None,
    ) -> Connection[Team]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[Team]:
            principal.require("teams:read")
            return _listed(
                services,
                Sort.parse(sort, TEAM_SORTS, "name"),
                Team.from_row,
                lambda conn, sort: list_teams(conn, sort=sort, cursor=after, limit=limit),
            )

        return await _read(info, read)

    @strawberry.field(description="Null `asOf`/`version`: the current record.")
    async def account(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Account:
        def read(services: Services, principal: Principal) -> Account:
            account = services.accounts.get_account(principal, id)
            past = point_in_time(services.app, account, AccountRecord, version=version, as_of=as_of)
            return Account.from_row(account_view(past))

        return await _read(info, read)

    @strawberry.field
    async def accounts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AccountFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(ACCOUNT_SORTS)] = None,
    ) -> Connection[Account]:
        limit, given = page_size(first), filter or AccountFilter()

        def read(services: Services, principal: Principal) -> Connection[Account]:
            principal.require("accounts:read")
            custom = custom_field_query(services, "accounts", custom_fields)
            return _listed(
                services,
                Sort.parse(sort, ACCOUNT_SORTS + custom.sort_names, "name"),
                Account.from_row,
                lambda conn, sort: with_custom_fields(
                    conn,
                    "accounts",
                    list_accounts(
                        conn,
                        visible_owners=_visible_owners(principal),
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        owner_id=given.owner_id,
                        q=search_text(given.q),
                        industry=given.industry,
                        manual_grade=given.manual_grade,
                        archived=given.archived,
                        updated_since=given.updated_since,
                        custom=custom,
                    ),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="Null `asOf`/`version`: the current record.")
    async def contact(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Contact:
        def read(services: Services, principal: Principal) -> Contact:
            contact = services.accounts.get_contact(principal, id)
            past = point_in_time(services.app, contact, ContactRecord, version=version, as_of=as_of)
            return Contact.from_row(contact_view(past))

        return await _read(info, read)

    @strawberry.field
    async def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContactFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(CONTACT_SORTS)] = None,
    ) -> Connection[Contact]:
        limit, given = page_size(first), filter or ContactFilter()

        def read(services: Services, principal: Principal) -> Connection[Contact]:
            principal.require("contacts:read")
            custom = custom_field_query(services, "contacts", custom_fields)
            return _listed(
                services,
                Sort.parse(sort, CONTACT_SORTS + custom.sort_names, "name"),
                Contact.from_row,
                lambda conn, sort: with_custom_fields(
                    conn,
                    "contacts",
                    list_contacts(
                        conn,
                        visible_owners=_visible_owners(principal),
                        sort=sort,
                        cursor=after,
                        limit=limit,
                        account_id=given.account_id,
                        q=search_text(given.q),
                        archived=given.archived,
                        updated_since=given.updated_since,
                        custom=custom,
                    ),
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="A record's events in order; the cursor is a version.")
    async def record_history(
        self,
        info: Info,
        type: RecordType,
        id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[HistoryEntry]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[HistoryEntry]:
            principal.require("history:read")
            record, cls = _history_of(services, principal, type, id)
            page = history(services.app, record, cls, after, limit)
            entries = page["data"]
            return connection(
                [HistoryEntry.from_entry(e) for e in entries],
                [str(e["version"]) for e in entries],
                page["has_more"],
            )

        return await _read(info, read)
