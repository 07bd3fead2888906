"""/api/v1/service-requests/{id}/attachments: files and call-centre recordings on a service
request. The content goes to the blob store (by sha256, stored once); the request records
each as `ServiceRequestAttachmentAdded`. Whoever sees the request sees its attachments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import PROBLEMS, ListEnvelope, written
from crm_api.api.rest.deps import Command, CurrentPrincipal, ServicesDep
from crm_api.blobs import CHUNK
from crm_api.domain.errors import NotFound
from crm_api.domain.service import ServiceRequest

router = APIRouter(prefix="/api/v1/service-requests", tags=["service requests"], responses=PROBLEMS)

UPLOAD_PATH = r"^/api/v1/service-requests/[^/]+/attachments$"
MULTIPART_SLACK = 64 * 1024
"""Room for the multipart framing and form fields around a file at the size limit."""


class AttachmentOut(BaseModel):
    id: str
    kind: str = Field(description="attachment or recording (a call-centre recording)")
    filename: str
    content_type: str
    size: int
    sha256: str
    description: str | None
    added_at: dt.datetime
    added_by: str | None


def _latest(request: ServiceRequest) -> dict[str, Any]:
    return dict(request.attachments[-1])


@router.post(
    "/{request_id}/attachments",
    status_code=201,
    response_model=AttachmentOut,
    responses={415: PROBLEMS[422] | {"description": "Type not accepted or contradicted"}},
)
def add_attachment(
    request_id: str,
    file: Annotated[UploadFile, File(description="The file (multipart/form-data).")],
    ctx: Command,
    services: ServicesDep,
    response: Response,
    kind: Annotated[Literal["attachment", "recording"], Form()] = "attachment",
    description: Annotated[str | None, Form(max_length=300)] = None,
) -> Any:
    ctx.principal.require("service:open")
    services.service.get_request(ctx.principal, request_id)
    intake = services.intake
    if file.size is not None and file.size > intake.max_bytes:
        raise intake.too_large("file")
    stored = intake.admit(
        file.file, declared_type=file.content_type, filename=file.filename, kind=kind
    )
    outcome = services.service.add_attachment(
        ctx,
        request_id,
        {
            "sha256": stored.sha256,
            "size": stored.size,
            "content_type": stored.content_type,
            "filename": stored.filename,
            "kind": kind,
            "description": description or None,
        },
    )
    attachment = written(services, response, outcome, _latest)
    response.status_code = 201
    response.headers["Location"] = (
        f"{router.prefix}/{outcome.record.id}/attachments/{attachment['id']}"
    )
    return attachment


@router.get("/{request_id}/attachments", response_model=ListEnvelope[AttachmentOut])
def list_attachments(request_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Any:
    """Every attachment of the request, oldest first (a request holds at most 200)."""
    request = services.service.get_request(principal, request_id)
    return {"data": request.attachments, "next_cursor": None, "has_more": False}


def content_disposition(filename: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/{request_id}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download_attachment(
    request_id: str, attachment_id: str, principal: CurrentPrincipal, services: ServicesDep
) -> StreamingResponse:
    attachment = services.service.get_attachment(principal, request_id, attachment_id)
    try:
        blob = services.blobs.open(attachment["sha256"])
    except FileNotFoundError:
        raise NotFound(f"the content of attachment {attachment_id} is not stored") from None

    def chunks() -> Iterator[bytes]:
        with blob:
            while chunk := blob.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=attachment["content_type"],
        headers={
            "Content-Length": str(attachment["size"]),
            "Content-Disposition": content_disposition(attachment["filename"]),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
