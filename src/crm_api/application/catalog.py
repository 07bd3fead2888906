"""Commands and reads on the product catalogue. Everyone reads it; admins and integrators
write it (integrators mostly through the upsert by sku that keeps it in step with an ERP)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import Prices, Product
from crm_api.domain.errors import Conflict, NotFound
from crm_api.domain.people import Principal
from crm_api.domain.uniqueness import UniqueClaim

SKU = "sku"


def product_view(product: Product) -> dict[str, Any]:
    return {
        "id": str(product.id),
        "sku": product.sku,
        "name": product.name,
        "list_price": product.list_price,
        "unit_cost": product.unit_cost,
        "floor_price": product.floor_price,
        "currency": product.currency,
        "active": product.active,
        "version": product.version,
        "created_at": product.created_on,
        "updated_at": product.modified_on,
    }


class CatalogService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def list_product(
        self, ctx: CommandContext, *, sku: str, name: str, prices: dict[str, Any]
    ) -> Outcome[Product]:
        ctx.principal.require("products:write")
        policy = Prices.of(**prices)

        def build(product_id: UUID) -> list[CrmAggregate]:
            claim = self.app.claim_unique(SKU, sku, str(product_id), "sku_taken")
            return [Product.list_new(product_id, sku=sku, name=name, prices=policy), claim]

        return self.app.create(ctx, Product, build)

    @command
    def change_product(
        self,
        ctx: CommandContext,
        product_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Product]:
        ctx.principal.require("products:write")
        return self.app.change(
            ctx,
            product_id,
            Product,
            lambda product: product.change_details(**changes),
            expected_version=expected_version,
        )

    @command
    def change_prices(
        self,
        ctx: CommandContext,
        product_id: str,
        prices: dict[str, Any],
        reason: str | None,
        expected_version: int | None,
    ) -> Outcome[Product]:
        ctx.principal.require("products:write")
        policy = Prices.of(**prices)
        return self.app.change(
            ctx,
            product_id,
            Product,
            lambda product: product.change_prices(policy, reason),
            expected_version=expected_version,
        )

    @command
    def revise_product(
        self,
        ctx: CommandContext,
        product_id: str,
        *,
        name: str,
        prices: dict[str, Any],
        reason: str | None,
    ) -> Outcome[Product]:
        """Name and prices at once, each recorded only if it changed."""
        ctx.principal.require("products:write")
        policy = Prices.of(**prices)

        def decide(product: Product) -> None:
            product.change_details(name=name)
            product.change_prices(policy, reason)

        return self.app.change(ctx, product_id, Product, decide)

    def upsert_by_sku(
        self,
        ctx: CommandContext,
        *,
        sku: str,
        name: str,
        prices: dict[str, Any],
        reason: str | None,
    ) -> tuple[Outcome[Product], bool]:
        """List the product if no product has this sku, else revise it; True when listed.
        Two upserts racing to list one sku: the loser revises what the winner listed."""
        ctx.principal.require("products:write")
        holder = self.holder_of(sku)
        if holder is None:
            try:
                return self.list_product(ctx, sku=sku, name=name, prices=prices), True
            except Conflict:
                holder = self.holder_of(sku)
                if holder is None:
                    raise
        outcome = self.revise_product(ctx, holder, name=name, prices=prices, reason=reason)
        return outcome, False

    @command
    def set_active(
        self, ctx: CommandContext, product_id: str, active: bool, expected_version: int | None
    ) -> Outcome[Product]:
        ctx.principal.require("products:write")
        return self.app.change(
            ctx,
            product_id,
            Product,
            lambda product: product.reinstate() if active else product.discontinue(),
            expected_version=expected_version,
        )

    def get_product(self, principal: Principal, product_id: str) -> Product:
        principal.require("products:read")
        return self.app.load(product_id, Product)

    def holder_of(self, sku: str) -> str | None:
        """The product holding `sku`, read from the claim (the log, not a lagging list)."""
        try:
            claim = self.app.load(UniqueClaim.id_for(SKU, sku), UniqueClaim)
        except NotFound:
            return None
        return claim.holder_id
