"""Date and DateTime read as the REST query filters read them (crm_api.api.rest.conventions):
a naive instant is UTC (the stores keep only aware ones), and a day outside EARLIEST_DAY ..
LATEST_DAY is refused (reports do day arithmetic that the ends of the calendar overflow).
A refused value is a coercion error: `bad_request`, naming the argument."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import dateutil.parser
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition

from crm_api.api.rest.conventions import EARLIEST_DAY, LATEST_DAY


def _day(value: str) -> date:
    day = date.fromisoformat(value)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return day


def _instant(value: str) -> datetime:
    instant = dateutil.parser.isoparse(value)
    if not EARLIEST_DAY <= instant.date() <= LATEST_DAY:
        raise ValueError(f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


Date: ScalarDefinition = dataclasses.replace(
    DateDefinition, parse_value=wrap_parser(_day, "Date"), implementation=None
)
DateTime: ScalarDefinition = dataclasses.replace(
    DateTimeDefinition, parse_value=wrap_parser(_instant, "DateTime"), implementation=None
)
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {date: Date, datetime: DateTime}
