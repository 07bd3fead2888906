"""/api/v1/api-keys: hashed keys with a role and scopes, created by an admin, shown once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, Strict, listed
from crm_api.api.rest.deps import CurrentPrincipal, PagingDep, ServicesDep
from crm_api.application.app import parse_id
from crm_api.auth import api_keys, create_api_key, revoke_api_key
from crm_api.domain.errors import NotFound
from crm_api.domain.people import Role
from crm_api.projections.paging import Sort, keyset_page

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"], responses=PROBLEMS)


class ApiKeyCreate(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role = Role.INTEGRATOR
    scopes: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=50)


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    role: Role
    scopes: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    token: str = Field(description="Shown once: store it now; only its hash is kept.")


@router.post("", status_code=201, response_model=NewApiKeyOut)
def create_key(body: ApiKeyCreate, principal: CurrentPrincipal, services: ServicesDep) -> Any:
    principal.require("api_keys:write")
    with services.writer.begin() as conn:
        new = create_api_key(
            conn,
            name=body.name,
            role=body.role,
            scopes=body.scopes,
            created_by=principal.id,
            now=services.clock.now(),
        )
    return {**new.record, "token": new.token}


@router.get("", response_model=ListEnvelope[ApiKeyOut])
def list_keys(principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep) -> Any:
    principal.require("api_keys:read")
    columns = [c for c in api_keys.c if c.name != "secret_hash"]
    with services.read() as conn:
        page = keyset_page(
            conn,
            select(*columns),
            dict(api_keys.c),
            Sort.parse(paging.sort, ("created_at", "name"), "-created_at"),
            paging.cursor,
            paging.limit,
        )
    return listed(page)


@router.post("/{key_id}/revoke", status_code=204)
def revoke_key(key_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    principal.require("api_keys:write")
    with services.writer.begin() as conn:
        if not revoke_api_key(conn, str(parse_id(key_id, "API key")), services.clock.now()):
            raise NotFound(f"no active API key {key_id}")
    return Response(status_code=204)
