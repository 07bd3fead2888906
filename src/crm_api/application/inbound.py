"""Inbound email: a mail gateway posts each message it receives for us; we thread it to its
service request, open a request for a known contact, or keep it in the unmatched inbox.

Threading, first match wins: a Message-ID in In-Reply-To, then References (latest first), that
we sent (a customer notification) or received for a request; then the subject's request
reference (`[SR-1a2b3c4d]`), accepted only from the request's contact's address (a reference
is short and visible, a Message-ID is neither). A message threaded or opened is recorded as
`ServiceRequestCustomerMessageReceived` (sender and text sealed under the contact's key) and
each attachment as `ServiceRequestAttachmentAdded`; all in one save. The delivery's command id
derives from its Message-ID, so a second delivery records nothing twice (`duplicate`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from io import BytesIO
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import Engine

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.attachments import AttachmentIntake, StoredFile
from crm_api.application.service import ServiceDesk
from crm_api.domain.accounts import Contact
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, NotFound, ValidationFailed
from crm_api.domain.inbound import InboundMessage
from crm_api.domain.people import Principal
from crm_api.domain.service import MAX_CUSTOMER_TEXT, ServiceRequest
from crm_api.projections.inbound import (
    contact_by_email,
    received,
    request_by_reference,
    thread_of,
)

REFERENCE = re.compile(r"\[(?:SR-)?([0-9a-f]{8})\]", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
NO_SUBJECT = "(no subject)"
SUBJECT_MAX = 300


@dataclass(frozen=True)
class EmailPart:
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class InboundEmail:
    sender: str
    recipient: str | None
    subject: str
    text: str
    message_id: str
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    attachments: tuple[EmailPart, ...] = ()

    def thread_ids(self) -> list[str]:
        """Message-IDs that may name the thread, most telling first."""
        return [*self.in_reply_to, *reversed(self.references)]


def message_ids(value: str | None) -> tuple[str, ...]:
    """`<a@b> <c@d>` (or a bare `a@b`) → ('a@b', 'c@d')."""
    if not value:
        return ()
    found = MESSAGE_ID.findall(value)
    if found:
        return tuple(found)
    return tuple(part for part in value.split() if "@" in part)


def _address(value: str | None, field: str) -> str:
    address = parseaddr(value or "")[1].strip()
    if not ADDRESS.match(address) or len(address) > 320:
        raise ValidationFailed([FieldError(field, "must be an email address")])
    return address


def _fallback_id(content: bytes) -> str:
    """A message without a Message-ID is known by its content."""
    return f"{hashlib.sha256(content).hexdigest()[:40]}@inbound.crm-api.invalid"


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = str(body.get_content())
    if body.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)
    return content.strip()


def _payload(part: EmailMessage) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def parse_rfc822(raw: bytes) -> InboundEmail:
    """A raw RFC 822 message (stdlib `email`, policy=default) as an inbound email."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    try:
        recipients = [a for _, a in getaddresses([str(v) for v in message.get_all("To", [])])]
        parts = [
            EmailPart(part.get_filename(), part.get_content_type(), _payload(part))
            for part in message.iter_attachments()
            if isinstance(part, EmailMessage)
        ]
        text = _text_of(message)
    except (LookupError, ValueError, TypeError) as error:
        raise ValidationFailed([FieldError("body", f"not a readable email: {error}")]) from None
    ids = message_ids(str(message.get("Message-ID", "")))
    return InboundEmail(
        sender=_address(str(message.get("From", "")), "from"),
        recipient=recipients[0] if recipients else None,
        subject=str(message.get("Subject", "")).strip(),
        text=text,
        message_id=ids[0] if ids else _fallback_id(raw),
        in_reply_to=message_ids(str(message.get("In-Reply-To", ""))),
        references=message_ids(str(message.get("References", ""))),
        attachments=tuple(parts),
    )


def from_fields(fields: dict[str, Any]) -> InboundEmail:
    """The JSON form: {from, to, subject, text, message_id, in_reply_to, references}."""
    text = fields.get("text") or ""
    subject = (fields.get("subject") or "").strip()
    ids = message_ids(fields.get("message_id"))
    return InboundEmail(
        sender=_address(fields["from"], "from"),
        recipient=fields.get("to"),
        subject=subject,
        text=text.strip(),
        message_id=ids[0] if ids else _fallback_id(f"{fields['from']}\n{subject}\n{text}".encode()),
        in_reply_to=message_ids(fields.get("in_reply_to")),
        references=tuple(m for r in fields.get("references") or [] for m in message_ids(r)),
    )


@dataclass(frozen=True)
class Delivery:
    """The answer to one inbound email."""

    outcome: str
    service_request_id: str | None = None
    inbound_id: str | None = None
    position: int | None = None
    topics: frozenset[str] | None = None


class InboundDesk:
    def __init__(
        self, app: CrmApplication, reader: Engine, desk: ServiceDesk, intake: AttachmentIntake
    ) -> None:
        self.app = app
        self.reader = reader
        self.desk = desk
        self.intake = intake

    def _store(self, email: InboundEmail) -> list[StoredFile]:
        return [
            self.intake.admit(
                BytesIO(part.data),
                declared_type=part.content_type,
                filename=part.filename,
                kind="attachment",
                field=f"attachments[{index}]",
            )
            for index, part in enumerate(email.attachments)
        ]

    def receive(self, ctx: CommandContext, email: InboundEmail) -> Delivery:
        ctx.principal.require("inbound:write")
        with self.reader.connect() as conn:
            seen = received(conn, email.message_id)
            if seen is not None:
                return Delivery("duplicate", seen["request_id"], seen["inbound_id"])
            request_id = thread_of(conn, email.thread_ids()) or self._by_reference(conn, email)
            contact = None if request_id else contact_by_email(conn, email.sender)
        files = self._store(email)
        delivery_ctx = replace(
            ctx, command_id=str(uuid5(NAMESPACE_URL, f"crm-inbound:{email.message_id}"))
        )
        if request_id is not None:
            outcome = self._thread(delivery_ctx, request_id, email, files)
            return _delivery("threaded", outcome, request_id=str(outcome.record.id))
        if contact is not None:
            opened = self.desk.open_routed(
                delivery_ctx,
                account_id=contact["account_id"],
                kind="inquiry",
                channel="email",
                priority="normal",
                subject=email.subject[:SUBJECT_MAX] or NO_SUBJECT,
                contact_id=contact["id"],
                then=lambda request: _record(request, email, files, None),
            )
            return _delivery("opened", opened, request_id=str(opened.record.id))
        held = self.app.create(
            delivery_ctx,
            InboundMessage,
            lambda inbound_id: [_held(inbound_id, email, files)],
        )
        return _delivery("unmatched", held, inbound_id=str(held.record.id))

    def _by_reference(self, conn: Any, email: InboundEmail) -> str | None:
        match = REFERENCE.search(email.subject)
        if match is None:
            return None
        request_id = request_by_reference(conn, match.group(1).lower())
        if request_id is None:
            return None
        contact_id = self.app.load(request_id, ServiceRequest).contact_id
        if contact_id is None:
            return None
        address = self.app.load(contact_id, Contact).email
        return request_id if address and address.lower() == email.sender.lower() else None

    def _thread(
        self, ctx: CommandContext, request_id: str, email: InboundEmail, files: list[StoredFile]
    ) -> Outcome[ServiceRequest]:
        return self.app.change(
            ctx, request_id, ServiceRequest, lambda r: _record(r, email, files, None)
        )

    # the unmatched inbox

    def get_unmatched(self, principal: Principal, inbound_id: str) -> InboundMessage:
        principal.require("inbound:read")
        return self.app.load(inbound_id, InboundMessage, "inbound message")

    @command
    def link(
        self, ctx: CommandContext, inbound_id: str, request_id: str
    ) -> Outcome[InboundMessage]:
        """File an unmatched message on a request the caller may see."""
        ctx.principal.require("inbound:link")
        inbound = self.get_unmatched(ctx.principal, inbound_id)
        if inbound.has_applied(ctx.command_id):
            return Outcome(inbound, self.app.head(), applied=False)
        try:
            self.desk.get_request(ctx.principal, request_id)
        except NotFound:
            raise ValidationFailed(
                [FieldError("service_request_id", f"no service request {request_id}")]
            ) from None
        email = InboundEmail(
            sender=inbound.sender,
            recipient=inbound.recipient,
            subject=inbound.subject,
            text=inbound.body,
            message_id=inbound.email_message_id,
        )
        files = [StoredFile(**a) for a in inbound.attachments]

        def decide(request: ServiceRequest) -> list[CrmAggregate]:
            inbound.link(str(request.id))
            _record(request, email, files, str(inbound.id))
            return [inbound]

        outcome = self.app.change(ctx, request_id, ServiceRequest, decide)
        return Outcome(inbound, outcome.position, outcome.applied, outcome.topics)


def _record(
    request: ServiceRequest,
    email: InboundEmail,
    files: list[StoredFile],
    inbound_id: str | None,
) -> None:
    request.receive_customer_message(
        sender=email.sender,
        subject=email.subject,
        body=email.text,
        email_message_id=email.message_id,
        inbound_id=inbound_id,
    )
    for stored in files:
        request.add_attachment(
            sha256=stored.sha256,
            size=stored.size,
            content_type=stored.content_type,
            filename=stored.filename,
            kind="attachment",
            description=f"from the email {email.message_id}"[:300],
        )


def _held(inbound_id: UUID, email: InboundEmail, files: list[StoredFile]) -> InboundMessage:
    return InboundMessage.receive(
        inbound_id,
        sender=email.sender,
        recipient=email.recipient,
        subject=email.subject[:998],
        body=email.text[:MAX_CUSTOMER_TEXT],
        email_message_id=email.message_id,
        attachments=[asdict(f) for f in files],
    )


def _delivery(
    outcome: str,
    result: Outcome[Any],
    *,
    request_id: str | None = None,
    inbound_id: str | None = None,
) -> Delivery:
    return Delivery(
        outcome if result.applied else "duplicate",
        request_id,
        inbound_id,
        result.position,
        result.topics,
    )
