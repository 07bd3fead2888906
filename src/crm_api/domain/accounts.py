"""Accounts (the customers) and their contacts."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed
from crm_api.domain.preferences import WithPreferences

GRADES = ("A", "B", "C", "D")

ERASED = "[erased]"
CONTACT_PERSONAL_FIELDS: dict[str, str | None] = {
    "name": ERASED,
    "phone": ERASED,
    "email": ERASED,
    "occupation": ERASED,
    "birth_year": None,
}
"""A contact's personal fields and what each reads as once erased (text: "[erased]"; the
birth year: null). Their values are stored encrypted under the contact's own key
(crm_api/privacy), so destroying that key erases them from every past event."""


ERASURE_REASONS = ("subject_request", "retention_expired", "legal_obligation", "other")


def erased_details(values: dict[str, Any]) -> dict[str, Any]:
    """Every personal value that was recorded becomes its erased form; absent ones stay null."""
    return {
        name: erased if values.get(name) is not None else None
        for name, erased in CONTACT_PERSONAL_FIELDS.items()
    }


class Account(WithPreferences):
    """A customer. It has exactly one owner; changing the owner is a transfer, and history."""

    id: UUID
    kind = "account"
    record_type = "accounts"

    class Opened(CrmAggregate.Created):
        """v2: `address` became a structured object; v1 stored it as one line of text."""

        class_version = 2

        name: str
        owner_id: str
        industry: str | None
        phone: str | None
        address: dict[str, Any] | None
        manual_grade: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            address = state.get("address")
            state["address"] = {"line1": address} if isinstance(address, str) else address

    @event(Opened)
    def __init__(
        self,
        name: str,
        owner_id: str,
        industry: str | None,
        phone: str | None,
        address: dict[str, Any] | None,
        manual_grade: str | None,
    ) -> None:
        self.name = name
        self.owner_id = owner_id
        self.industry = industry
        self.phone = phone
        self.address = address
        self.manual_grade = manual_grade
        self.archived = False
        self.external_refs: list[dict[str, str]] = []

    def change_details(self, **changes: Any) -> None:
        self._require_open("changed")
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def link_external_ref(self, source: str, ref_id: str) -> None:
        """Remember how another system (an ERP, a shop) knows this account."""
        if {"source": source, "id": ref_id} not in self.external_refs:
            self._external_ref_linked(source=source, ref_id=ref_id)

    @event("ExternalRefLinked")
    def _external_ref_linked(self, source: str, ref_id: str) -> None:
        self.external_refs = [*self.external_refs, {"source": source, "id": ref_id}]

    def transfer_ownership(self, to_owner_id: str, reason: str | None) -> None:
        self._require_open("transferred")
        if to_owner_id == self.owner_id:
            raise InvalidTransition("the account is already owned by that user", code="same_owner")
        self._ownership_transferred(
            from_owner_id=self.owner_id, to_owner_id=to_owner_id, reason=reason
        )

    @event("OwnershipTransferred")
    def _ownership_transferred(
        self, from_owner_id: str, to_owner_id: str, reason: str | None
    ) -> None:
        self.owner_id = to_owner_id

    def archive(self) -> None:
        self._require_open("archived")
        self._archived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    def restore(self) -> None:
        if not self.archived:
            raise InvalidTransition("the account is not archived", code="not_archived")
        self._restored()

    @event("Restored")
    def _restored(self) -> None:
        self.archived = False

    def _require_open(self, verb: str) -> None:
        if self.archived:
            raise InvalidTransition(
                f"an archived account cannot be {verb}; restore it first", code="archived"
            )


class Contact(WithPreferences):
    """A person at an account. Only `account_id` and `name` are required."""

    id: UUID
    kind = "contact"
    record_type = "contacts"
    personal_fields: ClassVar[dict[str, Any]] = {
        **CONTACT_PERSONAL_FIELDS,
        "preferences": {},
        "custom_fields": {},
    }
    """Preferences and custom field values may describe the person too: sealed alike, and
    read as empty once erased."""

    @event("Added")
    def __init__(
        self,
        account_id: str,
        name: str,
        phone: str | None,
        email: str | None,
        occupation: str | None,
        birth_year: int | None,
    ) -> None:
        self.account_id = account_id
        self.name = name
        self.phone = phone
        self.email = email
        self.occupation = occupation
        self.birth_year = birth_year
        self.archived = False
        self.erased = False

    @classmethod
    def add_to(cls, account: Account, **details: Any) -> Contact:
        if account.archived:
            raise InvalidTransition(
                "contacts cannot be added to an archived account", code="archived"
            )
        return cls(account_id=str(account.id), **details)

    def change_details(self, **changes: Any) -> None:
        if self.erased:
            raise InvalidTransition(
                "an erased contact's personal data cannot be entered again", code="erased"
            )
        if self.archived:
            raise InvalidTransition(
                "an archived contact cannot be changed; restore it first", code="archived"
            )
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def archive(self) -> None:
        if self.archived:
            raise InvalidTransition("the contact is already archived", code="archived")
        self._archived()

    @event("Archived")
    def _archived(self) -> None:
        self.archived = True

    def restore(self) -> None:
        if not self.archived:
            raise InvalidTransition("the contact is not archived", code="not_archived")
        self._restored()

    @event("Restored")
    def _restored(self) -> None:
        self.archived = False

    def erase(self, reason: str, reference: str | None) -> None:
        """Right to erasure: the personal values read as erased from now on, in every past
        event too (the application destroys the contact's key). The event carries why, never
        what."""
        if reason not in ERASURE_REASONS:
            raise ValidationFailed(
                [FieldError("reason", f"must be one of: {', '.join(ERASURE_REASONS)}")]
            )
        if self.erased:
            raise InvalidTransition(
                "the contact's personal data is already erased", code="already_erased"
            )
        self._erased(reason=reason, reference=reference)

    @event("Erased")
    def _erased(self, reason: str, reference: str | None) -> None:
        for name, value in erased_details(vars(self)).items():
            setattr(self, name, value)
        self._preferences: dict[str, Any] = {}
        self._custom_fields: dict[str, Any] = {}
        self.erased = True

    def change_preferences(self, preferences: dict[str, Any]) -> None:
        self._refuse_if_erased()
        super().change_preferences(preferences)

    def change_custom_fields(self, values: dict[str, Any]) -> None:
        self._refuse_if_erased()
        super().change_custom_fields(values)

    def _refuse_if_erased(self) -> None:
        if getattr(self, "erased", False):
            raise InvalidTransition(
                "an erased contact's personal data cannot be entered again", code="erased"
            )
