"""/api/v1/events: the event feed. Every event in log order as CloudEvents 1.0, resumable by
position; what webhooks push, an integrator can also pull."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import PROBLEMS
from crm_api.api.rest.deps import CurrentPrincipal, ServicesDep
from crm_api.integrations.event_feed import topics_for

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=PROBLEMS)


class EventData(BaseModel):
    record_id: str
    record_type: str = Field(description="The aggregate's kind: account, quote, webhook, …")
    version: int = Field(description="The record's version after this event.")
    position: int = Field(description="The event's position in the log.")
    occurred_at: str = Field(description="Business time (RFC 3339).")
    actor: str
    actor_type: str
    on_behalf_of: str | None
    correlation_id: str | None
    payload: dict[str, Any] = Field(description="The event's fields, as in /history `data`.")


class CloudEventOut(BaseModel):
    """A CloudEvents 1.0 event (JSON format)."""

    specversion: Literal["1.0"]
    id: str = Field(description="Stable across reads: derived from the record and version.")
    source: str = Field(description="/crm/<workspace name>")
    type: str = Field(description="crm.<TypeName>, e.g. crm.QuoteApproved (docs/events.md).")
    subject: str = Field(description="The record's id.")
    time: datetime = Field(description="When the event was recorded.")
    datacontenttype: Literal["application/json"]
    data: EventData


class EventPage(BaseModel):
    data: list[CloudEventOut]
    next_after: int = Field(
        description="Pass as `after` to read on: the last position returned, or `after`."
    )
    has_more: bool
    head: int = Field(description="The newest position in the log when the page was read.")


@router.get("", response_model=EventPage)
def read_events(
    principal: CurrentPrincipal,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, description="Events after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    types: Annotated[
        str | None,
        Query(
            max_length=8000,
            description="Comma-separated event types, e.g. QuoteApproved,AccountOpened.",
        ),
    ] = None,
) -> Any:
    """The events after `after`, in log order, gapless: a reader that resumes from
    `next_after` sees every event exactly once and never one before an earlier one."""
    principal.require("events:read")
    names = [t.strip() for t in types.split(",") if t.strip()] if types else []
    topics = topics_for(names) if names else []
    page = services.feed.page(after, limit, topics)
    return Response(content=page.as_json(), media_type="application/json")
