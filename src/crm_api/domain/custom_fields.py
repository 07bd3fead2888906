"""Custom fields: definitions an administrator adds per record type, and the rules a value
must meet when it is written.

A record type's definitions live in one `FieldCatalog` (its id derives from the record type),
so a key is unique per record type by construction and a write validates against the catalog
as the event store has it. A value is checked only when it is written: a value written under
an older definition is shown as written, and narrowing a definition reports the records that
no longer meet it instead of breaking reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import Conflict, FieldError, NotFound, ValidationFailed

RECORD_TYPES: dict[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "opportunities": "opportunity",
    "quotes": "quote",
    "orders": "order",
    "assets": "asset",
    "service-requests": "service_request",
    "activities": "activity",
}
"""The record types that carry custom fields (their REST collection) and their aggregate kind."""

REFERENCE_TARGETS: dict[str, str] = {**RECORD_TYPES, "users": "user", "products": "product"}
"""What a `reference` field may point to: a record type's collection → the aggregate kind."""

FIELD_TYPES = (
    "text",
    "number",
    "decimal",
    "date",
    "boolean",
    "enum",
    "multi_enum",
    "email",
    "phone",
    "url",
    "reference",
)
BOUNDED_BY_VALUE = ("number", "decimal", "date")
BOUNDED_BY_LENGTH = ("text", "email", "phone", "url")
WITH_OPTIONS = ("enum", "multi_enum")
SORTABLE = tuple(t for t in FIELD_TYPES if t != "multi_enum")

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_LIMIT = 1000
NUMBER_LIMIT = Decimal("1e27")
DECIMAL_PATTERN = re.compile(r"^-?\d{1,27}(\.\d{1,10})?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()./\-]{3,40}$")
OPTION_LIMIT = 200
OPTION_LENGTH = 100
LABEL_LENGTH = 100
HELP_LENGTH = 500
FIELDS_PER_RECORD_TYPE = 200
VALUES_PER_WRITE = FIELDS_PER_RECORD_TYPE

DEFINITION_ATTRIBUTES = (
    "label",
    "type",
    "required",
    "default",
    "options",
    "min",
    "max",
    "max_length",
    "reference_to",
    "help_text",
)
"""What a definition holds besides its record type and key (which never change)."""


def catalog_id(record_type: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"crm-field-catalog:{record_type}")


def definition_id(record_type: str, key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"crm-field:{record_type}:{key}")


def check_record_type(record_type: str, field_name: str = "record_type") -> str:
    if record_type not in RECORD_TYPES:
        raise ValidationFailed(
            [FieldError(field_name, f"must be one of: {', '.join(RECORD_TYPES)}")]
        )
    return record_type


class InvalidValue(ValueError):
    """A value does not meet its definition; the message says why, for a field error."""


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("must be a number")
    number = Decimal(str(value))
    if not number.is_finite() or abs(number) >= NUMBER_LIMIT:
        raise InvalidValue("must be a finite number below 1e27 in size")
    return number


def _decimal(value: Any) -> Decimal:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not DECIMAL_PATTERN.match(text):
        raise InvalidValue('must be a decimal string such as "12.50" (≤ 27 digits, ≤ 10 decimals)')
    return Decimal(text)


def _date(value: Any) -> date:
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        raise InvalidValue("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue("must be a real calendar date (YYYY-MM-DD)") from None


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidValue("must be a string")
    if not value.strip():
        raise InvalidValue("must not be blank (send null to clear the field)")
    if len(value) > limit:
        raise InvalidValue(f"must be at most {limit} characters")
    if "\x00" in value:
        raise InvalidValue("must not contain NUL characters")
    return value


def _url(value: Any, limit: int) -> str:
    text = _text(value, limit)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise InvalidValue("must be an http or https URL")
    return text


def comparable(field_type: str, value: Any) -> Decimal | date | None:
    """The value as compared with the bounds, for the types bounded by value."""
    if field_type == "number":
        return _number(value)
    if field_type == "decimal":
        return _decimal(value)
    if field_type == "date":
        return _date(value)
    return None


@dataclass(frozen=True)
class FieldSpec:
    """One definition, as the rules see it."""

    record_type: str
    key: str
    label: str
    type: str
    required: bool = False
    default: Any = None
    options: tuple[str, ...] = ()
    min: Any = None
    max: Any = None
    max_length: int | None = None
    reference_to: str | None = None
    help_text: str | None = None
    retired: bool = False
    revision: int = 1

    @classmethod
    def from_dict(cls, record_type: str, key: str, data: dict[str, Any]) -> FieldSpec:
        return cls(
            record_type=record_type,
            key=key,
            label=data["label"],
            type=data["type"],
            required=bool(data.get("required", False)),
            default=data.get("default"),
            options=tuple(data.get("options") or ()),
            min=data.get("min"),
            max=data.get("max"),
            max_length=data.get("max_length"),
            reference_to=data.get("reference_to"),
            help_text=data.get("help_text"),
            retired=bool(data.get("retired", False)),
            revision=int(data.get("revision", 1)),
        )

    def attributes(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "options": list(self.options) if self.type in WITH_OPTIONS else None,
            "min": self.min,
            "max": self.max,
            "max_length": self.max_length,
            "reference_to": self.reference_to,
            "help_text": self.help_text,
        }

    @property
    def id(self) -> UUID:
        return definition_id(self.record_type, self.key)

    def check(self, value: Any) -> Any:
        """The value as stored, or InvalidValue. (References are checked to exist by
        `FieldCatalog.resolve`, which can ask the store.)"""
        kind = self.type
        if kind in BOUNDED_BY_VALUE:
            bounded = comparable(kind, value)
            assert bounded is not None
            if self.min is not None and bounded < comparable(kind, self.min):  # type: ignore[operator]
                raise InvalidValue(f"must be at least {self.min}")
            if self.max is not None and bounded > comparable(kind, self.max):  # type: ignore[operator]
                raise InvalidValue(f"must be at most {self.max}")
            return str(bounded) if kind == "decimal" else value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidValue("must be true or false")
            return value
        if kind == "enum":
            if not isinstance(value, str) or value not in self.options:
                raise InvalidValue(f"must be one of: {', '.join(self.options)}")
            return value
        if kind == "multi_enum":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidValue("must be a list of options")
            unknown = [v for v in value if v not in self.options]
            if unknown:
                raise InvalidValue(
                    f"'{unknown[0]}' is not an option; use: {', '.join(self.options)}"
                )
            if len(set(value)) != len(value):
                raise InvalidValue("must not repeat an option")
            return list(value)
        if kind == "reference":
            try:
                return str(UUID(value)) if isinstance(value, str) else _refuse("a record id")
            except ValueError:
                raise InvalidValue("must be a record id (UUID)") from None
        limit = self.max_length or TEXT_LIMIT
        if kind == "url":
            return _url(value, limit)
        text = _text(value, limit)
        if kind == "email" and not EMAIL_PATTERN.match(text):
            raise InvalidValue("must be an email address")
        if kind == "phone" and not PHONE_PATTERN.match(text):
            raise InvalidValue("must be a phone number (digits, spaces, + ( ) . / -)")
        return text

    def violation(self, value: Any) -> str | None:
        """Why a stored value (or its absence) breaks this definition now, or None."""
        if value is None:
            return "required, but the record has no value" if self.required else None
        try:
            self.check(value)
        except InvalidValue as error:
            return str(error)
        return None


def _refuse(what: str) -> Any:
    raise InvalidValue(f"must be {what}")


def definition_errors(attributes: dict[str, Any]) -> list[FieldError]:
    """Whether a definition (all its attributes) makes sense; errors name the request field."""
    errors: list[FieldError] = []
    kind = attributes.get("type")
    if kind not in FIELD_TYPES:
        return [FieldError("type", f"must be one of: {', '.join(FIELD_TYPES)}")]
    label = attributes.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_LENGTH:
        errors.append(FieldError("label", f"must be 1–{LABEL_LENGTH} characters"))
    help_text = attributes.get("help_text")
    if help_text is not None and (not isinstance(help_text, str) or len(help_text) > HELP_LENGTH):
        errors.append(FieldError("help_text", f"must be at most {HELP_LENGTH} characters"))
    options = attributes.get("options")
    if kind in WITH_OPTIONS:
        if not isinstance(options, list) or not options:
            errors.append(FieldError("options", f"a {kind} field needs a list of options"))
        elif len(options) > OPTION_LIMIT:
            errors.append(FieldError("options", f"at most {OPTION_LIMIT} options"))
        elif not all(
            isinstance(o, str) and o.strip() and len(o) <= OPTION_LENGTH and "|" not in o
            for o in options
        ):
            errors.append(
                FieldError("options", f"options are 1–{OPTION_LENGTH} characters, without '|'")
            )
        elif len(set(options)) != len(options):
            errors.append(FieldError("options", "options must be unique"))
    elif options is not None:
        errors.append(FieldError("options", "only enum and multi_enum fields have options"))
    for bound in ("min", "max"):
        value = attributes.get(bound)
        if value is None:
            continue
        if kind not in BOUNDED_BY_VALUE:
            errors.append(FieldError(bound, "only number, decimal and date fields have bounds"))
            continue
        try:
            comparable(kind, value)
        except InvalidValue as error:
            errors.append(FieldError(bound, str(error)))
    if not any(e.field in ("min", "max") for e in errors):
        low, high = attributes.get("min"), attributes.get("max")
        if low is not None and high is not None and comparable(kind, low) > comparable(kind, high):  # type: ignore[operator]
            errors.append(FieldError("max", "must not be below min"))
    max_length = attributes.get("max_length")
    if max_length is not None:
        if kind not in BOUNDED_BY_LENGTH:
            errors.append(FieldError("max_length", "only text, email, phone and url fields"))
        elif isinstance(max_length, bool) or not isinstance(max_length, int):
            errors.append(FieldError("max_length", "must be a whole number"))
        elif not 1 <= max_length <= TEXT_LIMIT:
            errors.append(FieldError("max_length", f"must be 1–{TEXT_LIMIT}"))
    reference_to = attributes.get("reference_to")
    if kind == "reference":
        if reference_to not in REFERENCE_TARGETS:
            errors.append(
                FieldError("reference_to", f"must be one of: {', '.join(REFERENCE_TARGETS)}")
            )
    elif reference_to is not None:
        errors.append(FieldError("reference_to", "only reference fields point to a record type"))
    if not errors and attributes.get("default") is not None:
        if kind == "reference":
            errors.append(FieldError("default", "a reference field has no default"))
        else:
            spec = FieldSpec.from_dict("", "", attributes)
            try:
                spec.check(attributes["default"])
            except InvalidValue as error:
                errors.append(FieldError("default", str(error)))
    return errors


def _not_applicable(field_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes a new type does not take, cleared (a text field has no options)."""
    applies = {
        "options": field_type in WITH_OPTIONS,
        "min": field_type in BOUNDED_BY_VALUE,
        "max": field_type in BOUNDED_BY_VALUE,
        "max_length": field_type in BOUNDED_BY_LENGTH,
        "reference_to": field_type == "reference",
    }
    return {
        name: None for name, ok in applies.items() if not ok and attributes.get(name) is not None
    }


RecordExists = Callable[[str, str], bool]
"""(target record type, record id) → whether such a record exists."""


class FieldCatalog(CrmAggregate):
    """The custom fields of one record type. Only administrators change it (the application
    checks); retiring a field keeps its key taken and its values in every record's history."""

    id: UUID
    kind = "field_catalog"

    @event("Opened")
    def __init__(self, record_type: str) -> None:
        self.record_type = record_type
        self.fields: dict[str, dict[str, Any]] = {}

    def spec(self, key: str) -> FieldSpec:
        if key not in self.fields:
            raise NotFound(f"field {key} not found")
        return FieldSpec.from_dict(self.record_type, key, self.fields[key])

    def specs(self) -> list[FieldSpec]:
        return [self.spec(key) for key in self.fields]

    def define(self, key: str, attributes: dict[str, Any]) -> None:
        errors = []
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.append(
                FieldError(
                    "key", "must be lowercase snake case: a–z first, then a–z, 0–9, _ (≤ 40)"
                )
            )
        errors += definition_errors(attributes)
        if errors:
            raise ValidationFailed(errors)
        if key in self.fields:
            raise Conflict(
                f"{self.record_type} already have a field '{key}'"
                + (" (retired: keys are never reused)" if self.fields[key].get("retired") else ""),
                code="field_key_taken",
            )
        if len(self.fields) >= FIELDS_PER_RECORD_TYPE:
            raise Conflict(
                f"{self.record_type} have {FIELDS_PER_RECORD_TYPE} fields, the most allowed",
                code="too_many_fields",
            )
        self._field_defined(key=key, definition=dict(attributes))

    @event("FieldDefined")
    def _field_defined(self, key: str, definition: dict[str, Any]) -> None:
        self.fields = {**self.fields, key: {**definition, "retired": False, "revision": 1}}

    def change(self, key: str, changes: dict[str, Any]) -> bool:
        """Apply the changes; False when nothing changes. Narrowing is allowed: existing
        values are not rewritten (the application reports the records that now violate it)."""
        spec = self._open_spec(key)
        current = spec.attributes()
        changes = {k: v for k, v in changes.items() if current.get(k) != v}
        if not changes:
            return False
        unknown = [k for k in changes if k not in DEFINITION_ATTRIBUTES]
        if unknown:
            raise ValidationFailed([FieldError(k, "cannot be changed") for k in unknown])
        if "type" in changes:
            changes = {**_not_applicable(changes["type"], current), **changes}
        attributes = {**current, **changes}
        errors = definition_errors(attributes)
        if errors:
            raise ValidationFailed(errors)
        self._field_changed(key=key, changes=changes)
        return True

    @event("FieldChanged")
    def _field_changed(self, key: str, changes: dict[str, Any]) -> None:
        updated = {**self.fields[key], **changes}
        updated["revision"] = updated.get("revision", 1) + 1
        self.fields = {**self.fields, key: updated}

    def retire(self, key: str) -> None:
        self._open_spec(key)
        self._field_retired(key=key)

    @event("FieldRetired")
    def _field_retired(self, key: str) -> None:
        updated = {**self.fields[key], "retired": True}
        updated["revision"] = updated.get("revision", 1) + 1
        self.fields = {**self.fields, key: updated}

    def _open_spec(self, key: str) -> FieldSpec:
        spec = self.spec(key)
        if spec.retired:
            raise Conflict(f"field {key} is retired and can no longer change", code="field_retired")
        return spec

    def resolve(
        self,
        incoming: dict[str, Any],
        current: dict[str, Any] | None,
        exists: RecordExists,
    ) -> dict[str, Any]:
        return resolve_custom_fields(self.record_type, self.specs(), incoming, current, exists)


def resolve_custom_fields(
    record_type: str,
    specs: list[FieldSpec],
    incoming: dict[str, Any],
    current: dict[str, Any] | None,
    exists: RecordExists,
) -> dict[str, Any]:
    """A record's custom fields after a write of `incoming` (PATCH semantics: keys sent
    change, null removes), each value checked against its current definition.
    `current` is None when the record is being created: defaults apply and every required
    field must have a value. Errors name `custom_fields.<key>`."""
    by_key = {spec.key: spec for spec in specs}
    errors: list[FieldError] = []
    result = dict(current or {})
    if len(incoming) > VALUES_PER_WRITE:
        raise ValidationFailed(
            [FieldError("custom_fields", f"at most {VALUES_PER_WRITE} fields per write")]
        )
    for key, value in incoming.items():
        name = f"custom_fields.{key}"
        spec = by_key.get(key)
        if spec is None:
            errors.append(FieldError(name, f"{record_type} have no custom field '{key}'"))
            continue
        if spec.retired:
            errors.append(FieldError(name, "this field is retired; its values are read-only"))
            continue
        if value is None:
            if spec.required:
                errors.append(FieldError(name, "is required and cannot be cleared"))
            result.pop(key, None)
            continue
        try:
            checked = spec.check(value)
        except InvalidValue as error:
            errors.append(FieldError(name, str(error)))
            continue
        if spec.type == "reference":
            assert spec.reference_to is not None
            if not exists(spec.reference_to, checked):
                errors.append(FieldError(name, f"no {spec.reference_to} record {checked}"))
                continue
        result[key] = checked
    if current is None:
        for spec in specs:
            if spec.retired or spec.key in result or spec.key in incoming:
                continue
            if spec.default is not None:
                result[spec.key] = spec.check(spec.default)
            elif spec.required:
                errors.append(FieldError(f"custom_fields.{spec.key}", "is required"))
    if errors:
        raise ValidationFailed(errors)
    return result


class Customisable(CrmAggregate):
    """A record that carries custom field values. The values live in the record's own events
    (`CustomFieldsChanged` holds the whole set after the change), so history and as-of reads
    show them like any other field."""

    record_type: ClassVar[str]

    @property
    def custom_fields(self) -> dict[str, Any]:
        values: dict[str, Any] = getattr(self, "_custom_fields", {})
        return values

    class CustomFieldsChanged(CrmAggregate.Event):
        """The record's whole set of custom field values after the change."""

        custom_fields: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate._custom_fields = dict(self.custom_fields)

    def change_custom_fields(self, values: dict[str, Any]) -> None:
        """Each record class has its own `CustomFieldsChanged` (the library subclasses nested
        event classes per aggregate class), so the event names its record's type."""
        if values != self.custom_fields:
            self.trigger_event(type(self).CustomFieldsChanged, custom_fields=values)
