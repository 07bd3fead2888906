"""The product catalogue over GraphQL: the REST reads and commands of /api/v1/products, through
the same service and read model, checked by the same request models. Money is a Decimal
scalar (a string such as "19.90"), as in REST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.inputs import camel, search_text, validated
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, page_size
from crm_api.api.graphql.queries import _listed, _read
from crm_api.api.rest.conventions import Strict, point_in_time
from crm_api.api.rest.products import (
    PriceChange,
    ProductCreate,
    ProductUpdate,
    ProductUpsert,
    Sku,
)
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.catalog import product_view
from crm_api.application.services import Services
from crm_api.domain.catalog import Product as ProductRecord
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.people import Principal
from crm_api.projections.catalog import PRODUCT_SORTS, list_products
from crm_api.projections.paging import Sort


@strawberry.type(description="Something we sell, with its price policy.")
class Product:
    id: strawberry.ID
    sku: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal = strawberry.field(
        description="The lowest unit price sold without approval."
    )
    currency: str = strawberry.field(description="ISO 4217, e.g. EUR")
    active: bool = strawberry.field(description="false once discontinued")
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Product:
        return cls(
            id=strawberry.ID(str(row["id"])),
            sku=row["sku"],
            name=row["name"],
            list_price=row["list_price"],
            unit_cost=row["unit_cost"],
            floor_price=row["floor_price"],
            currency=row["currency"],
            active=row["active"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@strawberry.type
class UpsertProductPayload:
    product: Product
    created: bool = strawberry.field(description="true when this upsert listed the product")


@strawberry.input
class ProductFilter:
    q: str | None = strawberry.field(default=None, description="Searches sku and name.")
    active: bool | None = strawberry.field(
        default=True, description="true (default) on sale, false discontinued, null any."
    )


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal = strawberry.field(
        description="The lowest unit price sold without approval."
    )
    currency: str = strawberry.field(description="ISO 4217, e.g. EUR")


@strawberry.input
class UpdateProductInput:
    name: str


@strawberry.input
class ProductPricesInput:
    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal = strawberry.field(
        description="The lowest unit price sold without approval."
    )
    currency: str = strawberry.field(description="ISO 4217, e.g. EUR")
    reason: str | None = None


@strawberry.input(
    description="The whole product as the source system knows it; only what differs is recorded."
)
class UpsertProductInput:
    name: str
    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal = strawberry.field(
        description="The lowest unit price sold without approval."
    )
    currency: str = strawberry.field(description="ISO 4217, e.g. EUR")
    reason: str | None = None


class SkuArgument(Strict):
    sku: Sku


def _camel_fields(
    command: Callable[[CommandContext], Outcome[ProductRecord]],
) -> Callable[[CommandContext], Outcome[ProductRecord]]:
    """The price policy names REST's snake_case fields; GraphQL clients sent camelCase ones."""

    def run(ctx: CommandContext) -> Outcome[ProductRecord]:
        try:
            return command(ctx)
        except ValidationFailed as error:
            raise ValidationFailed(
                [FieldError(camel(e.field), e.message) for e in error.errors]
            ) from None

    return run


def _listed_by(services: Services, ctx: CommandContext, product: ProductRecord) -> bool:
    """Whether this very command listed the product: a retried upsert that listed it says
    so again (the retry itself finds the product and records nothing)."""
    first = services.app.history(product.id, ProductRecord, limit=1)
    return bool(first) and first[0].meta["command_id"] == ctx.command_id


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="Null `asOf`/`version`: the current record.")
    async def product(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> Product:
        def read(services: Services, principal: Principal) -> Product:
            product = services.catalog.get_product(principal, id)
            past = point_in_time(services.app, product, ProductRecord, version=version, as_of=as_of)
            return Product.from_row(product_view(past))

        return await _read(info, read)

    @strawberry.field(description="Null when no product holds the sku (compared ignoring case).")
    async def product_by_sku(self, info: Info, sku: str) -> Product | None:
        checked = validated(SkuArgument, {"sku": sku}).sku

        def read(services: Services, principal: Principal) -> Product | None:
            principal.require("products:read")
            holder = services.catalog.holder_of(checked)
            if holder is None:
                return None
            return Product.from_row(product_view(services.catalog.get_product(principal, holder)))

        return await _read(info, read)

    @strawberry.field
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ProductFilter | None = None,
        sort: Annotated[
            str | None,
            strawberry.argument(
                description="e.g. sku,-updated_at (name, sku, created_at, updated_at)"
            ),
        ] = None,
    ) -> Connection[Product]:
        limit, given = page_size(first), filter or ProductFilter()
        q = search_text(given.q)

        def read(services: Services, principal: Principal) -> Connection[Product]:
            principal.require("products:read")
            return _listed(
                services,
                Sort.parse(sort, PRODUCT_SORTS, "name"),
                Product.from_row,
                lambda conn, sort: list_products(
                    conn, sort=sort, cursor=after, limit=limit, q=q, active=given.active
                ),
            )

        return await _read(info, read)


@strawberry.type
class CatalogMutation:
    @strawberry.mutation
    async def create_product(
        self,
        info: Info,
        input: CreateProductInput,
        idempotency_key: IdempotencyKey = None,
    ) -> Product:
        body = validated(ProductCreate, input)
        catalog = info.context.services.catalog
        row = await _run(
            info,
            idempotency_key,
            _camel_fields(
                lambda ctx: catalog.list_product(
                    ctx, sku=body.sku, name=body.name, prices=body.prices()
                )
            ),
            product_view,
        )
        return Product.from_row(row)

    @strawberry.mutation
    async def update_product(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateProductInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Product:
        changes = validated(ProductUpdate, input).model_dump(exclude_unset=True)
        catalog = info.context.services.catalog
        row = await _run(
            info,
            idempotency_key,
            _camel_fields(lambda ctx: catalog.change_product(ctx, id, changes, if_match)),
            product_view,
        )
        return Product.from_row(row)

    @strawberry.mutation(description="New prices are history; the old ones stay readable.")
    async def change_product_prices(
        self,
        info: Info,
        id: strawberry.ID,
        input: ProductPricesInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Product:
        body = validated(PriceChange, input)
        catalog = info.context.services.catalog
        row = await _run(
            info,
            idempotency_key,
            _camel_fields(
                lambda ctx: catalog.change_prices(ctx, id, body.prices(), body.reason, if_match)
            ),
            product_view,
        )
        return Product.from_row(row)

    @strawberry.mutation
    async def discontinue_product(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Product:
        catalog = info.context.services.catalog
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: catalog.set_active(ctx, id, False, if_match),
            product_view,
        )
        return Product.from_row(row)

    @strawberry.mutation
    async def reinstate_product(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Product:
        catalog = info.context.services.catalog
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: catalog.set_active(ctx, id, True, if_match),
            product_view,
        )
        return Product.from_row(row)

    @strawberry.mutation(
        description="Lists the product if no product holds the sku, else records what differs."
    )
    async def upsert_product_by_sku(
        self,
        info: Info,
        sku: str,
        input: UpsertProductInput,
        idempotency_key: IdempotencyKey = None,
    ) -> UpsertProductPayload:
        checked = validated(SkuArgument, {"sku": sku}).sku
        body = validated(ProductUpsert, input)
        services = info.context.services
        created = False

        def upsert(ctx: CommandContext) -> Outcome[ProductRecord]:
            nonlocal created
            outcome, created = services.catalog.upsert_by_sku(
                ctx, sku=checked, name=body.name, prices=body.prices(), reason=body.reason
            )
            if not created and not outcome.applied:
                created = _listed_by(services, ctx, outcome.record)
            return outcome

        row = await _run(info, idempotency_key, _camel_fields(upsert), product_view)
        return UpsertProductPayload(product=Product.from_row(row), created=created)
