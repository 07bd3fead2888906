"""Unique values (a user's email) as claims: the event store's own version check makes them
race-free, because two claims of one value both try to create the same aggregate id."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import Conflict


class UniqueClaim(CrmAggregate):
    id: UUID
    kind = "unique_claim"

    @staticmethod
    def id_for(namespace: str, value: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"crm-unique:{namespace}:{value.strip().lower()}")

    @event("Claimed")
    def __init__(self, namespace: str, value: str, holder_id: str) -> None:
        self.namespace = namespace
        self.value = value
        self.holder_id: str | None = holder_id

    def claim_again(self, holder_id: str, code: str) -> None:
        if self.holder_id is not None and self.holder_id != holder_id:
            raise Conflict(f"{self.namespace} '{self.value}' is already taken", code=code)
        if self.holder_id is None:
            self._reclaimed(holder_id=holder_id)

    @event("Reclaimed")
    def _reclaimed(self, holder_id: str) -> None:
        self.holder_id = holder_id

    @event("Released")
    def release(self) -> None:
        self.holder_id = None
