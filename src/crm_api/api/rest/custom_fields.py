"""What every customisable record's router shares: the `custom_fields` and `preferences`
schemas, and the `cf.<key>` filters and sort keys of its list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import ConfigDict, Field, WithJsonSchema

from crm_api.api.rest.conventions import Strict
from crm_api.api.rest.deps import ServicesDep
from crm_api.domain.custom_fields import VALUES_PER_WRITE
from crm_api.domain.preferences import CHANNELS, DAYS, TAG_LENGTH, TAG_LIMIT
from crm_api.projections.custom_fields import CustomFieldQuery, current_definitions

CUSTOM_VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "array", "items": {"type": "string"}},
        {"type": "null"},
    ]
}
CustomValue = Annotated[Any, WithJsonSchema(CUSTOM_VALUE_SCHEMA)]
CustomFieldsIn = Annotated[
    dict[str, CustomValue],
    Field(
        max_length=VALUES_PER_WRITE,
        description=(
            "Values of the custom fields an administrator defined for this record type "
            "(GET /api/v1/field-definitions?record_type=…): key → value. On update only the "
            "keys sent change; null removes a value."
        ),
    ),
]
CustomFieldsOut = Annotated[
    dict[str, CustomValue],
    Field(
        default_factory=dict,
        description="Custom field values as written (under the definition of that time).",
    ),
]

Channel = Literal["email", "phone", "sms", "mail", "none"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
assert set(Channel.__args__) == set(CHANNELS) and set(Day.__args__) == set(DAYS)  # type: ignore[attr-defined]


class ContactTime(Strict):
    model_config = ConfigDict(**Strict.model_config, serialize_by_alias=True)

    days: list[Day] = Field(min_length=1, max_length=7)
    from_: str = Field(alias="from", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    to: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Preferences(Strict):
    """The customer's preferences; on update only the keys sent change, null removes one."""

    channel: Channel | None = None
    language: str | None = Field(
        None, max_length=35, description="A BCP 47 language tag: en, pt-BR, zh-Hant-TW"
    )
    contact_times: list[ContactTime] | None = Field(
        None, max_length=14, description="When to reach them (their local time)."
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=TAG_LENGTH)]] | None = Field(
        None, max_length=TAG_LIMIT, description="Free-form preferences: 'aisle seat', 'vegan'."
    )


def custom_field_query(record_type: str) -> Callable[..., CustomFieldQuery]:
    """A dependency: the list's `cf.<key>=…` query parameters checked against the record
    type's definitions (unknown key → 422 naming the parameter)."""

    def parse(request: Request, services: ServicesDep) -> CustomFieldQuery:
        params = [(k, v) for k, v in request.query_params.multi_items() if k.startswith("cf.")]
        with services.read() as conn:
            specs = current_definitions(conn, record_type)
        return CustomFieldQuery.parse(record_type, params, specs)

    return parse


def CustomFilter(record_type: str) -> Any:
    return Annotated[CustomFieldQuery, Depends(custom_field_query(record_type))]
