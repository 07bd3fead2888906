"""Webhook subscriptions: where an integrator wants events pushed, and which ones.

The signing secret is never part of an event (events are read by every auditor and live
forever); the application keeps it in a table of its own. The events record only that a secret
was rotated and until when the previous one keeps signing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import InvalidTransition

ALL_TYPES = "*"
MAX_TYPES = 200


class WebhookStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    DELETED = "deleted"


class DisabledBecause(StrEnum):
    REQUESTED = "requested"
    """Someone set `enabled: false`."""
    GONE = "gone"
    """The receiver answered 410 Gone."""
    DELETED = "deleted"


class Webhook(CrmAggregate):
    """A subscription: POST the events of `types` (or every type, "*") to `url`."""

    id: UUID
    kind = "webhook"

    @event("Registered")
    def __init__(self, url: str, types: list[str], description: str | None) -> None:
        self.url = url
        self.types = list(types)
        self.description = description
        self.status = WebhookStatus.ACTIVE
        self.disabled_reason: str | None = None
        self.previous_secret_valid_until: datetime | None = None

    def wants(self, type_name: str) -> bool:
        return ALL_TYPES in self.types or type_name in self.types

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._require_not_deleted()
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def rotate_secret(self, previous_valid_until: datetime) -> None:
        self._require_not_deleted()
        self._secret_rotated(previous_valid_until=previous_valid_until)

    @event("SecretRotated")
    def _secret_rotated(self, previous_valid_until: datetime) -> None:
        self.previous_secret_valid_until = previous_valid_until

    def enable(self) -> None:
        self._require_not_deleted()
        if self.status is WebhookStatus.DISABLED:
            self._enabled()

    @event("Enabled")
    def _enabled(self) -> None:
        self.status = WebhookStatus.ACTIVE
        self.disabled_reason = None

    def disable(self, because: DisabledBecause) -> None:
        """Stop delivering. Deliveries already enqueued are kept (and resume on enable)."""
        if because is DisabledBecause.DELETED:
            if self.status is not WebhookStatus.DELETED:
                self._deleted()
            return
        self._require_not_deleted()
        if self.status is WebhookStatus.ACTIVE:
            self._disabled(reason=because.value)

    @event("Disabled")
    def _disabled(self, reason: str) -> None:
        self.status = WebhookStatus.DISABLED
        self.disabled_reason = reason

    @event("Deleted")
    def _deleted(self) -> None:
        self.status = WebhookStatus.DELETED
        self.disabled_reason = DisabledBecause.DELETED.value

    def _require_not_deleted(self) -> None:
        if self.status is WebhookStatus.DELETED:
            raise InvalidTransition(
                "the webhook was deleted; create a new one", code="webhook_deleted"
            )
