"""/api/v1/accounts: customers, their owners, history and point-in-time reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.contacts import ContactOut
from crm_api.api.rest.conventions import (
    ARCHIVED,
    PROBLEMS,
    ArchivedFilter,
    HistoryEntry,
    Instant,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.custom_fields import (
    CustomFieldsIn,
    CustomFieldsOut,
    CustomFilter,
    Preferences,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.accounts import account_view
from crm_api.domain.accounts import Account
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.accounts import ACCOUNT_SORTS, CONTACT_SORTS, list_accounts, list_contacts
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"], responses=PROBLEMS)

Grade = Literal["A", "B", "C", "D"]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^\+?[0-9 ()./\-]+$")]
Industry = Annotated[str, Field(min_length=1, max_length=100)]


class Address(Strict):
    line1: str | None = Field(None, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=100)
    region: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=20)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class AccountCreate(Strict):
    name: Name
    owner_id: UUID
    industry: Industry | None = None
    phone: Phone | None = None
    address: Address | None = None
    manual_grade: Grade | None = None
    preferences: Preferences | None = None
    custom_fields: CustomFieldsIn | None = None


class AccountUpdate(Strict):
    """Only the fields sent change; null clears an optional field."""

    name: Name | None = None
    industry: Industry | None = None
    phone: Phone | None = None
    address: Address | None = None
    manual_grade: Grade | None = None
    preferences: Preferences | None = None
    custom_fields: CustomFieldsIn | None = None


class Transfer(Strict):
    to_owner_id: UUID
    reason: str | None = Field(None, max_length=500)


class AccountOut(BaseModel):
    id: UUID
    name: str
    owner_id: UUID
    industry: str | None
    phone: str | None
    address: dict[str, Any] | None
    manual_grade: str | None
    external_refs: list[dict[str, str]] = Field(
        default_factory=list,
        description="How other systems know this account: [{source, id}] (orders import).",
    )
    preferences: dict[str, Any] = Field(default_factory=dict)
    custom_fields: CustomFieldsOut
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime


def account_details(body: AccountCreate | AccountUpdate) -> dict[str, Any]:
    details = body.model_dump(exclude_unset=isinstance(body, AccountUpdate))
    if "owner_id" in details:
        details["owner_id"] = str(details["owner_id"])
    if details.get("address") is not None:
        details["address"] = {k: v for k, v in details["address"].items() if v is not None}
    if isinstance(body, AccountUpdate) and "name" in details and details["name"] is None:
        raise ValidationFailed([FieldError("name", "an account always has a name")])
    return details


@router.post("", status_code=201, response_model=AccountOut)
def open_account(
    body: AccountCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.accounts.open_account(ctx, **account_details(body))
    return written(services, response, outcome, account_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[AccountOut])
def search_accounts(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("accounts"),
    owner_id: UUID | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
    manual_grade: Grade | None = None,
    archived: ArchivedFilter = "false",
    updated_since: Instant | None = None,
) -> Any:
    principal.require("accounts:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, ACCOUNT_SORTS + custom.sort_names, "name")
    with services.read() as conn:
        page = list_accounts(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=sort,
            cursor=paging.cursor,
            limit=paging.limit,
            owner_id=str(owner_id) if owner_id else None,
            q=q,
            industry=industry,
            manual_grade=manual_grade,
            archived=ARCHIVED[archived],
            updated_since=updated_since,
            custom=custom,
        )
        page = with_custom_fields(conn, "accounts", page)
    return listed(page)


@router.get("/{account_id}", response_model=AccountOut)
def get_account(
    account_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    account = services.accounts.get_account(principal, account_id)
    past = point_in_time(services.app, account, Account, version=version, as_of=as_of)
    return one(response, past, account_view)


@router.patch("/{account_id}", response_model=AccountOut)
def change_account(
    account_id: str,
    body: AccountUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.accounts.change_account(ctx, account_id, account_details(body), if_match)
    return written(services, response, outcome, account_view)


@router.post("/{account_id}/archive", response_model=AccountOut)
def archive_account(
    account_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.accounts.archive_account(ctx, account_id, True, if_match)
    return written(services, response, outcome, account_view)


@router.post("/{account_id}/restore", response_model=AccountOut)
def restore_account(
    account_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.accounts.archive_account(ctx, account_id, False, if_match)
    return written(services, response, outcome, account_view)


@router.post("/{account_id}/transfer", response_model=AccountOut)
def transfer_ownership(
    account_id: str,
    body: Transfer,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.accounts.transfer_ownership(
        ctx, account_id, str(body.to_owner_id), body.reason, if_match
    )
    return written(services, response, outcome, account_view)


@router.get("/{account_id}/history", response_model=ListEnvelope[HistoryEntry])
def account_history(
    account_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    account = services.accounts.get_account(principal, account_id)
    return history(services.app, account, Account, cursor, limit)


@router.get("/{account_id}/contacts", response_model=ListEnvelope[ContactOut])
def account_contacts(
    account_id: str, principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep
) -> Any:
    principal.require("contacts:read")
    account = services.accounts.get_account(principal, account_id)
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_contacts(
            conn,
            visible_owners=None,
            sort=Sort.parse(paging.sort, CONTACT_SORTS, "name"),
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account.id),
        )
        page = with_custom_fields(conn, "contacts", page)
    return listed(page)
