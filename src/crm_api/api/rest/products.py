"""/api/v1/products: the catalogue and its price policy; money travels as decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response
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
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.catalog import product_view
from crm_api.domain.catalog import Product
from crm_api.projections.catalog import PRODUCT_SORTS, list_products
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/products", tags=["products"], responses=PROBLEMS)

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=SKU_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, description='A decimal string, e.g. "19.90"'),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Reason = Annotated[str, Field(max_length=500)]
ActiveFilter = Annotated[
    Literal["true", "false", "any"],
    Query(description="Products on sale: true (default), false (discontinued), or any."),
]
ACTIVE: dict[str, bool | None] = {"true": True, "false": False, "any": None}


class PricesIn(Strict):
    list_price: Money
    unit_cost: Money
    floor_price: Money = Field(description="The lowest unit price sold without approval.")
    currency: Currency

    def prices(self) -> dict[str, Any]:
        return self.model_dump(include={"list_price", "unit_cost", "floor_price", "currency"})


class ProductCreate(PricesIn):
    sku: Sku
    name: Name


class ProductUpdate(Strict):
    name: Name


class PriceChange(PricesIn):
    reason: Reason | None = None


class ProductUpsert(PricesIn):
    """The whole product as the source system knows it; only what differs is recorded."""

    name: Name
    reason: Reason | None = None


class ProductOut(BaseModel):
    id: UUID
    sku: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal
    currency: str
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


@router.post("", status_code=201, response_model=ProductOut)
def list_product(
    body: ProductCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    outcome = services.catalog.list_product(ctx, sku=body.sku, name=body.name, prices=body.prices())
    return written(services, response, outcome, product_view, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[ProductOut])
def search_products(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    q: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    active: ActiveFilter = "true",
) -> Any:
    principal.require("products:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, PRODUCT_SORTS, "name")
    with services.read() as conn:
        page = list_products(
            conn, sort=sort, cursor=paging.cursor, limit=paging.limit, q=q, active=ACTIVE[active]
        )
    return listed(page)


@router.put(
    "/by-sku/{sku}",
    response_model=ProductOut,
    responses={201: {"model": ProductOut, "description": "Created: no product held the sku"}},
)
def upsert_by_sku(
    sku: Annotated[str, Path(max_length=64, pattern=SKU_PATTERN)],
    body: ProductUpsert,
    ctx: Command,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome, created = services.catalog.upsert_by_sku(
        ctx, sku=sku, name=body.name, prices=body.prices(), reason=body.reason
    )
    return written(
        services, response, outcome, product_view, created_at=router.prefix if created else None
    )


@router.get("/{product_id}", response_model=ProductOut)
def get_product(
    product_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    response: Response,
    as_of: datetime | None = None,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    product = services.catalog.get_product(principal, product_id)
    past = point_in_time(services.app, product, Product, version=version, as_of=as_of)
    return one(response, past, product_view)


@router.patch("/{product_id}", response_model=ProductOut)
def change_product(
    product_id: str,
    body: ProductUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.catalog.change_product(
        ctx, product_id, body.model_dump(exclude_unset=True), if_match
    )
    return written(services, response, outcome, product_view)


@router.post("/{product_id}/prices", response_model=ProductOut)
def change_prices(
    product_id: str,
    body: PriceChange,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    outcome = services.catalog.change_prices(ctx, product_id, body.prices(), body.reason, if_match)
    return written(services, response, outcome, product_view)


@router.post("/{product_id}/discontinue", response_model=ProductOut)
def discontinue_product(
    product_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.catalog.set_active(ctx, product_id, False, if_match)
    return written(services, response, outcome, product_view)


@router.post("/{product_id}/reinstate", response_model=ProductOut)
def reinstate_product(
    product_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    outcome = services.catalog.set_active(ctx, product_id, True, if_match)
    return written(services, response, outcome, product_view)


@router.get("/{product_id}/history", response_model=ListEnvelope[HistoryEntry])
def product_history(
    product_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    product = services.catalog.get_product(principal, product_id)
    return history(services.app, product, Product, cursor, limit)
