"""Custom fields in GraphQL: `customFields` (a JSON object, key → value, as written) and
`customField(key:)` on every customisable type; the create and update inputs take a
`customFields` JSON object with the REST semantics (on update, null removes a key); the
connections filter by `customFields: [CustomFieldCondition!]` and sort by `cf.<key>`, as REST
lists do by `cf.<key>=value` and `sort=cf.<key>`."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from crm_api.application.services import Services
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.projections.custom_fields import CustomFieldQuery, current_definitions

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


@strawberry.input(
    description=(
        "A custom field equals a value, written as REST's `cf.<key>=value` takes it: 12 or "
        "12.5 for a number, 2026-03-01 for a date, true or false, an option of an enum; a "
        "multi_enum matches when it holds the option."
    )
)
class CustomFieldCondition:
    key: str
    value: str


CustomFieldConditions = Annotated[
    list[CustomFieldCondition] | None,
    strawberry.argument(
        description=(
            "Only records whose custom fields satisfy every condition. An unknown key or a value "
            "that does not fit its field is refused (`validation_failed`, field "
            "`customFields.<key>`)."
        )
    ),
]


def sort_argument(keys: tuple[str, ...]) -> Any:
    """The `sort` argument's description: the record's own keys and its custom fields'."""
    return strawberry.argument(
        description=(
            f"Comma-separated keys, - for descending: {', '.join(keys)}, or cf.<key> of a "
            "sortable custom field (records without a value first ascending, last descending)"
        )
    )


def custom_field_query(
    services: Services, record_type: str, conditions: list[CustomFieldCondition] | None
) -> CustomFieldQuery:
    """The conditions, and the `cf.<key>` sort keys, checked against the record type's
    definitions exactly as REST checks its `cf.<key>` parameters; an error names
    `customFields.<key>`, the argument and the condition at fault."""
    params = [(f"cf.{condition.key}", condition.value) for condition in conditions or ()]
    with services.read() as conn:
        specs = current_definitions(conn, record_type)
    try:
        return CustomFieldQuery.parse(record_type, params, specs)
    except ValidationFailed as failed:
        raise ValidationFailed(
            [
                FieldError("customFields." + e.field.removeprefix("cf."), e.message)
                for e in failed.errors
            ]
        ) from None
