"""/api/v1/assets: the installed base, per account; one of our products or a foreign one."""

from __future__ import annotations

import datetime as dt
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
    point_in_time,
    wait_min_position,
    written,
)
from crm_api.api.rest.custom_fields import CustomFieldsIn, CustomFieldsOut, CustomFilter
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.service import asset_view
from crm_api.domain.assets import Asset
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort
from crm_api.projections.service import ASSET_SORTS, list_assets

router = APIRouter(prefix="/api/v1/assets", tags=["assets"], responses=PROBLEMS)

Serial = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(min_length=1, max_length=200)]


class AssetCreate(Strict):
    account_id: UUID
    serial_number: Serial
    asset_number: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model: Label | None = None
    product_id: UUID | None = Field(None, description="One of our products; null: foreign.")
    manufacturer: Label | None = Field(None, description="Required for foreign assets.")
    install_date: dt.date | None = None
    warranty_end: dt.date | None = None
    custom_fields: CustomFieldsIn | None = None


class AssetUpdate(Strict):
    """Only the fields sent change; null clears an optional field."""

    account_id: UUID | None = None
    serial_number: Serial | None = None
    asset_number: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model: Label | None = None
    product_id: UUID | None = None
    manufacturer: Label | None = None
    install_date: dt.date | None = None
    warranty_end: dt.date | None = None
    custom_fields: CustomFieldsIn | None = None


class AssetOut(BaseModel):
    id: UUID
    account_id: UUID
    serial_number: str
    asset_number: str | None
    model: str | None
    product_id: UUID | None
    manufacturer: str | None
    install_date: dt.date | None
    warranty_end: dt.date | None
    custom_fields: CustomFieldsOut
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def _ids_as_text(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, UUID) else v for k, v in values.items()}


def asset_fields(body: AssetCreate) -> dict[str, Any]:
    return _ids_as_text(body.model_dump())


def asset_changes(body: AssetUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for required in ("account_id", "serial_number"):
        if required in changes and changes[required] is None:
            raise ValidationFailed([FieldError(required, "cannot be null")])
    return _ids_as_text(changes)


@router.post("", status_code=201, response_model=AssetOut)
def register_asset(
    body: AssetCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.service.register_asset(ctx, **asset_fields(body))
    return written(services, response, outcome, asset_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[AssetOut])
def search_assets(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    custom: CustomFilter("assets"),
    account_id: UUID | None = None,
    product_id: UUID | None = None,
    serial_number: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Any:
    principal.require("assets:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_assets(
            conn,
            visible_owners=None if principal.training else principal.visible_owners,
            sort=Sort.parse(paging.sort, ASSET_SORTS + custom.sort_names, "created_at"),
            cursor=paging.cursor,
            limit=paging.limit,
            account_id=str(account_id) if account_id else None,
            product_id=str(product_id) if product_id else None,
            serial_number=serial_number,
            custom=custom,
        )
        page = with_custom_fields(conn, "assets", page)
    return listed(page)


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(
    asset_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: dt.datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    asset = services.service.get_asset(principal, asset_id)
    return one(
        response,
        point_in_time(services.app, asset, Asset, version=version, as_of=as_of),
        asset_view,
    )


@router.patch("/{asset_id}", response_model=AssetOut)
def change_asset(
    asset_id: str,
    body: AssetUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.service.change_asset(ctx, asset_id, asset_changes(body), if_match)
    return written(services, response, outcome, asset_view)


@router.get("/{asset_id}/history", response_model=ListEnvelope[HistoryEntry])
def asset_history(
    asset_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    asset = services.service.get_asset(principal, asset_id)
    return history(services.app, asset, Asset, cursor, limit)
