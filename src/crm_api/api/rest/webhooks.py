"""/api/v1/webhooks: subscriptions that push the event feed to a URL, signed per Standard
Webhooks, and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AnyHttpUrl, BaseModel, Field

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
from crm_api.application.webhooks import webhook_view
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.webhooks import MAX_TYPES, Webhook, WebhookStatus
from crm_api.projections.paging import Sort
from crm_api.projections.webhooks import (
    DELIVERY_SORTS,
    SUBSCRIPTION_SORTS,
    list_deliveries,
    list_subscriptions,
)

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=PROBLEMS)

Url = Annotated[
    AnyHttpUrl, Field(description="http(s) only; must not resolve to a private address.")
]
TypeName = Annotated[str, Field(min_length=1, max_length=120)]
Types = Annotated[
    list[TypeName],
    Field(
        min_length=1,
        max_length=MAX_TYPES,
        description='Event types (e.g. QuoteApproved), or ["*"] for every type.',
    ),
]
Description = Annotated[str, Field(max_length=500)]
Secret = Annotated[
    str,
    Field(
        max_length=200,
        description="whsec_ + base64 of 24–64 random bytes; generated when left out.",
    ),
]


class WebhookCreate(Strict):
    url: Url
    types: Types
    secret: Secret | None = None
    description: Description | None = None


class WebhookUpdate(Strict):
    url: Url | None = None
    types: Types | None = None
    description: Description | None = Field(None, description="null clears it.")
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: UUID
    url: str
    types: list[str]
    description: str | None
    status: WebhookStatus
    enabled: bool
    disabled_reason: str | None = Field(description="requested, gone (410) or deleted.")
    previous_secret_valid_until: datetime | None = Field(
        description="After a rotation: until when the previous secret keeps signing."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="Shown once: store it now to verify signatures.")


class WebhookRow(BaseModel):
    id: UUID
    url: str
    types: list[str]
    description: str | None
    status: WebhookStatus
    disabled_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class DeliveryOut(BaseModel):
    id: UUID = Field(description="The `webhook-id` header: the same on every attempt.")
    webhook_id: UUID
    position: int
    event_type: str
    record_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def _with_secret(services: Any, response: Response, outcome: Any, ctx: Any, **kw: Any) -> Any:
    answer = written(services, response, outcome, webhook_view, **kw)
    return {**answer, "secret": services.webhooks.secret_of(outcome, ctx)}


@router.post("", status_code=201, response_model=WebhookWithSecret)
def create_webhook(
    body: WebhookCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    """Subscribe a URL to event types. The signing secret is in this answer only."""
    outcome = services.webhooks.create(
        ctx,
        url=str(body.url),
        types=body.types,
        description=body.description,
        secret=body.secret,
    )
    return _with_secret(services, response, outcome, ctx, created_at=router.prefix)


@router.get("", response_model=ListEnvelope[WebhookRow])
def list_webhooks(principal: CurrentPrincipal, services: ServicesDep, paging: PagingDep) -> Any:
    principal.require("webhooks:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, SUBSCRIPTION_SORTS, "created_at")
    with services.read() as conn:
        return listed(list_subscriptions(conn, sort, paging.cursor, paging.limit))


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(
    webhook_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    return one(response, services.webhooks.get(principal, webhook_id), webhook_view)


@router.patch("/{webhook_id}", response_model=WebhookOut)
def change_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """Change url, types or description; `enabled` turns delivery off and on (deliveries
    already enqueued wait while it is off)."""
    given = body.model_fields_set
    nulls = [f for f in ("url", "types", "enabled") if f in given and getattr(body, f) is None]
    if nulls:
        raise ValidationFailed([FieldError(f, "may not be null") for f in nulls])
    changes: dict[str, Any] = {}
    if "url" in given:
        changes["url"] = str(body.url)
    if "types" in given:
        changes["types"] = body.types
    if "description" in given:
        changes["description"] = body.description
    outcome = services.webhooks.change(ctx, webhook_id, changes, body.enabled, if_match)
    return written(services, response, outcome, webhook_view)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_secret(
    webhook_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    """A new secret, shown once; the previous one keeps signing alongside it (two
    signatures in `webhook-signature`) for CRM_WEBHOOK_SECRET_GRACE_HOURS."""
    outcome = services.webhooks.rotate_secret(ctx, webhook_id, if_match)
    return _with_secret(services, response, outcome, ctx)


@router.delete("/{webhook_id}", response_model=WebhookOut)
def delete_webhook(
    webhook_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    """Stop delivering for good. The subscription, its history and delivery log stay."""
    outcome = services.webhooks.delete(ctx, webhook_id, if_match)
    return written(services, response, outcome, webhook_view)


@router.get("/{webhook_id}/history", response_model=ListEnvelope[HistoryEntry])
def webhook_history(
    webhook_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    principal.require("history:read")
    webhook = services.webhooks.get(principal, webhook_id)
    return history(services.app, webhook, Webhook, cursor, limit)


@router.get("/{webhook_id}/deliveries", response_model=ListEnvelope[DeliveryOut])
def webhook_deliveries(
    webhook_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
) -> Any:
    """The delivery log, newest first by default (`sort=position` for oldest first)."""
    webhook = services.webhooks.get(principal, webhook_id)
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, DELIVERY_SORTS, "-position")
    with services.read() as conn:
        page = list_deliveries(conn, str(webhook.id), sort, paging.cursor, paging.limit, status)
    return listed(page)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(
    webhook_id: str, delivery_id: UUID, principal: CurrentPrincipal, services: ServicesDep
) -> Any:
    """Send a delivery again (failed ones included), with a fresh count of attempts; it still
    waits for the earlier deliveries of the same record."""
    return services.webhooks.redeliver(principal, webhook_id, str(delivery_id))
