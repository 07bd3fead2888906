"""Custom fields in GraphQL: `customFields` (a JSON object, key → value, as written) and
`customField(key:)` on every customisable type; the create and update inputs take a
`customFields` JSON object with the REST semantics (on update, null removes a key)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

CUSTOM_FIELDS = (
    "Custom field values (key → value) as written; definitions: GET /api/v1/field-definitions."
)


def custom_fields_field() -> Any:
    return strawberry.field(description=CUSTOM_FIELDS, default_factory=dict)


def _custom_field(root: Any, key: str) -> JSON | None:
    values: dict[str, Any] = getattr(root, "custom_fields", None) or {}
    return values.get(key)


def custom_field_field() -> Any:
    """`customField(key:)`: one value, or null when the record has none."""
    return strawberry.field(resolver=_custom_field, description="One custom field's value.")
