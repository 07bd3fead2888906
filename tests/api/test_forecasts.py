"""Forecasts over REST: one per (owner, period), put whole, revisions as history."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

import pytest
from sqlalchemy import select

from crm_api.projections.forecasts import forecasts as forecast_rows
from tests.sales_support import (
    FORECASTS,
    assert_problem,
    fields,
    list_product,
    ok,
    put_forecast,
)

LINE = [{"product_id": None, "amount": "5000.00"}]


def test_a_first_put_creates_and_a_second_revises_keeping_history(client, company, clock, services):
    created = put_forecast(company, "rep_a", "rep_a", "2026-11", LINE)
    forecast = ok(created, 201)
    assert created.headers["ETag"] == '"1"'
    assert forecast["id"] == str(
        uuid5(NAMESPACE_URL, f"crm-forecast:{company.ids['rep_a']}:2026-11")
    )
    assert (forecast["total"], forecast["lines"], forecast["version"]) == ("5000.00", LINE, 1)
    first_seen = clock.now()
    clock.advance(days=3)
    product = list_product(company)
    revised = ok(
        put_forecast(
            company,
            "rep_a",
            "rep_a",
            "2026-11",
            [
                {"product_id": product["id"], "amount": "3000"},
                {"product_id": None, "amount": "4000.5"},
            ],
        )
    )
    assert (revised["version"], revised["total"]) == (2, "7000.50")
    url = f"{FORECASTS}/{forecast['id']}"
    events = ok(client.get(f"{url}/history", headers=company.as_("auditor")))["data"]
    assert [e["type"] for e in events] == ["ForecastSubmitted", "ForecastRevised"]
    assert events[0]["data"] == {
        "owner_id": company.ids["rep_a"],
        "period": "2026-11",
        "currency": "EUR",
        "lines": [{"product_id": None, "amount": "5000.00"}],
    }
    assert events[1]["data"]["lines"] == [
        {"product_id": None, "amount": "4000.50"},
        {"product_id": product["id"], "amount": "3000.00"},
    ]
    then = ok(
        client.get(url, params={"as_of": first_seen.isoformat()}, headers=company.as_("rep_a"))
    )
    assert (then["total"], then["version"]) == ("5000.00", 1)
    assert (
        ok(client.get(url, params={"version": 2}, headers=company.as_("rep_a")))["total"]
        == "7000.50"
    )
    with services.read() as conn:
        row = conn.execute(select(forecast_rows).where(forecast_rows.c.id == forecast["id"])).one()
    assert (row.version, row.total, row.period) == (2, 7000.5, "2026-11")


def test_an_unchanged_put_records_nothing_and_keeps_the_version(client, company):
    ok(put_forecast(company, "rep_a", "rep_a", "2026-Q4", LINE), 201)
    again = put_forecast(company, "rep_a", "rep_a", "2026-Q4", [{"amount": "5000"}])
    assert (again.status_code, again.json()["version"], again.headers["ETag"]) == (200, 1, '"1"')
    forecast_id = again.json()["id"]
    events = ok(client.get(f"{FORECASTS}/{forecast_id}/history", headers=company.as_("rep_a")))[
        "data"
    ]
    assert len(events) == 1


def test_if_match_on_a_stale_version_is_412(company):
    ok(put_forecast(company, "rep_a", "rep_a", "2026-11", LINE), 201)
    ok(put_forecast(company, "rep_a", "rep_a", "2026-11", [{"amount": "1"}]))
    stale = put_forecast(
        company, "rep_a", "rep_a", "2026-11", [{"amount": "2"}], **{"If-Match": '"1"'}
    )
    assert assert_problem(stale, 412, "version_conflict")["current_version"] == 2


def test_who_may_forecast_for_whom(client, company):
    ok(put_forecast(company, "manager", "rep_b", "2026-11", LINE), 201)
    ok(put_forecast(company, "assistant", "rep_a", "2026-11", LINE, on_behalf_of="rep_a"), 201)
    assert_problem(
        put_forecast(company, "assistant", "rep_a", "2026-12", LINE), 403, "on_behalf_of_required"
    )
    assert_problem(
        put_forecast(company, "rep_a", "rep_b", "2026-11", LINE), 403, "owner_not_allowed"
    )
    assert_problem(
        put_forecast(company, "manager", "rep_c", "2026-11", LINE), 403, "owner_not_allowed"
    )
    assert_problem(
        put_forecast(company, "auditor", "rep_a", "2026-11", LINE), 403, "read_only_role"
    )
    not_a_seller = put_forecast(company, "admin", "auditor", "2026-11", LINE)
    assert fields(assert_problem(not_a_seller, 422, "validation_failed")) == ["owner_id"]


def test_forecasts_are_seen_by_their_owners_visibility(client, company):
    mine = ok(put_forecast(company, "rep_a", "rep_a", "2026-11", LINE), 201)
    ok(put_forecast(company, "rep_c", "rep_c", "2026-11", LINE), 201)
    assert_problem(
        client.get(f"{FORECASTS}/{mine['id']}", headers=company.as_("rep_c")), 404, "not_found"
    )
    assert_problem(
        client.get(f"{FORECASTS}/{mine['id']}/history", headers=company.as_("rep_b")),
        404,
        "not_found",
    )
    assert [
        f["owner_id"] for f in ok(client.get(FORECASTS, headers=company.as_("rep_a")))["data"]
    ] == [company.ids["rep_a"]]
    assert [
        f["owner_id"] for f in ok(client.get(FORECASTS, headers=company.as_("manager")))["data"]
    ] == [company.ids["rep_a"]]
    assert len(ok(client.get(FORECASTS, headers=company.as_("auditor")))["data"]) == 2


def test_lists_filter_by_owner_and_period_and_page(client, company):
    for period in ("2026-10", "2026-11", "2026-Q4"):
        ok(put_forecast(company, "rep_a", "rep_a", period, LINE), 201)
    ok(put_forecast(company, "admin", "rep_b", "2026-11", LINE), 201)
    november = ok(client.get(FORECASTS, params={"period": "2026-11"}, headers=company.as_("admin")))
    assert len(november["data"]) == 2
    of_b = ok(
        client.get(
            FORECASTS, params={"owner_id": company.ids["rep_b"]}, headers=company.as_("admin")
        )
    )
    assert [f["period"] for f in of_b["data"]] == ["2026-11"]
    page = ok(
        client.get(
            FORECASTS,
            params={"limit": 2, "owner_id": company.ids["rep_a"]},
            headers=company.as_("admin"),
        )
    )
    assert [f["period"] for f in page["data"]] == ["2026-10", "2026-11"] and page["has_more"]
    rest = ok(
        client.get(
            FORECASTS,
            params={"limit": 2, "owner_id": company.ids["rep_a"], "cursor": page["next_cursor"]},
            headers=company.as_("admin"),
        )
    )
    assert [f["period"] for f in rest["data"]] == ["2026-Q4"]
    bad = client.get(FORECASTS, params={"period": "2026-13"}, headers=company.as_("admin"))
    assert fields(assert_problem(bad, 422, "validation_failed")) == ["period"]


@pytest.mark.parametrize(
    ("period", "body", "field"),
    [
        ("2026-13", {"currency": "EUR", "lines": LINE}, "period"),
        ("2026-Q5", {"currency": "EUR", "lines": LINE}, "period"),
        ("november", {"currency": "EUR", "lines": LINE}, "period"),
        ("2026-11", {"currency": "eur", "lines": LINE}, "currency"),
        ("2026-11", {"currency": "EUR", "lines": []}, "lines"),
        ("2026-11", {"currency": "EUR", "lines": [{"amount": "-1"}]}, "lines[0].amount"),
        ("2026-11", {"currency": "EUR", "lines": [{"amount": "1.001"}]}, "lines[0].amount"),
        ("2026-11", {"currency": "EUR", "lines": [{"amount": "1", "qty": 2}]}, "lines[0].qty"),
        ("2026-11", {"currency": "EUR", "lines": LINE, "note": "x"}, "note"),
        (
            "2026-11",
            {"currency": "EUR", "lines": [{"amount": "1"}, {"amount": "2"}]},
            "lines[1].product_id",
        ),
        (
            "2026-11",
            {
                "currency": "EUR",
                "lines": [{"product_id": "00000000-0000-4000-8000-00000000dead", "amount": "1"}],
            },
            "lines[0].product_id",
        ),
    ],
)
def test_bad_input_is_422_naming_the_field(client, company, period, body, field):
    refused = client.put(
        f"{FORECASTS}/{company.ids['rep_a']}/{period}", json=body, headers=company.as_("rep_a")
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == [field]
    assert ok(client.get(FORECASTS, headers=company.as_("rep_a")))["data"] == []


def test_a_repeated_put_is_idempotent_by_itself(client, company):
    """PUT needs no Idempotency-Key: the same forecast again records nothing."""
    first = put_forecast(company, "rep_a", "rep_a", "2026-11", LINE)
    again = put_forecast(company, "rep_a", "rep_a", "2026-11", LINE)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    events = ok(
        client.get(f"{FORECASTS}/{first.json()['id']}/history", headers=company.as_("rep_a"))
    )
    assert [e["type"] for e in events["data"]] == ["ForecastSubmitted"]
