"""/api/v1/inbound: email received for the service desk, posted by a mail gateway (an API key
with the scope `inbound:write`), and the inbox of messages that matched nothing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, Strict, listed, wait_min_position
from crm_api.api.rest.deps import Command, CurrentPrincipal, PagingDep, ServicesDep
from crm_api.application.inbound import from_fields, parse_rfc822
from crm_api.application.services import Services
from crm_api.domain.errors import FieldError, UnsupportedMediaType, ValidationFailed
from crm_api.projections.inbound import UNMATCHED_SORTS, unmatched_page
from crm_api.projections.paging import Sort

router = APIRouter(prefix="/api/v1/inbound", tags=["inbound email"], responses=PROBLEMS)

EMAIL_PATH = r"^/api/v1/inbound/email$"
RFC822 = "message/rfc822"
MessageIds = Annotated[str, Field(max_length=2000)]


class InboundEmailJson(Strict):
    """An email already parsed by the gateway."""

    sender: Annotated[str, Field(alias="from", min_length=3, max_length=400)]
    to: Annotated[str | None, Field(max_length=400)] = None
    subject: Annotated[str, Field(max_length=998)] = ""
    text: Annotated[str, Field(max_length=100_000)] = ""
    message_id: MessageIds | None = None
    in_reply_to: MessageIds | None = None
    references: Annotated[list[MessageIds], Field(max_length=100)] = []


class DeliveryOut(BaseModel):
    outcome: Literal["threaded", "opened", "unmatched", "duplicate"]
    service_request_id: str | None = None
    inbound_id: str | None = None


class UnmatchedOut(BaseModel):
    id: str
    sender: str
    subject: str
    email_message_id: str
    attachment_count: int
    status: str = Field(description="unmatched, or linked (to linked_request_id)")
    linked_request_id: str | None
    received_at: dt.datetime
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class Link(Strict):
    service_request_id: Annotated[str, Field(min_length=1, max_length=64)]


def _json_email(raw: bytes) -> dict[str, Any]:
    try:
        body = InboundEmailJson.model_validate(json.loads(raw or b"null"))
    except (json.JSONDecodeError, UnicodeDecodeError):  # bytes that are not UTF-8 at all
        raise ValidationFailed([FieldError("body", "is not valid JSON")]) from None
    except ValidationError as error:
        raise ValidationFailed(
            [
                FieldError(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
                for e in error.errors()
            ]
        ) from None
    return {"from": body.sender, **body.model_dump(exclude={"sender"})}


@router.post(
    "/email",
    response_model=DeliveryOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                RFC822: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": InboundEmailJson.model_json_schema(by_alias=True)},
            },
        }
    },
    responses={415: PROBLEMS[422] | {"description": "Neither message/rfc822 nor JSON"}},
)
async def receive_email(request: Request, ctx: Command, services: ServicesDep) -> Any:
    """Thread (200), open or hold (201) one email (see docs/service.md); a second delivery
    of the same Message-ID answers 200 `duplicate` and records nothing again."""
    ctx.principal.require("inbound:write")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type == RFC822:
        email = await to_thread.run_sync(parse_rfc822, raw)
    elif content_type == "application/json":
        email = from_fields(_json_email(raw))
    else:
        raise UnsupportedMediaType(
            [FieldError("Content-Type", f"send {RFC822} or application/json")]
        )
    delivery = await to_thread.run_sync(services.inbound.receive, ctx, email)
    return _answer(services, delivery)


def _answer(services: Services, delivery: Any) -> Response:
    body = DeliveryOut(
        outcome=delivery.outcome,
        service_request_id=delivery.service_request_id,
        inbound_id=delivery.inbound_id,
    )
    headers = {}
    if delivery.position is not None:
        services.wait_for(delivery.position, delivery.topics)
        headers["X-Log-Position"] = str(delivery.position)
    status = 201 if delivery.outcome in ("opened", "unmatched") else 200
    return Response(
        body.model_dump_json(exclude_none=True),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


@router.get("/unmatched", response_model=ListEnvelope[UnmatchedOut])
def list_unmatched(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    status: Literal["unmatched", "linked"] | None = "unmatched",
) -> Any:
    principal.require("inbound:read")
    wait_min_position(services, paging.min_position)
    sort = Sort.parse(paging.sort, UNMATCHED_SORTS, "-received_at")
    with services.read() as conn:
        page = unmatched_page(
            conn, status=status, sort=sort, cursor=paging.cursor, limit=paging.limit
        )
    return listed(page)


@router.post("/unmatched/{inbound_id}/link", response_model=UnmatchedOut)
def link_unmatched(
    inbound_id: str, body: Link, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    """File the message on a service request: it is recorded there as the customer's message
    (with its attachments), and the request resumes or reopens as a threaded reply would."""
    outcome = services.inbound.link(ctx, inbound_id, body.service_request_id)
    services.wait_for(outcome.position, outcome.topics)
    response.headers["ETag"] = f'"{outcome.record.version}"'
    response.headers["X-Log-Position"] = str(outcome.position)
    return _unmatched_view(outcome.record)


def _unmatched_view(inbound: Any) -> dict[str, Any]:
    return {
        "id": str(inbound.id),
        "sender": inbound.sender,
        "subject": inbound.subject,
        "email_message_id": inbound.email_message_id,
        "attachment_count": len(inbound.attachments),
        "status": inbound.status,
        "linked_request_id": inbound.linked_request_id,
        "received_at": inbound.created_on,
        "version": inbound.version,
        "created_at": inbound.created_on,
        "updated_at": inbound.modified_on,
    }
