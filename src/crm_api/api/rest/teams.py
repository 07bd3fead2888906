"""/api/v1/teams: a team has a name and a manager."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    ListEnvelope,
    Strict,
    history,
    listed,
    one,
    wait_min_position,
    written,
)
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.directory import team_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.people import Team
from crm_api.projections.directory import TEAM_SORTS, list_teams
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/teams", tags=["teams"], responses=PROBLEMS)

Name = Annotated[str, Field(min_length=1, max_length=200)]


class TeamCreate(Strict):
    name: Name
    manager_id: UUID | None = None


class TeamUpdate(Strict):
    name: Name | None = None
    manager_id: UUID | None = None


class TeamOut(BaseModel):
    id: UUID
    name: str
    manager_id: UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


@router.post("", status_code=201, response_model=TeamOut)
def form_team(body: TeamCreate, ctx: Command, services: ServicesDep, response: Response) -> Any:
    manager_id = str(body.manager_id) if body.manager_id else None
    outcome = services.directory.form_team(ctx, name=body.name, manager_id=manager_id)
    return written(services, response, outcome, team_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[TeamOut])
def search_teams(principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep) -> Any:
    principal.require("teams:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_teams(
            conn,
            sort=Sort.parse(paging.sort, TEAM_SORTS, "name"),
            cursor=paging.cursor,
            limit=paging.limit,
        )
    return listed(page)


@router.get("/{team_id}", response_model=TeamOut)
def get_team(
    team_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    principal.require("teams:read")
    return one(response, services.directory.get_team(team_id), team_view)


@router.patch("/{team_id}", response_model=TeamOut)
def change_team(
    team_id: str,
    body: TeamUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ValidationFailed([FieldError("name", "a team always has a name")])
    if "manager_id" in changes:
        changes["manager_id"] = str(changes["manager_id"]) if changes["manager_id"] else None
    outcome = services.directory.change_team(ctx, team_id, changes, if_match)
    return written(services, response, outcome, team_view)


@router.get("/{team_id}/history", response_model=ListEnvelope[HistoryEntry])
def team_history(
    team_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    return history(services.app, services.directory.get_team(team_id), Team, cursor, limit)
