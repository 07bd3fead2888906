"""Input types, checked by the REST request models so that each rule is written once."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from strawberry.scalars import JSON

from crm_api.domain.errors import FieldError, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def plain(value: Any) -> Any:
    """An input object as a dict of the fields the client sent (UNSET fields are left out)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):  # e.g. {"items": [WorkPlanItemInput, ...]}
        return {k: plain(v) for k, v in value.items()}
    return value


def validated(model: type[M], value: Any) -> M:
    data = plain(value)
    try:
        return model.model_validate(data)
    except PydanticValidationError as error:
        raise ValidationFailed(
            [
                FieldError(
                    ".".join(camel(str(p)) if isinstance(p, str) else f"[{p}]" for p in e["loc"]),
                    e["msg"],
                )
                for e in error.errors()
            ]
        ) from None


def reject_nulls(changes: dict[str, Any], *required: str) -> None:
    for name in required:
        if name in changes and changes[name] is None:
            raise ValidationFailed([FieldError(camel(name), "cannot be null")])


@strawberry.input
class AddressInput:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2")


@strawberry.input
class CreateAccountInput:
    name: str
    owner_id: strawberry.ID
    industry: str | None = None
    phone: str | None = None
    address: AddressInput | None = None
    manual_grade: str | None = strawberry.field(default=None, description="A, B, C or D")

    preferences: JSON | None = strawberry.field(
        default=None, description="channel, language, contactTimes [{days, from, to}], tags."
    )
    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateAccountInput:
    name: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    manual_grade: str | None = strawberry.UNSET

    preferences: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes one."
    )
    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes a value."
    )


@strawberry.input
class CreateContactInput:
    account_id: strawberry.ID
    name: str
    phone: str | None = None
    email: str | None = None
    occupation: str | None = None
    birth_year: int | None = None

    preferences: JSON | None = strawberry.field(
        default=None, description="channel, language, contactTimes [{days, from, to}], tags."
    )
    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateContactInput:
    name: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    occupation: str | None = strawberry.UNSET
    birth_year: int | None = strawberry.UNSET

    preferences: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes one."
    )
    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes a value."
    )


@strawberry.input
class CreateUserInput:
    name: str
    email: str
    role: str = strawberry.field(description="admin, manager, rep, assistant, …")
    team_id: strawberry.ID | None = None
    approval_limit_pct: Decimal | None = strawberry.field(
        default=None, description="Managers: the deepest discount below list price they approve."
    )
    assists: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateUserInput:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    role: str | None = strawberry.UNSET
    team_id: strawberry.ID | None = strawberry.UNSET
    approval_limit_pct: Decimal | None = strawberry.UNSET
    assists: list[strawberry.ID] | None = strawberry.UNSET


@strawberry.input
class CreateTeamInput:
    name: str
    manager_id: strawberry.ID | None = None


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateTeamInput:
    name: str | None = strawberry.UNSET
    manager_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class AccountFilter:
    owner_id: strawberry.ID | None = None
    q: str | None = None
    industry: str | None = None
    manual_grade: str | None = None
    archived: bool | None = strawberry.field(
        default=False, description="false (default) live only, true archived only, null any."
    )
    updated_since: datetime | None = None


@strawberry.input
class ContactFilter:
    account_id: strawberry.ID | None = None
    q: str | None = None
    archived: bool | None = strawberry.field(
        default=False, description="false (default) live only, true archived only, null any."
    )
    updated_since: datetime | None = None


@strawberry.input
class UserFilter:
    role: str | None = None
    team_id: strawberry.ID | None = None
    active: bool | None = None
    q: str | None = None


def search_text(q: str | None) -> str | None:
    """`q` as the REST lists take it: 1 to 100 characters."""
    if q is not None and not 1 <= len(q) <= 100:
        raise ValidationFailed([FieldError("q", "must be 1 to 100 characters")])
    return q
