"""Inbound email that matched no service request and no contact: the unmatched inbox.

A manager or admin links such a message to a request later; linking records the message on
the request (`ServiceRequestCustomerMessageReceived`) and its attachments there too. The
sender and text are personal data of someone we do not know yet: they are sealed under the
message's own key (crm_api/privacy), so they can be erased without a contact.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.accounts import ERASED
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import InvalidTransition


class InboundMessage(CrmAggregate):
    id: UUID
    kind = "inbound_message"
    personal_fields = {"sender": ERASED, "body": ERASED}

    class Received(CrmAggregate.Created):
        sender: str
        recipient: str | None
        subject: str
        body: str
        email_message_id: str
        attachments: list[dict[str, Any]]

    @event(Received)
    def __init__(
        self,
        sender: str,
        recipient: str | None,
        subject: str,
        body: str,
        email_message_id: str,
        attachments: list[dict[str, Any]],
    ) -> None:
        self.sender = sender
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.email_message_id = email_message_id
        self.attachments = attachments
        self.linked_request_id: str | None = None

    @classmethod
    def receive(cls, inbound_id: UUID, **fields: Any) -> InboundMessage:
        return cls.with_id(inbound_id, **fields)

    def link(self, request_id: str) -> None:
        if self.linked_request_id is not None:
            raise InvalidTransition(
                f"the message is already linked to service request {self.linked_request_id}",
                code="already_linked",
                state="linked",
            )
        self._linked(request_id=request_id)

    @event("Linked")
    def _linked(self, request_id: str) -> None:
        self.linked_request_id = request_id

    @property
    def status(self) -> str:
        return "unmatched" if self.linked_request_id is None else "linked"
