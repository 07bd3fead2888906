"""Webhooks on the read side: the subscriptions list, and the delivery outbox.

`webhooks` keeps the subscriptions as clients list them. `webhook_deliveries` follows the whole
log: it keeps its own copy of which subscriptions want which types as of each position (so a
subscription receives exactly the events recorded after it, whatever the other projection's
progress) and enqueues one delivery per subscription and matching event. Delivery ids derive
from (subscription, position): a replay enqueues nothing twice, and a rebuild keeps the
delivery log (only the routes are cleared; `webhook_deliveries` is not in `tables`).

The Deliverer (integrations/webhooks.py) updates the delivery state columns of the rows this
projection inserted; `webhook_secrets` is kept by the application (never in an event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.webhooks import ALL_TYPES, DisabledBecause, Webhook, WebhookStatus
from crm_api.projections.base import Projection, handles, insert_ignore
from crm_api.projections.paging import Page, Sort, keyset_page

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("types", JSON, nullable=False),
    Column("description", String(500), nullable=True),
    Column("status", String(16), nullable=False),
    Column("disabled_reason", String(32), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ix_webhook_subscriptions_created_at_id", "created_at", "id"),
)

webhook_routes = Table(
    "webhook_routes",
    metadata,
    Column("webhook_id", String(36), primary_key=True),
    Column("types", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("record_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    Index(
        "ix_webhook_deliveries_webhook_id_record_id_position",
        "webhook_id",
        "record_id",
        "position",
    ),
    Index("ix_webhook_deliveries_webhook_id_position", "webhook_id", "position"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), nullable=False, index=True),
    Column("secret", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
)

SUBSCRIPTION_SORTS = ("created_at",)
DELIVERY_SORTS = ("position",)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


class WebhooksProjection(Projection):
    name = "webhooks"
    tables = (webhook_subscriptions,)

    @handles(Webhook.Registered)
    def registered(self, conn: Connection, e: Any, position: int) -> None:
        insert_ignore(
            conn,
            webhook_subscriptions,
            {
                "id": str(e.originator_id),
                "url": e.url,
                "types": list(e.types),
                "description": e.description,
                "status": WebhookStatus.ACTIVE.value,
                "disabled_reason": None,
                "created_at": e.timestamp,
                **_stamp(e, position),
            },
            ["id"],
        )

    @handles(Webhook.DetailsChanged)
    def details_changed(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position, **e.changes)

    @handles(Webhook.Enabled)
    def enabled(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position, status=WebhookStatus.ACTIVE.value, disabled_reason=None)

    @handles(Webhook.Disabled)
    def disabled(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position, status=WebhookStatus.DISABLED.value, disabled_reason=e.reason)

    @handles(Webhook.Deleted)
    def deleted(self, conn: Connection, e: Any, position: int) -> None:
        self._set(
            conn,
            e,
            position,
            status=WebhookStatus.DELETED.value,
            disabled_reason=DisabledBecause.DELETED.value,
        )

    @handles(Webhook.SecretRotated)
    def secret_rotated(self, conn: Connection, e: Any, position: int) -> None:
        self._set(conn, e, position)

    def _set(self, conn: Connection, e: Any, position: int, **values: Any) -> None:
        conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == str(e.originator_id))
            .values(**values, **_stamp(e, position))
        )


class WebhookDeliveriesProjection(Projection):
    """Follows every event (no topic filter): each may match some subscription."""

    name = "webhook_deliveries"
    tables = (webhook_routes,)
    read_your_writes: ClassVar[bool] = False

    @classmethod
    def topics(cls) -> list[str]:
        return []

    _routes: list[Any] | None = None
    """The enabled routes, read once a batch (and again after a route changed)."""

    def begin(self, conn: Connection) -> None:
        super().begin(conn)
        self._routes = None

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Enqueue first, then update the routes: a subscription receives the events
        recorded after its own registration, not that one."""
        type_name = event.type_name
        if self._routes is None:
            self._routes = conn.execute(
                select(webhook_routes.c.webhook_id, webhook_routes.c.types).where(
                    webhook_routes.c.enabled.is_(True)
                )
            ).all()
        for webhook_id, types in self._routes:
            if ALL_TYPES in types or type_name in types:
                insert_ignore(
                    conn,
                    webhook_deliveries,
                    {
                        "id": delivery_id(webhook_id, position),
                        "webhook_id": webhook_id,
                        "position": position,
                        "event_type": type_name,
                        "record_id": str(event.originator_id),
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": event.timestamp,
                        "created_at": event.timestamp,
                    },
                    ["id"],
                )
        super().apply(conn, event, position)

    @handles(Webhook.Registered)
    def registered(self, conn: Connection, e: Any, position: int) -> None:
        insert_ignore(
            conn,
            webhook_routes,
            {"webhook_id": str(e.originator_id), "types": list(e.types), "enabled": True},
            ["webhook_id"],
        )
        self._routes = None

    @handles(Webhook.DetailsChanged)
    def details_changed(self, conn: Connection, e: Any, position: int) -> None:
        if "types" in e.changes:
            self._route(conn, e, types=list(e.changes["types"]))

    @handles(Webhook.Enabled)
    def enabled(self, conn: Connection, e: Any, position: int) -> None:
        self._route(conn, e, enabled=True)

    @handles(Webhook.Disabled, Webhook.Deleted)
    def disabled(self, conn: Connection, e: Any, position: int) -> None:
        self._route(conn, e, enabled=False)

    def _route(self, conn: Connection, e: Any, **values: Any) -> None:
        conn.execute(
            update(webhook_routes)
            .where(webhook_routes.c.webhook_id == str(e.originator_id))
            .values(**values)
        )
        self._routes = None


def delivery_id(webhook_id: str, position: int) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-webhook-delivery:{webhook_id}:{position}"))


# queries


def list_subscriptions(conn: Connection, sort: Sort, cursor: str | None, limit: int) -> Page:
    return keyset_page(
        conn, select(webhook_subscriptions), dict(webhook_subscriptions.c), sort, cursor, limit
    )


DELIVERY_COLUMNS = (
    "id",
    "webhook_id",
    "position",
    "event_type",
    "record_id",
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "delivered_at",
    "created_at",
)


def list_deliveries(
    conn: Connection,
    webhook_id: str,
    sort: Sort,
    cursor: str | None,
    limit: int,
    status: str | None = None,
) -> Page:
    stmt = select(*[webhook_deliveries.c[n] for n in DELIVERY_COLUMNS]).where(
        webhook_deliveries.c.webhook_id == webhook_id
    )
    if status is not None:
        stmt = stmt.where(webhook_deliveries.c.status == status)
    return keyset_page(conn, stmt, dict(webhook_deliveries.c), sort, cursor, limit)


def get_delivery(conn: Connection, webhook_id: str, delivery: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(*[webhook_deliveries.c[n] for n in DELIVERY_COLUMNS]).where(
                webhook_deliveries.c.webhook_id == webhook_id,
                webhook_deliveries.c.id == delivery,
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def redeliver(conn: Connection, webhook_id: str, delivery: str, now: datetime) -> bool:
    """Send a delivery again as soon as it is its turn (delivered, failed or pending alike);
    its attempts start again from zero."""
    moved = conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.id == delivery)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            claimed_until=None,
            claimed_by=None,
        )
    ).rowcount
    return bool(moved)
