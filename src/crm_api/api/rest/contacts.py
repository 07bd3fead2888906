"""/api/v1/contacts: people at accounts (only account_id and name are required)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, EmailStr, Field

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
from crm_api.application.accounts import contact_view
from crm_api.domain.accounts import Contact
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.accounts import CONTACT_SORTS, list_contacts
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"], responses=PROBLEMS)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^\+?[0-9 ()./\-]+$")]
Occupation = Annotated[str, Field(min_length=1, max_length=100)]
BirthYear = Annotated[int, Field(ge=1900, le=2100)]


class ContactCreate(Strict):
    account_id: UUID
    name: Name
    phone: Phone | None = None
    email: EmailStr | None = Field(None, max_length=320)
    occupation: Occupation | None = None
    birth_year: BirthYear | None = None
    preferences: Preferences | None = None
    custom_fields: CustomFieldsIn | None = None


class ContactUpdate(Strict):
    """Only the fields sent change; null clears an optional field."""

    name: Name | None = None
    phone: Phone | None = None
    email: EmailStr | None = Field(None, max_length=320)
    occupation: Occupation | None = None
    birth_year: BirthYear | None = None
    preferences: Preferences | None = None
    custom_fields: CustomFieldsIn | None = None


class ContactOut(BaseModel):
    id: UUID
    account_id: UUID
    name: str
    phone: str | None
    email: str | None
    occupation: str | None
    birth_year: int | None
    preferences: dict[str, Any] = Field(default_factory=dict)
    custom_fields: CustomFieldsOut
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime


@router.post("", status_code=201, response_model=ContactOut)
def add_contact(
    body: ContactCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    details = body.model_dump(exclude={"account_id"})
    outcome = services.accounts.add_contact(ctx, str(body.account_id), **details)
    return written(services, response, outcome, contact_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[ContactOut])
def search_contacts(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("contacts"),
    account_id: UUID | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    archived: ArchivedFilter = "false",
    updated_since: Instant | None = None,
) -> Any:
    principal.require("contacts:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_contacts(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=Sort.parse(paging.sort, CONTACT_SORTS + custom.sort_names, "name"),
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            q=q,
            archived=ARCHIVED[archived],
            updated_since=updated_since,
            custom=custom,
        )
        page = with_custom_fields(conn, "contacts", page)
    return listed(page)


@router.get("/{contact_id}", response_model=ContactOut)
def get_contact(
    contact_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    contact = services.accounts.get_contact(principal, contact_id)
    past = point_in_time(services.app, contact, Contact, version=version, as_of=as_of)
    return one(response, past, contact_view)


@router.patch("/{contact_id}", response_model=ContactOut)
def change_contact(
    contact_id: str,
    body: ContactUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed([FieldError("name", "a contact always has a name")])
    outcome = services.accounts.change_contact(ctx, contact_id, changes, if_match)
    return written(services, response, outcome, contact_view)


@router.post("/{contact_id}/archive", response_model=ContactOut)
def archive_contact(
    contact_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.accounts.archive_contact(ctx, contact_id, True, if_match)
    return written(services, response, outcome, contact_view)


@router.post("/{contact_id}/restore", response_model=ContactOut)
def restore_contact(
    contact_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.accounts.archive_contact(ctx, contact_id, False, if_match)
    return written(services, response, outcome, contact_view)


class ContactErasure(Strict):
    reason: Literal["subject_request", "retention_expired", "legal_obligation", "other"]
    reference: str | None = Field(
        None,
        max_length=100,
        pattern=r"^[A-Za-z0-9 ._:/#\-]+$",
        description="Your case or ticket number (no personal data: letters, digits, ._:/#-).",
    )


@router.post("/{contact_id}/erase", response_model=ContactOut)
def erase_contact(
    contact_id: str,
    body: ContactErasure,
    ctx: Command,
    services: ServicesDep,
    response: Response,
) -> Any:
    """Admins only: erase the contact's personal data everywhere (history, as-of, feed,
    webhooks, read models, exports) by destroying its key. Records ContactErased (who, when,
    why; no personal data). See docs/data-protection.md."""
    outcome = services.erasure.erase_contact(ctx, contact_id, body.reason, body.reference)
    answer = written(services, response, outcome, contact_view)
    services.erasure.scrub(str(outcome.record.id))
    return answer


@router.get("/{contact_id}/history", response_model=ListEnvelope[HistoryEntry])
def contact_history(
    contact_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    contact = services.accounts.get_contact(principal, contact_id)
    return history(services.app, contact, Contact, cursor, limit)
