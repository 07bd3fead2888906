"""/api/v1/users and /api/v1/me: the people who use the CRM (admin-managed)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, EmailStr, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.directory import user_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.people import Role, User
from crm_api.projections.directory import USER_SORTS, list_users
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1", tags=["users"], responses=PROBLEMS)

Name = Annotated[str, Field(min_length=1, max_length=200)]
Limit = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]


class UserCreate(Strict):
    name: Name
    email: EmailStr = Field(max_length=320)
    role: Role
    team_id: UUID | None = None
    approval_limit_pct: Limit | None = Field(
        None, description="Managers: the deepest discount below list price they may approve."
    )
    assists: list[UUID] = Field(default_factory=list, max_length=100)


class UserUpdate(Strict):
    name: Name | None = None
    email: EmailStr | None = Field(None, max_length=320)
    role: Role | None = None
    team_id: UUID | None = None
    approval_limit_pct: Limit | None = None
    assists: list[UUID] | None = Field(None, max_length=100)


class UserOut(BaseModel):
    id: UUID
    name: str
    email: str
    role: Role
    team_id: UUID | None
    approval_limit_pct: Decimal | None
    assists: list[UUID]
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class MeOut(BaseModel):
    id: str
    kind: str
    role: Role
    name: str
    on_behalf_of: str | None
    workspace: str


def _ids(values: list[UUID] | None) -> list[str]:
    return [str(v) for v in values or []]


@router.get("/me", response_model=MeOut, tags=["users"])
def me(principal: CurrentPrincipal, services: ServicesDep) -> Any:
    return {
        "id": principal.id,
        "kind": principal.kind,
        "role": principal.role,
        "name": principal.name,
        "on_behalf_of": principal.on_behalf_of,
        "workspace": services.settings.workspace_name,
    }


@router.post("/users", status_code=201, response_model=UserOut)
def register_user(body: UserCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    outcome = services.directory.register_user(
        ctx,
        name=body.name,
        email=str(body.email),
        role=body.role,
        team_id=str(body.team_id) if body.team_id else None,
        approval_limit_pct=body.approval_limit_pct,
        assists=_ids(body.assists),
    )
    return written(services, response, outcome, user_view, created_at="/api/v1/users")


@router.get("/users", response_model=ListEnvelope[UserOut])
def search_users(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    role: Role | None = None,
    team_id: UUID | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Any:
    principal.require("users:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_users(
            conn,
            sort=Sort.parse(paging.sort, USER_SORTS, "name"),
            cursor=paging.cursor,
            limit=paging.limit,
            role=role.value if role else None,
            team_id=str(team_id) if team_id else None,
            active=active,
            q=q,
        )
    return listed(page)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(
    user_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    principal.require("users:read")
    user = services.directory.get_user(user_id)
    return one(
        response, point_in_time(services.app, user, User, version=version, as_of=as_of), user_view
    )


@router.patch("/users/{user_id}", response_model=UserOut)
def change_user(
    user_id: str,
    body: UserUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "email", "role", "assists"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    if "team_id" in changes:
        changes["team_id"] = str(changes["team_id"]) if changes["team_id"] else None
    if "assists" in changes:
        changes["assists"] = _ids(changes["assists"])
    if "email" in changes:
        changes["email"] = str(changes["email"])
    outcome = services.directory.change_user(ctx, user_id, changes, if_match)
    return written(services, response, outcome, user_view)


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(
    user_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.directory.set_active(ctx, user_id, False, if_match)
    return written(services, response, outcome, user_view)


@router.post("/users/{user_id}/reactivate", response_model=UserOut)
def reactivate_user(
    user_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.directory.set_active(ctx, user_id, True, if_match)
    return written(services, response, outcome, user_view)


@router.get("/users/{user_id}/history", response_model=ListEnvelope[HistoryEntry])
def user_history(
    user_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    principal.require("users:read")
    return history(services.app, services.directory.get_user(user_id), User, cursor, limit)
