"""Read models of inbound email.

`inbound_message_ids`: every Message-ID we sent (a customer notification, `<id@crm-api>`) or
received, with the service request (or unmatched message) it belongs to: a reply threads by
its In-Reply-To/References, and a second delivery of a received message is recognised.
`inbound_unmatched`: the inbox of messages that matched no request and no contact.
`attachment_blobs`: which contact's request each stored file belongs to, so erasing a contact
can delete the files only that contact's requests hold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    func,
    or_,
    select,
    true,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.inbound import InboundMessage
from crm_api.domain.service import ServiceRequest
from crm_api.projections.accounts import contacts
from crm_api.projections.base import Projection, handles, insert_ignore, insert_row, upsert
from crm_api.projections.paging import Page, Sort, keyset_page
from crm_api.projections.service import service_requests

SENT_DOMAIN = "crm-api"
MESSAGE_ID_LENGTH = 500

inbound_message_ids = Table(
    "inbound_message_ids",
    metadata,
    Column("message_id", String(MESSAGE_ID_LENGTH), primary_key=True),
    Column("direction", String(10), nullable=False),
    Column("request_id", String(36), nullable=True, index=True),
    Column("inbound_id", String(36), nullable=True, index=True),
    Column("recorded_at", UTCDateTime, nullable=False),
)

inbound_unmatched = Table(
    "inbound_unmatched",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sender", String(320), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("email_message_id", String(MESSAGE_ID_LENGTH), nullable=False),
    Column("attachment_count", Integer, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("linked_request_id", String(36), nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
)

attachment_blobs = Table(
    "attachment_blobs",
    metadata,
    Column("attachment_id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False),
    Column("contact_id", String(36), nullable=True, index=True),
    Column("sha256", String(64), nullable=False, index=True),
)

UNMATCHED_SORTS = ("received_at", "created_at")


def sent_message_id(notification_id: str) -> str:
    """The Message-ID (without angle brackets) the mailer sends a notification under."""
    return f"{notification_id}@{SENT_DOMAIN}"


class InboundProjection(Projection):
    name = "inbound"
    tables = (inbound_message_ids, inbound_unmatched, attachment_blobs)

    @handles(ServiceRequest.CustomerNotified)
    def notification_sent(self, conn: Connection, e: Any, position: int) -> None:
        insert_ignore(
            conn,
            inbound_message_ids,
            {
                "message_id": sent_message_id(e.message_id),
                "direction": "sent",
                "request_id": str(e.originator_id),
                "recorded_at": e.timestamp,
            },
            ["message_id"],
        )

    @handles(ServiceRequest.CustomerMessageReceived)
    def customer_message(self, conn: Connection, e: Any, position: int) -> None:
        upsert(
            conn,
            inbound_message_ids,
            {
                "message_id": e.email_message_id[:MESSAGE_ID_LENGTH],
                "direction": "received",
                "request_id": str(e.originator_id),
                "inbound_id": e.inbound_id,
                "recorded_at": e.timestamp,
            },
            ["message_id"],
        )

    @handles(ServiceRequest.AttachmentAdded)
    def attachment_added(self, conn: Connection, e: Any, position: int) -> None:
        insert_ignore(
            conn,
            attachment_blobs,
            {
                "attachment_id": e.attachment_id,
                "request_id": str(e.originator_id),
                "contact_id": e.contact_id,
                "sha256": e.sha256,
            },
            ["attachment_id"],
        )

    @handles(InboundMessage.Received)
    def unmatched_received(self, conn: Connection, e: Any, position: int) -> None:
        inbound_id = str(e.originator_id)
        insert_ignore(
            conn,
            inbound_message_ids,
            {
                "message_id": e.email_message_id[:MESSAGE_ID_LENGTH],
                "direction": "received",
                "inbound_id": inbound_id,
                "recorded_at": e.timestamp,
            },
            ["message_id"],
        )
        insert_row(
            conn,
            inbound_unmatched,
            dict(
                id=inbound_id,
                sender=e.sender[:320],
                subject=e.subject[:500],
                email_message_id=e.email_message_id[:MESSAGE_ID_LENGTH],
                attachment_count=len(e.attachments),
                status="unmatched",
                received_at=e.timestamp,
                version=e.originator_version,
                created_at=e.timestamp,
                updated_at=e.timestamp,
                position=position,
            ),
        )

    @handles(InboundMessage.Linked)
    def unmatched_linked(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(inbound_unmatched)
            .where(inbound_unmatched.c.id == str(e.originator_id))
            .values(
                status="linked",
                linked_request_id=e.request_id,
                version=e.originator_version,
                updated_at=e.timestamp,
                position=position,
            )
        )


# queries


def received(conn: Connection, message_id: str) -> dict[str, Any] | None:
    """What a received Message-ID was recorded as (request and/or unmatched message)."""
    row = conn.execute(
        select(inbound_message_ids).where(
            inbound_message_ids.c.message_id == message_id[:MESSAGE_ID_LENGTH],
            inbound_message_ids.c.direction == "received",
        )
    ).first()
    return dict(row._mapping) if row else None


def thread_of(conn: Connection, message_ids: list[str]) -> str | None:
    """The request the first of these Message-IDs (most relevant first) belongs to."""
    if not message_ids:
        return None
    known = dict(
        conn.execute(
            select(inbound_message_ids.c.message_id, inbound_message_ids.c.request_id).where(
                inbound_message_ids.c.message_id.in_([m[:MESSAGE_ID_LENGTH] for m in message_ids]),
                inbound_message_ids.c.request_id.is_not(None),
            )
        ).all()
    )
    return next((known[m] for m in message_ids if m in known), None)


def request_by_reference(conn: Connection, prefix: str) -> str | None:
    """The one request whose id starts with the reference's eight hex digits (None when no
    request or, improbably, several do)."""
    ids = (
        conn.execute(
            select(service_requests.c.id).where(service_requests.c.id.like(f"{prefix}-%")).limit(2)
        )
        .scalars()
        .all()
    )
    return ids[0] if len(ids) == 1 else None


def contact_by_email(conn: Connection, address: str) -> dict[str, Any] | None:
    """The (oldest, unarchived) contact with this email address, case-insensitively; erased
    contacts hold no address, so they never match."""
    row = conn.execute(
        select(contacts.c.id, contacts.c.account_id, contacts.c.email)
        .where(func.lower(contacts.c.email) == address.lower(), contacts.c.archived.is_(False))
        .order_by(contacts.c.created_at, contacts.c.id)
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def files_only_of(conn: Connection, contact_id: str) -> list[str]:
    """The blobs (sha256) attached to this contact's requests and to no one else's."""
    mine = select(attachment_blobs.c.sha256).where(attachment_blobs.c.contact_id == contact_id)
    shared = select(attachment_blobs.c.sha256).where(
        attachment_blobs.c.sha256.in_(mine),
        or_(attachment_blobs.c.contact_id.is_(None), attachment_blobs.c.contact_id != contact_id),
    )
    return list(
        conn.execute(mine.where(attachment_blobs.c.sha256.not_in(shared)).distinct()).scalars()
    )


def unmatched_page(
    conn: Connection, *, status: str | None, sort: Sort, cursor: str | None, limit: int
) -> Page:
    condition = true() if status is None else inbound_unmatched.c.status == status
    stmt = select(inbound_unmatched).where(and_(condition))
    return keyset_page(conn, stmt, dict(inbound_unmatched.c), sort, cursor, limit)
