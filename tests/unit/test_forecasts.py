"""Forecasts and periods as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import ValidationFailed
from crm_api.domain.forecasts import Forecast, Period

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
D = Decimal
P1, P2 = str(uuid4()), str(uuid4())


def meta(command_id: str = "cmd-1") -> EventMeta:
    return EventMeta(
        actor=str(uuid4()),
        actor_type="user",
        on_behalf_of=None,
        occurred_at=NOW,
        command_id=command_id,
        correlation_id="corr-1",
    )


def submit(lines: list[dict[str, Any]], currency: str = "EUR") -> Forecast:
    with recording(meta("cmd-submit"), NOW):
        return Forecast.submit(owner_id="rep-1", period="2026-11", currency=currency, lines=lines)


def refused_fields(action: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as refused, recording(meta("cmd-x"), NOW):
        action()
    return [e.field for e in refused.value.errors]


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1)),
    ],
)
def test_periods_are_months_or_quarters(text, kind, start, end):
    period = Period.parse(text)
    assert (period.kind, period.start, period.end) == (kind, start, end)


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-Q5", "2026-1", "26-11", "2026-q4", ""]
)
def test_other_periods_are_refused_naming_the_period(text):
    with pytest.raises(ValidationFailed) as refused:
        Period.parse(text)
    assert [e.field for e in refused.value.errors] == ["period"]


def test_a_time_falls_in_its_utc_month_and_quarter():
    at = datetime(2026, 9, 30, 23, 30, tzinfo=UTC)
    assert (Period.month_of(at), Period.quarter_of(at)) == ("2026-09", "2026-Q3")


def test_the_id_derives_from_owner_and_period():
    assert Forecast.id_for("a", "2026-11") == Forecast.id_for("a", "2026-11")
    assert Forecast.id_for("a", "2026-11") != Forecast.id_for("a", "2026-Q4")
    forecast = submit([{"product_id": None, "amount": D("10")}])
    assert forecast.id == Forecast.id_for("rep-1", "2026-11")


def test_lines_are_kept_to_the_cent_and_totalled():
    forecast = submit(
        [{"product_id": P1, "amount": D("10.5")}, {"product_id": None, "amount": D("2")}]
    )
    assert forecast.lines == [
        {"product_id": None, "amount": D("2.00")},
        {"product_id": P1, "amount": D("10.50")},
    ]
    assert forecast.total == D("12.50")


def test_the_same_forecast_in_another_order_records_nothing():
    forecast = submit([{"product_id": P1, "amount": D("10")}, {"product_id": P2, "amount": D("5")}])
    with recording(meta("cmd-2"), NOW):
        forecast.revise(
            "EUR", [{"product_id": P2, "amount": D("5.00")}, {"product_id": P1, "amount": D("10")}]
        )
    assert [e.type_name for e in forecast.collect_events()] == ["ForecastSubmitted"]


def test_a_revision_is_recorded_with_the_whole_new_forecast():
    forecast = submit([{"product_id": P1, "amount": D("10")}])
    with recording(meta("cmd-2"), NOW):
        forecast.revise("USD", [{"product_id": P1, "amount": D("12")}])
    _submitted, revised = forecast.collect_events()
    assert (revised.type_name, revised.currency, revised.lines) == (
        "ForecastRevised",
        "USD",
        [{"product_id": P1, "amount": D("12.00")}],
    )
    assert forecast.version == 2


def test_bad_lines_are_refused_naming_each_field():
    assert refused_fields(
        lambda: Forecast.submit(
            owner_id="r",
            period="2026-11",
            currency="EUR",
            lines=[
                {"product_id": P1, "amount": D("-1")},
                {"product_id": P1, "amount": D("1.001")},
            ],
        )
    ) == ["lines[0].amount", "lines[1].amount", "lines[1].product_id"]
    assert refused_fields(
        lambda: Forecast.submit(owner_id="r", period="2026-11", currency="EUR", lines=[])
    ) == ["lines"]
    assert refused_fields(
        lambda: Forecast.submit(
            owner_id="r",
            period="2026-11",
            currency="euro",
            lines=[{"product_id": None, "amount": D("1")}],
        )
    ) == ["currency"]
    assert refused_fields(
        lambda: Forecast.submit(
            owner_id="r",
            period="2026-14",
            currency="EUR",
            lines=[{"product_id": None, "amount": D("1")}],
        )
    ) == ["period"]
