"""Custom field definitions (admins only) and the checks every record's write runs on its
`custom_fields` and `preferences`."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from typing import Any

from eventsourcing.persistence import IntegrityError

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command, parse_id
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.custom_fields import (
    RECORD_TYPES,
    REFERENCE_TARGETS,
    Customisable,
    FieldCatalog,
    FieldSpec,
    catalog_id,
    check_record_type,
    definition_id,
    resolve_custom_fields,
)
from crm_api.domain.errors import NotFound, VersionConflict
from crm_api.domain.people import Principal
from crm_api.domain.preferences import WithPreferences, checked_preferences


def load_catalog(app: CrmApplication, record_type: str) -> FieldCatalog | None:
    """The record type's catalog as the event store has it (None if no field was defined)."""
    uuid = catalog_id(record_type)
    return app.load(uuid, FieldCatalog) if app.exists(uuid) else None


def current_specs(app: CrmApplication, record_type: str) -> list[FieldSpec]:
    """The record type's definitions (retired ones too) as the event store has them; a
    command that writes many records loads them once and passes them on."""
    catalog = load_catalog(app, record_type)
    return catalog.specs() if catalog is not None else []


def resolve_values(
    app: CrmApplication,
    principal: Principal,
    record_type: str,
    incoming: dict[str, Any],
    current: dict[str, Any] | None,
    specs: list[FieldSpec] | None = None,
) -> dict[str, Any]:
    """The record's whole set of values after writing `incoming` (see
    `resolve_custom_fields`); `current` None for a record being created."""
    if specs is None:
        specs = current_specs(app, record_type)
    return resolve_custom_fields(record_type, specs, incoming, current, _exists(app, principal))


def _exists(app: CrmApplication, principal: Principal) -> Any:
    """Whether a reference may point at a record: it exists, is of the right type, and the
    writer may see it (a reference must not reveal, or link to, another rep's records)."""

    def exists(target: str, record_id: str) -> bool:
        try:
            record = app.load(record_id, CrmAggregate, target)
        except NotFound:
            return False
        if record.kind != REFERENCE_TARGETS[target]:
            return False
        owner = _owner_of(app, record)
        return owner is None or principal.sees_owner(owner)

    return exists


def _owner_of(app: CrmApplication, record: CrmAggregate) -> str | None:
    """The owner whose visibility covers a record: its own owner, else its account's; None
    for records everyone sees (users, products)."""
    owner: str | None = getattr(record, "owner_id", None)
    if owner is not None:
        return owner
    account_id = getattr(record, "account_id", None)
    if account_id is None:
        return None
    try:
        return app.load(account_id, Account).owner_id
    except NotFound:
        return None


def custom_fields_on_create(
    app: CrmApplication,
    principal: Principal,
    record_type: str,
    incoming: dict[str, Any] | None,
    specs: list[FieldSpec] | None = None,
) -> dict[str, Any]:
    """A new record's custom fields: the values sent, checked, plus the defaults; every
    required field must end up with a value."""
    return resolve_values(app, principal, record_type, incoming or {}, None, specs)


def with_custom_fields(
    record: Customisable,
    values: dict[str, Any] | None,
    preferences: dict[str, Any] | None = None,
) -> Customisable:
    """Record a new record's custom fields (already resolved by `custom_fields_on_create`,
    so that a bad value is refused before anything is built) and preferences."""
    if values:
        record.change_custom_fields(values)
    if preferences and isinstance(record, WithPreferences):
        record.change_preferences(checked_preferences(preferences))
    return record


def change_custom_fields(
    app: CrmApplication,
    principal: Principal,
    record: Customisable,
    incoming: dict[str, Any] | None,
    specs: list[FieldSpec] | None = None,
) -> None:
    """PATCH semantics: the keys sent change, null removes; values are checked against the
    current definitions, the other keys keep what they hold (even under an older definition)."""
    if incoming is None:
        return
    record.change_custom_fields(
        resolve_values(app, principal, record.record_type, incoming, record.custom_fields, specs)
    )


UNCHANGED: Any = object()
"""What a change command's `preferences` is when the request did not mention them."""


def change_preferences(record: WithPreferences, incoming: dict[str, Any] | None) -> None:
    """The keys sent replace what was there; null for a key removes it, null for the whole
    object removes them all; `UNCHANGED` leaves them be."""
    if incoming is UNCHANGED:
        return
    if incoming is None:
        record.change_preferences({})
        return
    merged = {**record.preferences, **incoming}
    record.change_preferences(
        checked_preferences({k: v for k, v in merged.items() if v is not None})
    )


class FieldDefinitionService:
    """Administrators define, change and retire custom fields; everyone may read them (UIs
    render forms from them)."""

    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def define(
        self, ctx: CommandContext, record_type: str, key: str, attributes: dict[str, Any]
    ) -> Outcome[FieldCatalog]:
        ctx.principal.require("fields:define")
        check_record_type(record_type)
        uuid = catalog_id(record_type)
        if not self.app.exists(uuid):
            self._open_catalog(ctx, record_type)
        return self.app.change(
            ctx, uuid, FieldCatalog, lambda catalog: catalog.define(key, attributes)
        )

    @command
    def change(
        self,
        ctx: CommandContext,
        field_id: str,
        changes: dict[str, Any],
        expected_revision: int | None,
    ) -> Outcome[FieldCatalog]:
        ctx.principal.require("fields:define")
        record_type, key = self.locate(field_id)

        def decide(catalog: FieldCatalog) -> None:
            _check_revision(catalog.spec(key), expected_revision)
            catalog.change(key, changes)

        return self.app.change(ctx, catalog_id(record_type), FieldCatalog, decide)

    @command
    def retire(
        self, ctx: CommandContext, field_id: str, expected_revision: int | None
    ) -> Outcome[FieldCatalog]:
        ctx.principal.require("fields:define")
        record_type, key = self.locate(field_id)

        def decide(catalog: FieldCatalog) -> None:
            _check_revision(catalog.spec(key), expected_revision)
            catalog.retire(key)

        return self.app.change(ctx, catalog_id(record_type), FieldCatalog, decide)

    def get(self, principal: Principal, field_id: str) -> FieldSpec:
        principal.require("fields:read")
        record_type, key = self.locate(field_id)
        return self.app.load(catalog_id(record_type), FieldCatalog).spec(key)

    def history(self, principal: Principal, field_id: str) -> list[Any]:
        """The catalog's events that concern this field, in order."""
        principal.require("fields:read")
        principal.require("history:read")
        record_type, key = self.locate(field_id)
        uuid = catalog_id(record_type)
        return [e for e in self.app.events.get(uuid) if getattr(e, "key", None) == key]

    def locate(self, field_id: str) -> tuple[str, str]:
        """(record type, key) of a definition id; ids derive from both, so this is a lookup
        in at most eight small catalogs."""
        uuid = parse_id(field_id, "field definition")
        for record_type in RECORD_TYPES:
            catalog_uuid = catalog_id(record_type)
            if not self.app.exists(catalog_uuid):
                continue
            for key in self.app.load(catalog_uuid, FieldCatalog).fields:
                if definition_id(record_type, key) == uuid:
                    return record_type, key
        raise NotFound(f"field definition {field_id} not found")

    def _open_catalog(self, ctx: CommandContext, record_type: str) -> None:
        """The first definition of a record type opens its catalog. Its own command id, so that
        the definition that follows is not mistaken for a replay; a lost race is harmless."""
        opening = replace(ctx, command_id=f"{ctx.command_id}:catalog")
        with self.app.stamping(opening):
            catalog = FieldCatalog.with_id(catalog_id(record_type), record_type=record_type)
        with suppress(IntegrityError):
            self.app.save(catalog)


def _check_revision(spec: FieldSpec, expected: int | None) -> None:
    if expected is not None and spec.revision != expected:
        raise VersionConflict(expected, spec.revision)
