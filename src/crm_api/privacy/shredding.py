"""Crypto-shredding at the transcoding boundary: personal values leave the process encrypted
under their subject's key and come back decrypted, or as erased once that key is gone.

Domain events hold plain values; only their stored form differs. An aggregate opts in by naming
its personal fields (`personal_fields`, field → erased form, e.g. `Contact`); the mapper then
replaces each recorded value of those fields, at the top of an event or inside its `changes`,
by `{"_pii": base64(nonce + AES-GCM ciphertext)}` bound to the subject and the field. History,
`as_of`, the feed, webhooks, projections and rebuilds all decode through this mapper, so they
all read the erased form after an erasure, with no special case anywhere else.
"""

from __future__ import annotations

import json
import os
from base64 import b64decode, b64encode
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import resolve_topic

from crm_api.privacy.keys import SubjectKeys

TOKEN = "_pii"
NONCE_BYTES = 12


_PERSONAL_FIELDS: dict[type, tuple[dict[str, Any], str | None]] = {}


def _personal(event_class: type) -> tuple[dict[str, Any], str | None]:
    found = _PERSONAL_FIELDS.get(event_class)
    if found is None:
        owner_path, _, _ = event_class.__qualname__.rpartition(".")
        try:
            owner: Any = resolve_topic(f"{event_class.__module__}:{owner_path}")
        except Exception:  # a top-level or local class: no aggregate to ask
            owner = None
        found = _PERSONAL_FIELDS[event_class] = (
            dict(getattr(owner, "personal_fields", {}) or {}),
            getattr(owner, "personal_subject", None),
        )
    return found


def personal_fields_of(event_class: type) -> dict[str, Any]:
    """The personal fields (→ erased form) of the aggregate an event class belongs to."""
    return _personal(event_class)[0]


def subject_of(event: Any) -> str | None:
    """Whose key seals an event's personal fields: the record's own (a contact), or the one
    its aggregate names in `personal_subject` (a service request's notification names its
    contact); None when that field is empty (nothing to erase it by, so nothing sealed)."""
    field = _personal(type(event))[1]
    subject = event.originator_id if field is None else getattr(event, field, None)
    return None if subject is None else str(subject)


def _aad(subject_id: str, field: str) -> bytes:
    return f"{subject_id}/{field}".encode()


def seal(key: bytes, subject_id: str, field: str, value: Any) -> dict[str, str]:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(value).encode(), _aad(subject_id, field))
    return {TOKEN: b64encode(nonce + sealed).decode()}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {TOKEN}


def unseal(
    key: bytes | None, subject_id: str, field: str, token: dict[str, str], erased: Any
) -> Any:
    if key is None:
        return erased
    raw = b64decode(token[TOKEN])
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(subject_id, field))
    except InvalidTag:
        return erased
    return json.loads(plain)


def _personal_places(
    state: dict[str, Any], fields: dict[str, Any]
) -> list[tuple[dict[str, Any], str]]:
    """Where personal values sit in an event's state: its own fields and its `changes`."""
    places = [(state, name) for name in fields if name in state]
    changes = state.get("changes")
    if isinstance(changes, dict):
        places.extend((changes, name) for name in fields if name in changes)
    return places


class ShreddingMapper(Mapper[UUID]):
    """The library's mapper (and its cipher, when one is configured) plus per-subject sealing of
    personal fields. Without `subject_keys` (domain tests, tools) values pass in the clear."""

    subject_keys: SubjectKeys | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = personal_fields_of(type(domain_event))
        if fields and self.subject_keys is not None:
            state = _copy_state(vars(domain_event))
            places = [(d, n) for d, n in _personal_places(state, fields) if d[n] is not None]
            subject = subject_of(domain_event)
            if places and subject is not None:
                key = self.subject_keys.key_for_writing(subject)
                for holder, name in places:
                    holder[name] = seal(key, subject, name, holder[name])
                sealed = object.__new__(type(domain_event))
                object.__setattr__(sealed, "__dict__", state)
                domain_event = sealed
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event: Any = super().to_domain_event(stored_event)
        fields = personal_fields_of(type(domain_event))
        if fields:
            state = vars(domain_event)
            places = [(d, n) for d, n in _personal_places(state, fields) if is_sealed(d[n])]
            subject = subject_of(domain_event)
            if places and subject is not None:
                keys = self.subject_keys
                key = keys.key(subject) if keys is not None else None
                for holder, name in places:
                    holder[name] = unseal(key, subject, name, holder[name], fields[name])
        return domain_event


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    copied = dict(state)
    if isinstance(copied.get("changes"), dict):
        copied["changes"] = dict(copied["changes"])
    return copied
