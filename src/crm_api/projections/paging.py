"""Keyset pagination, one way for every list: opaque cursors, stable under concurrent writes."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Column, Connection, Select, and_, or_

from crm_api.domain.errors import DomainError, FieldError, ValidationFailed

MAX_LIMIT = 200


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    title = "The cursor is not valid for this list"


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


@dataclass(frozen=True)
class Sort:
    """`name,-created_at` over whitelisted, non-null columns; the id breaks ties."""

    keys: tuple[tuple[str, bool], ...]

    @classmethod
    def parse(cls, text: str | None, allowed: tuple[str, ...], default: str) -> Sort:
        keys: list[tuple[str, bool]] = []
        for part in (text or default).split(","):
            part = part.strip()
            descending = part.startswith("-")
            name = part.lstrip("-+")
            if name not in allowed:
                raise ValidationFailed(
                    [
                        FieldError(
                            "sort", f"cannot sort by '{name}'; use one of {', '.join(allowed)}"
                        )
                    ]
                )
            if name in {k for k, _ in keys}:
                raise ValidationFailed([FieldError("sort", f"'{name}' is given twice")])
            keys.append((name, descending))
        if "id" not in {k for k, _ in keys}:
            keys.append(("id", keys[-1][1] if keys else False))
        return cls(tuple(keys))

    def text(self) -> str:
        return ",".join(("-" if d else "") + k for k, d in self.keys)


def _key(value: Any) -> Any:
    """A sort key as JSON: times and dates in ISO form, decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(sort: Sort, values: list[Any]) -> str:
    payload = {
        "s": sort.text(),
        "k": [_key(v) for v in values],
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: Sort, columns: list[Column[Any]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        values = payload["k"]
        if payload["s"] != sort.text() or len(values) != len(columns):
            raise InvalidCursor(
                "the cursor belongs to another sort order; start from the first page"
            )
        decoded = []
        for column, value in zip(columns, values, strict=True):
            python_type = column.type.python_type
            if python_type is datetime:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(value)
            elif python_type is date:
                value = date.fromisoformat(value)
            elif python_type is Decimal:
                if not isinstance(value, str):
                    raise TypeError(value)
                value = Decimal(value)
                if not value.is_finite():
                    raise ValueError(value)
            elif not isinstance(value, python_type):
                raise TypeError(value)
            decoded.append(value)
        return decoded
    except InvalidCursor:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, NotImplementedError, InvalidOperation):
        raise InvalidCursor(
            "the cursor is malformed; use next_cursor from a previous page"
        ) from None


def keyset_page(
    conn: Connection,
    stmt: Select[Any],
    columns: dict[str, Column[Any]],
    sort: Sort,
    cursor: str | None,
    limit: int,
) -> Page:
    ordered = [columns[name] for name, _ in sort.keys]
    if cursor:
        values = _decode(cursor, sort, ordered)
        alternatives = []
        for i, (column, (_, descending)) in enumerate(zip(ordered, sort.keys, strict=True)):
            equal_prefix = [ordered[j] == values[j] for j in range(i)]
            beyond = column < values[i] if descending else column > values[i]
            alternatives.append(and_(*equal_prefix, beyond))
        stmt = stmt.where(or_(*alternatives))
    stmt = stmt.order_by(
        *[c.desc() if d else c.asc() for c, (_, d) in zip(ordered, sort.keys, strict=True)]
    ).limit(limit + 1)
    rows = [dict(r._mapping) for r in conn.execute(stmt)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort, [last[name] for name, _ in sort.keys])
    return Page(rows, next_cursor)
