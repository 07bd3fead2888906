"""Read model of custom fields: the definitions (for UIs and list queries) and one generic
table of every record's values, typed into columns so that lists filter (`cf.<key>=…`) and
sort (`sort=cf.<key>`) through indexes, and a page's values come back in one query."""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    Numeric,
    Select,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    literal,
    select,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.activities import Activity
from crm_api.domain.assets import Asset
from crm_api.domain.custom_fields import (
    DATE_PATTERN,
    DECIMAL_PATTERN,
    NUMBER_LIMIT,
    RECORD_TYPES,
    SORTABLE,
    FieldCatalog,
    FieldSpec,
    InvalidValue,
    catalog_id,
    comparable,
    definition_id,
)
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.opportunities import Opportunity
from crm_api.domain.orders import Order
from crm_api.domain.quotes import Quote
from crm_api.domain.service import ServiceRequest
from crm_api.projections.base import Projection, handles, upsert
from crm_api.projections.paging import InvalidCursor, Page, Sort, keyset_page

TEXT_INDEXED = 255

field_definitions = Table(
    "field_definitions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("record_type", String(32), nullable=False),
    Column("key", String(40), nullable=False),
    Column("label", String(100), nullable=False),
    Column("type", String(16), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
    Index("ux_field_definitions_record_type_key", "record_type", "key", unique=True),
)

custom_field_values = Table(
    "custom_field_values",
    metadata,
    Column("record_type", String(32), primary_key=True),
    Column("record_id", String(36), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("text_value", String(TEXT_INDEXED), nullable=True),
    Column("number_value", Numeric(38, 10), nullable=True),
    Column("date_value", Date, nullable=True),
    Column("bool_value", Boolean, nullable=True),
    Column("options_text", Text, nullable=True),
    Index("ix_custom_field_values_text", "record_type", "key", "text_value"),
    Index("ix_custom_field_values_number", "record_type", "key", "number_value"),
    Index("ix_custom_field_values_date", "record_type", "key", "date_value"),
)

CUSTOMISABLE = (Account, Contact, Opportunity, Quote, Order, Asset, ServiceRequest, Activity)
RECORD_TYPE_OF_EVENT: dict[type, str] = {
    cls.CustomFieldsChanged: cls.record_type  # type: ignore[attr-defined]
    for cls in CUSTOMISABLE
}
RECORD_TYPE_OF_CATALOG = {catalog_id(record_type): record_type for record_type in RECORD_TYPES}


def typed_columns(value: Any) -> dict[str, Any]:
    """A value in every column it can be compared in. By the value's own shape, not by the
    definition's type: a definition can change later, and a text "12" written before a field
    became a number still compares as 12."""
    columns: dict[str, Any] = {
        "value": value,
        "text_value": None,
        "number_value": None,
        "date_value": None,
        "bool_value": None,
        "options_text": None,
    }
    if isinstance(value, bool):
        columns["bool_value"] = value
    elif isinstance(value, int | float):
        number = Decimal(str(value))
        if number.is_finite() and abs(number) < NUMBER_LIMIT:
            columns["number_value"] = number
    elif isinstance(value, str):
        columns["text_value"] = value[:TEXT_INDEXED]
        if DECIMAL_PATTERN.match(value):
            columns["number_value"] = Decimal(value)
        if DATE_PATTERN.match(value):
            with suppress(ValueError):
                columns["date_value"] = date.fromisoformat(value)
    elif isinstance(value, list):
        columns["options_text"] = "|" + "|".join(str(v) for v in value) + "|"
    return columns


class CustomFieldsProjection(Projection):
    name = "custom_fields"
    tables = (field_definitions, custom_field_values)

    @handles(FieldCatalog.FieldDefined)
    def field_defined(self, conn: Connection, e: Any, position: int) -> None:
        record_type = RECORD_TYPE_OF_CATALOG[e.originator_id]
        definition = dict(e.definition)
        upsert(
            conn,
            field_definitions,
            {
                "id": str(definition_id(record_type, e.key)),
                "record_type": record_type,
                "key": e.key,
                "label": definition["label"],
                "type": definition["type"],
                "definition": definition,
                "retired": False,
                "revision": 1,
                "created_at": e.timestamp,
                "updated_at": e.timestamp,
                "position": position,
            },
            ["id"],
        )

    @handles(FieldCatalog.FieldChanged, FieldCatalog.FieldRetired)
    def field_changed(self, conn: Connection, e: Any, position: int) -> None:
        record_type = RECORD_TYPE_OF_CATALOG[e.originator_id]
        row_id = str(definition_id(record_type, e.key))
        row = conn.execute(select(field_definitions).where(field_definitions.c.id == row_id)).one()
        retired = isinstance(e, FieldCatalog.FieldRetired)
        definition = {**row.definition, **(e.changes if not retired else {})}
        conn.execute(
            field_definitions.update()
            .where(field_definitions.c.id == row_id)
            .values(
                label=definition["label"],
                type=definition["type"],
                definition=definition,
                retired=row.retired or retired,
                revision=row.revision + 1,
                updated_at=e.timestamp,
                position=position,
            )
        )

    @handles(*RECORD_TYPE_OF_EVENT)
    def values_changed(self, conn: Connection, e: Any, position: int) -> None:
        """The record's whole set replaces what was there (an erased contact's reads as empty)."""
        record_type = RECORD_TYPE_OF_EVENT[type(e)]
        record_id = str(e.originator_id)
        conn.execute(
            delete(custom_field_values).where(
                custom_field_values.c.record_type == record_type,
                custom_field_values.c.record_id == record_id,
            )
        )
        rows = [
            {"record_type": record_type, "record_id": record_id, "key": key, **typed_columns(v)}
            for key, v in e.custom_fields.items()
        ]
        if rows:
            conn.execute(custom_field_values.insert(), rows)

    @handles(Contact.Erased)
    def contact_erased(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            delete(custom_field_values).where(
                custom_field_values.c.record_type == "contacts",
                custom_field_values.c.record_id == str(e.originator_id),
            )
        )


# queries

DEFINITION_SORTS = ("key", "label", "created_at", "updated_at")


def definition_row(row: dict[str, Any]) -> dict[str, Any]:
    definition = row["definition"]
    spec = FieldSpec.from_dict(row["record_type"], row["key"], definition)
    return {
        "id": row["id"],
        "record_type": row["record_type"],
        "key": row["key"],
        **spec.attributes(),
        "retired": row["retired"],
        "revision": row["revision"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def list_definitions(
    conn: Connection,
    *,
    sort: Any,
    cursor: str | None,
    limit: int,
    record_type: str | None = None,
    retired: bool | None = False,
) -> Page:
    stmt = select(field_definitions)
    if record_type:
        stmt = stmt.where(field_definitions.c.record_type == record_type)
    if retired is not None:
        stmt = stmt.where(field_definitions.c.retired == retired)
    page = keyset_page(conn, stmt, dict(field_definitions.c), sort, cursor, limit)
    return Page([definition_row(r) for r in page.rows], page.next_cursor)


def current_definitions(conn: Connection, record_type: str) -> dict[str, FieldSpec]:
    """Every definition of a record type, retired ones included (their values still filter
    and sort)."""
    rows = conn.execute(
        select(field_definitions).where(field_definitions.c.record_type == record_type)
    )
    return {
        row.key: FieldSpec.from_dict(
            record_type, row.key, {**row.definition, "retired": row.retired}
        )
        for row in rows
    }


def values_of(
    conn: Connection, record_type: str, record_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The custom fields of many records of one type, in one query."""
    found: dict[str, dict[str, Any]] = {record_id: {} for record_id in record_ids}
    if not record_ids:
        return found
    stmt = select(
        custom_field_values.c.record_id, custom_field_values.c.key, custom_field_values.c.value
    ).where(
        custom_field_values.c.record_type == record_type,
        custom_field_values.c.record_id.in_(record_ids),
    )
    for row in conn.execute(stmt):
        found[row.record_id][row.key] = row.value
    return found


def with_custom_fields(conn: Connection, record_type: str, page: Page) -> Page:
    """A list page whose rows carry their `custom_fields` (one query for the page). The
    `cf.<key>` columns a custom sort added stay: GraphQL builds each edge's cursor from them,
    and REST's response models name their fields, so they never reach a REST body."""
    values = values_of(conn, record_type, [str(r["id"]) for r in page.rows])
    rows = [{**row, "custom_fields": values[str(row["id"])]} for row in page.rows]
    return Page(rows, page.next_cursor)


FILTER_PARAMETER = re.compile(r"^cf\.([a-z][a-z0-9_]{0,39})$")
SENTINELS: dict[str, Any] = {
    "number_value": Decimal("-1e27"),
    "date_value": date(1, 1, 1),
    "bool_value": False,
    "text_value": "",
}
"""What a missing value sorts as (first, ascending), so that keyset pages stay exact."""


def value_column(field_type: str) -> str:
    if field_type in ("number", "decimal"):
        return "number_value"
    if field_type == "date":
        return "date_value"
    if field_type == "boolean":
        return "bool_value"
    if field_type == "multi_enum":
        return "options_text"
    return "text_value"


@dataclass(frozen=True)
class CustomFieldQuery:
    """`cf.<key>=value` filters (equality; a multi_enum matches when it holds the option) and
    the `cf.<key>` sort keys of one record type, checked against its definitions."""

    record_type: str
    filters: tuple[tuple[str, str, Any], ...]
    sortable: tuple[tuple[str, str], ...]

    @classmethod
    def parse(
        cls, record_type: str, params: list[tuple[str, str]], specs: dict[str, FieldSpec]
    ) -> CustomFieldQuery:
        errors: list[FieldError] = []
        filters: list[tuple[str, str, Any]] = []
        for name, text in params:
            match = FILTER_PARAMETER.match(name)
            if not name.startswith("cf."):
                continue
            if match is None or match.group(1) not in specs:
                errors.append(FieldError(name, f"{record_type} have no custom field by that key"))
                continue
            spec = specs[match.group(1)]
            try:
                filters.append((spec.key, spec.type, _filter_value(spec.type, text)))
            except InvalidValue as error:
                errors.append(FieldError(name, str(error)))
        if errors:
            raise ValidationFailed(errors)
        sortable = tuple((f"cf.{s.key}", s.type) for s in specs.values() if s.type in SORTABLE)
        return cls(record_type, tuple(filters), sortable)

    @property
    def sort_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.sortable)

    def narrow(
        self,
        stmt: Select[Any],
        id_column: ColumnElement[Any],
        sort: Sort,
        columns: dict[str, Any],
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The list's statement with the filters applied and the custom sort keys selected;
        `columns` gains those keys for the keyset pager."""
        for key, field_type, value in self.filters:
            column_name = value_column(field_type)
            column = custom_field_values.c[column_name]
            condition = (
                column.like(f"%|{value}|%", escape="\\")
                if field_type == "multi_enum"
                else column == value
            )
            stmt = stmt.where(
                exists().where(
                    custom_field_values.c.record_type == self.record_type,
                    custom_field_values.c.record_id == id_column,
                    custom_field_values.c.key == key,
                    condition,
                )
            )
        types = dict(self.sortable)
        columns = dict(columns)
        for name, _descending in sort.keys:
            if name not in types:
                continue
            column_name = value_column(types[name])
            joined = custom_field_values.alias(f"sort_{name[3:]}")
            stmt = stmt.outerjoin(
                joined,
                and_(
                    joined.c.record_type == self.record_type,
                    joined.c.record_id == id_column,
                    joined.c.key == name[3:],
                ),
            )
            column = joined.c[column_name]
            expression = func.coalesce(
                column, literal(SENTINELS[column_name], column.type), type_=column.type
            )
            stmt = stmt.add_columns(expression.label(name))
            columns[name] = expression
        return stmt, columns


def _filter_value(field_type: str, text: str) -> Any:
    if field_type in ("number", "decimal"):
        if not DECIMAL_PATTERN.match(text):
            raise InvalidValue("must be a number such as 12 or 12.5")
        return Decimal(text)
    if field_type == "date":
        return comparable("date", text)
    if field_type == "boolean":
        if text not in ("true", "false"):
            raise InvalidValue("must be true or false")
        return text == "true"
    if field_type == "multi_enum":
        return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return text[:TEXT_INDEXED]


# violations of a (changed) definition

VIOLATION_BATCH = 500


def record_table(record_type: str) -> Table:
    from crm_api.projections.accounts import accounts, contacts
    from crm_api.projections.opportunities import opportunities
    from crm_api.projections.orders import orders
    from crm_api.projections.quotes import quotes
    from crm_api.projections.service import assets, service_requests
    from crm_api.projections.work import activities

    return {
        "accounts": accounts,
        "contacts": contacts,
        "opportunities": opportunities,
        "quotes": quotes,
        "orders": orders,
        "assets": assets,
        "service-requests": service_requests,
        "activities": activities,
    }[record_type]


def violations(conn: Connection, spec: FieldSpec, cursor: str | None, limit: int) -> Page:
    """The records whose value of this field (or its absence, for a required field) breaks
    the definition as it is now, by record id. Scanned in batches: memory stays flat however
    many records there are; the cursor is the last record id examined."""
    if cursor is not None and not re.fullmatch(r"[0-9a-f\-]{1,36}", cursor):
        raise InvalidCursor("the cursor is malformed; use next_cursor from a previous page")
    table = record_table(spec.record_type)
    values = custom_field_values
    found: list[dict[str, Any]] = []
    after = cursor or ""
    while True:
        stmt = (
            select(table.c.id, values.c.value)
            .select_from(
                table.outerjoin(
                    values,
                    and_(
                        values.c.record_type == spec.record_type,
                        values.c.record_id == table.c.id,
                        values.c.key == spec.key,
                    ),
                )
            )
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(VIOLATION_BATCH)
        )
        if not spec.required:
            stmt = stmt.where(values.c.key.is_not(None))
        batch = conn.execute(stmt).all()
        for row in batch:
            problem = spec.violation(row.value)
            if problem is not None:
                found.append({"record_id": row.id, "value": row.value, "problem": problem})
                if len(found) > limit:
                    return Page(found[:limit], found[limit - 1]["record_id"])
        if len(batch) < VIOLATION_BATCH:
            return Page(found, None)
        after = batch[-1].id
