"""Custom field rules as the domain decides them: definitions, values per type, PATCH
semantics, defaults and required fields, retirement, violations; preferences. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.accounts import Account
from crm_api.domain.context import EventMeta, recording
from crm_api.domain.custom_fields import (
    FieldCatalog,
    FieldSpec,
    InvalidValue,
    catalog_id,
    definition_errors,
    resolve_custom_fields,
)
from crm_api.domain.errors import Conflict, ValidationFailed
from crm_api.domain.preferences import checked_preferences
from crm_api.projections.custom_fields import typed_columns

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
META = EventMeta(
    actor="admin",
    actor_type="user",
    on_behalf_of=None,
    occurred_at=NOW,
    command_id="cmd",
    correlation_id="cmd",
)


def spec(type_: str, **attributes: Any) -> FieldSpec:
    return FieldSpec.from_dict("accounts", "field", {"label": "Field", "type": type_, **attributes})


def no_records(_target: str, _record_id: str) -> bool:
    return False


def catalog(*definitions: tuple[str, dict[str, Any]]) -> FieldCatalog:
    with recording(META, NOW):
        fields = FieldCatalog.with_id(catalog_id("accounts"), record_type="accounts")
        for key, attributes in definitions:
            fields.define(key, {"label": key.title(), **attributes})
    return fields


def errors_of(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: e.message for e in error.value.errors}


@pytest.mark.parametrize(
    ("type_", "attributes", "value", "stored"),
    [
        ("text", {}, "hello", "hello"),
        ("number", {"min": 0}, 3, 3),
        ("number", {}, 2.5, 2.5),
        ("decimal", {"max": "100"}, "99.95", "99.95"),
        ("decimal", {}, 7, "7"),
        ("date", {"min": "2026-01-01"}, "2026-03-01", "2026-03-01"),
        ("boolean", {}, False, False),
        ("enum", {"options": ["a", "b"]}, "b", "b"),
        ("multi_enum", {"options": ["a", "b"]}, ["b", "a"], ["b", "a"]),
        ("email", {}, "ann@example.com", "ann@example.com"),
        ("phone", {}, "+1 (555) 010-0000", "+1 (555) 010-0000"),
        ("url", {}, "https://example.com", "https://example.com"),
    ],
)
def test_a_fitting_value_is_stored_as_written(
    type_: str, attributes: dict[str, Any], value: Any, stored: Any
) -> None:
    assert spec(type_, **attributes).check(value) == stored


@pytest.mark.parametrize(
    ("type_", "attributes", "value"),
    [
        ("text", {"max_length": 3}, "four"),
        ("text", {}, "   "),
        ("text", {}, 12),
        ("number", {}, True),
        ("number", {}, "12"),
        ("number", {"max": 10}, 11),
        ("number", {}, 1e30),
        ("decimal", {}, "1.2.3"),
        ("decimal", {}, 1.5),
        ("decimal", {"min": "0"}, "-0.01"),
        ("date", {}, "2026-02-30"),
        ("date", {}, "05/01/2026"),
        ("date", {"max": "2026-12-31"}, "2027-01-01"),
        ("boolean", {}, "true"),
        ("enum", {"options": ["a"]}, "A"),
        ("multi_enum", {"options": ["a", "b"]}, "a"),
        ("multi_enum", {"options": ["a", "b"]}, ["a", "c"]),
        ("email", {}, "not an email"),
        ("phone", {}, "call me maybe"),
        ("url", {}, "javascript:alert(1)"),
        ("reference", {"reference_to": "accounts"}, "12"),
    ],
)
def test_a_value_that_does_not_fit_is_refused(
    type_: str, attributes: dict[str, Any], value: Any
) -> None:
    with pytest.raises(InvalidValue):
        spec(type_, **attributes).check(value)


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"label": "X", "type": "colour"}, "type"),
        ({"label": "", "type": "text"}, "label"),
        ({"label": "X", "type": "enum"}, "options"),
        ({"label": "X", "type": "enum", "options": ["a", "a"]}, "options"),
        ({"label": "X", "type": "text", "options": ["a"]}, "options"),
        ({"label": "X", "type": "text", "min": 1}, "min"),
        ({"label": "X", "type": "number", "min": 5, "max": 1}, "max"),
        ({"label": "X", "type": "date", "min": "soon"}, "min"),
        ({"label": "X", "type": "number", "max_length": 3}, "max_length"),
        ({"label": "X", "type": "reference"}, "reference_to"),
        ({"label": "X", "type": "reference", "reference_to": "planets"}, "reference_to"),
        ({"label": "X", "type": "boolean", "default": "yes"}, "default"),
    ],
)
def test_a_definition_that_makes_no_sense_is_refused(
    attributes: dict[str, Any], field: str
) -> None:
    assert field in [e.field for e in definition_errors(attributes)]


def test_keys_are_unique_and_never_reused_after_retirement() -> None:
    fields = catalog(("tier", {"type": "text"}))
    with recording(META, NOW):
        with pytest.raises(Conflict):
            fields.define("tier", {"label": "Tier", "type": "number"})
        fields.retire("tier")
        with pytest.raises(Conflict) as taken:
            fields.define("tier", {"label": "Tier", "type": "text"})
        with pytest.raises(ValidationFailed):
            fields.define("Not-Snake", {"label": "X", "type": "text"})
    assert "retired" in str(taken.value)
    assert fields.spec("tier").retired and fields.spec("tier").revision == 2


def test_a_change_is_checked_as_a_whole_and_counts_a_revision() -> None:
    fields = catalog(("size", {"type": "enum", "options": ["s", "m"]}))
    with recording(META, NOW):
        assert fields.change("size", {"options": ["s", "m", "l"], "required": True})
        assert not fields.change("size", {"required": True})
        with pytest.raises(ValidationFailed):
            fields.change("size", {"default": "xl"})
        assert fields.change("size", {"type": "text"})
    size = fields.spec("size")
    assert size.type == "text" and size.options == () and size.revision == 3


def test_writes_have_patch_semantics_defaults_and_required_fields() -> None:
    specs = catalog(
        ("tier", {"type": "enum", "options": ["gold", "silver"], "default": "silver"}),
        ("region", {"type": "text", "required": True}),
        ("notes", {"type": "text"}),
    ).specs()
    created = resolve_custom_fields("accounts", specs, {"region": "North"}, None, no_records)
    assert created == {"tier": "silver", "region": "North"}
    changed = resolve_custom_fields(
        "accounts", specs, {"notes": "hi", "tier": None}, created, no_records
    )
    assert changed == {"region": "North", "notes": "hi"}
    with pytest.raises(ValidationFailed) as missing:
        resolve_custom_fields("accounts", specs, {}, None, no_records)
    assert errors_of(missing) == {"custom_fields.region": "is required"}
    with pytest.raises(ValidationFailed) as cleared:
        resolve_custom_fields("accounts", specs, {"region": None, "x": 1}, created, no_records)
    assert set(errors_of(cleared)) == {"custom_fields.region", "custom_fields.x"}


def test_a_retired_field_keeps_its_value_but_cannot_be_written() -> None:
    fields = catalog(("tier", {"type": "text"}), ("notes", {"type": "text"}))
    with recording(META, NOW):
        fields.retire("tier")
    current = {"tier": "gold"}
    assert resolve_custom_fields(
        "accounts", fields.specs(), {"notes": "n"}, current, no_records
    ) == {"tier": "gold", "notes": "n"}
    with pytest.raises(ValidationFailed) as refused:
        resolve_custom_fields("accounts", fields.specs(), {"tier": "x"}, current, no_records)
    assert list(errors_of(refused)) == ["custom_fields.tier"]


def test_a_reference_must_exist() -> None:
    specs = catalog(("partner", {"type": "reference", "reference_to": "accounts"})).specs()
    known = str(uuid4())

    def exists(target: str, record_id: str) -> bool:
        return target == "accounts" and record_id == known

    assert resolve_custom_fields("accounts", specs, {"partner": known}, {}, exists) == {
        "partner": known
    }
    with pytest.raises(ValidationFailed):
        resolve_custom_fields("accounts", specs, {"partner": str(uuid4())}, {}, exists)


def test_violations_name_values_and_missing_required_values() -> None:
    narrowed = spec("number", max=10, required=True)
    assert narrowed.violation(5) is None
    assert narrowed.violation(11) == "must be at most 10"
    assert narrowed.violation("12") == "must be a number"
    assert narrowed.violation(None) == "required, but the record has no value"
    assert spec("text").violation(None) is None


def test_custom_values_are_events_of_the_record() -> None:
    with recording(META, NOW):
        account = Account.with_id(
            uuid4(),
            name="Acme",
            owner_id="rep",
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )
        account.change_custom_fields({"tier": "gold"})
        account.change_custom_fields({"tier": "gold"})
        account.change_preferences({"channel": "sms"})
    events = account.collect_events()
    assert [type(e).__qualname__ for e in events] == [
        "Account.Opened",
        "Account.CustomFieldsChanged",
        "Account.PreferencesChanged",
    ]
    assert account.custom_fields == {"tier": "gold"} and account.preferences == {"channel": "sms"}


def test_values_are_indexed_by_their_shape() -> None:
    assert typed_columns("2026-02-01")["date_value"].isoformat() == "2026-02-01"
    assert str(typed_columns("12.50")["number_value"]) == "12.50"
    assert typed_columns(True)["bool_value"] is True and typed_columns(True)["number_value"] is None
    assert typed_columns(["a", "b"])["options_text"] == "|a|b|"
    assert typed_columns("x" * 300)["text_value"] == "x" * 255


def test_preferences_keep_only_what_fits() -> None:
    assert checked_preferences(
        {
            "channel": "mail",
            "language": "zh-Hant-TW",
            "contact_times": [{"days": ["fri", "mon"], "from": "08:00", "to": "09:00"}],
            "tags": ["aisle seat", "aisle seat", "vegan"],
        }
    ) == {
        "channel": "mail",
        "language": "zh-Hant-TW",
        "contact_times": [{"days": ["mon", "fri"], "from": "08:00", "to": "09:00"}],
        "tags": ["aisle seat", "vegan"],
    }
    with pytest.raises(ValidationFailed) as refused:
        checked_preferences(
            {
                "channel": "pigeon",
                "language": "english",
                "contact_times": [{"days": ["someday"], "from": "08:00", "to": "09:00"}],
                "tags": ["x"] * 21,
                "seat": "aisle",
            }
        )
    assert set(errors_of(refused)) == {
        "preferences.channel",
        "preferences.language",
        "preferences.contact_times[0].days",
        "preferences.tags",
        "preferences.seat",
    }
