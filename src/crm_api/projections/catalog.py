"""Read model of the product catalogue: current name, prices and whether it is sold."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    func,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.catalog import Product
from crm_api.projections.base import Projection, handles, insert_row
from crm_api.projections.directory import like_pattern
from crm_api.projections.paging import Page, Sort, keyset_page

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("list_price", Numeric(14, 2), nullable=False),
    Column("unit_cost", Numeric(14, 2), nullable=False),
    Column("floor_price", Numeric(14, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("search_text", String(300), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_products_name_id", "name", "id"),
    Index("ix_products_updated_at_id", "updated_at", "id"),
)


def _search_text(sku: str, name: str) -> str:
    return f"{sku} {name}".lower()[:300]


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


class CatalogProjection(Projection):
    name = "catalog"
    tables = (products,)

    @handles(Product.Listed)
    def listed(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            products,
            dict(
                id=str(e.originator_id),
                sku=e.sku,
                name=e.name,
                list_price=e.list_price,
                unit_cost=e.unit_cost,
                floor_price=e.floor_price,
                currency=e.currency,
                active=True,
                search_text=_search_text(e.sku, e.name),
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(Product.DetailsChanged)
    def details_changed(self, conn: Connection, e: Any, position: int) -> None:
        product_id = str(e.originator_id)
        current = conn.execute(
            select(products.c.sku, products.c.name).where(products.c.id == product_id)
        ).one()
        conn.execute(
            update(products)
            .where(products.c.id == product_id)
            .values(
                **e.changes,
                search_text=_search_text(current.sku, e.changes.get("name", current.name)),
                **_stamp(e, position),
            )
        )

    @handles(Product.PricesChanged)
    def prices_changed(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(products)
            .where(products.c.id == str(e.originator_id))
            .values(
                list_price=e.list_price,
                unit_cost=e.unit_cost,
                floor_price=e.floor_price,
                currency=e.currency,
                **_stamp(e, position),
            )
        )

    @handles(Product.Discontinued, Product.Reinstated)
    def availability(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(products)
            .where(products.c.id == str(e.originator_id))
            .values(active=isinstance(e, Product.Reinstated), **_stamp(e, position))
        )


PRODUCT_SORTS = ("name", "sku", "created_at", "updated_at")
PRODUCT_COLUMNS = tuple(c.name for c in products.c if c.name not in ("search_text", "position"))


def list_products(
    conn: Connection,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    q: str | None = None,
    active: bool | None = True,
) -> Page:
    stmt = select(*[products.c[n] for n in PRODUCT_COLUMNS])
    if active is not None:
        stmt = stmt.where(products.c.active == active)
    if q:
        stmt = stmt.where(products.c.search_text.like(like_pattern(q), escape="\\"))
    return keyset_page(conn, stmt, dict(products.c), sort, cursor, limit)


def catalog_entries(
    conn: Connection, product_ids: list[str], skus: list[str]
) -> list[dict[str, Any]]:
    """id, sku, currency and active of the products named by id or by sku (any case)."""
    found: list[dict[str, Any]] = []
    columns = (products.c.id, products.c.sku, products.c.currency, products.c.active)
    for start in range(0, len(product_ids), 500):
        stmt = select(*columns).where(products.c.id.in_(product_ids[start : start + 500]))
        found.extend(dict(row._mapping) for row in conn.execute(stmt))
    lowered = sorted({sku.lower() for sku in skus})
    for start in range(0, len(lowered), 500):
        stmt = select(*columns).where(func.lower(products.c.sku).in_(lowered[start : start + 500]))
        found.extend(dict(row._mapping) for row in conn.execute(stmt))
    return found
