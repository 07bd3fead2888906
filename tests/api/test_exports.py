"""Exports: the caller's own scope, streamed, on the record, capped per day."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

from sqlalchemy import select

from crm_api.privacy.exports import exports
from crm_api.projections.accounts import ACCOUNT_COLUMNS
from tests.support import Company

EXPORTS = "/api/v1/exports"


def export(company: Company, who: str, resource: str = "accounts", **params: Any) -> Any:
    return company.client.get(f"{EXPORTS}/{resource}", params=params, headers=company.as_(who))


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def recorded(services: Any) -> list[dict[str, Any]]:
    services.catch_up()
    with services.read() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(exports).order_by(exports.c.started_at, exports.c.id))
        ]


def test_a_rep_exports_only_its_own_accounts_and_the_export_is_recorded(company: Company, services):
    company.open_account("rep_a", "Alpha", industry="Retail")
    company.open_account("rep_a", "=Beta")
    company.open_account("rep_b", "Gamma")
    response = export(company, "rep_a")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == ACCOUNT_COLUMNS
    assert [r["name"] for r in rows] == ["'=Beta", "Alpha"]

    [audit] = recorded(services)
    assert audit["id"] == response.headers["x-export-id"]
    assert (audit["user_id"], audit["resource"], audit["output_format"]) == (
        company.ids["rep_a"],
        "accounts",
        "csv",
    )
    assert (audit["rows"], audit["completed"]) == (2, True)
    assert audit["filters"] == {"archived": "false", "sort": "name,id"}
    events = list(services.app.events.get(UUID(audit["id"])))
    assert [e.type_name for e in events] == ["ExportStarted", "ExportFinished"]
    assert {e.meta["actor"] for e in events} == {company.ids["rep_a"]}


def test_contacts_export_as_ndjson_with_the_lists_filters(company: Company, services):
    first = company.open_account("rep_a", "Alpha")
    second = company.open_account("rep_a", "Beta")
    for account, name in ((first, "Ann"), (first, "Bob"), (second, "Cy")):
        added = company.client.post(
            "/api/v1/contacts",
            json={"account_id": account["id"], "name": name, "birth_year": 1990},
            headers=company.as_("rep_a"),
        )
        assert added.status_code == 201, added.text
    response = export(company, "manager", "contacts", format="ndjson", account_id=first["id"])
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(c["name"], c["birth_year"]) for c in lines] == [("Ann", 1990), ("Bob", 1990)]
    assert export(company, "rep_c", "contacts", format="ndjson").text == ""
    audits = recorded(services)
    assert sorted((a["rows"], a["filters"].get("account_id") or "") for a in audits) == [
        (0, ""),
        (2, first["id"]),
    ]


def test_the_daily_export_cap_is_per_user_and_resets_the_next_day(
    company: Company, services, clock
):
    services.exports.daily_cap = 2
    for _ in range(2):
        assert export(company, "rep_a").status_code == 200
    refused = problem(export(company, "rep_a", "contacts"), 403, "export_cap_reached")
    assert refused["cap"] == 2
    assert export(company, "rep_b").status_code == 200
    clock.advance(days=1)
    assert export(company, "rep_a").status_code == 200
    assert [a["user_id"] for a in recorded(services)].count(company.ids["rep_a"]) == 3


def test_who_may_export(company: Company):
    assert export(company, "agent").status_code == 403
    assert export(company, "auditor").status_code == 200
    invalid = problem(export(company, "rep_a", format="xlsx"), 422, "validation_failed")
    assert [e["field"] for e in invalid["errors"]] == ["format"]
    problem(export(company, "rep_a", sort="secret"), 422, "validation_failed")


def test_managers_see_their_teams_exports_and_admins_everyones(company: Company, services):
    company.open_account("rep_a", "Alpha")
    for who in ("rep_a", "rep_a", "rep_c"):
        assert export(company, who).status_code == 200
    services.catch_up()
    kpis = "/api/v1/kpis/exports"
    team = company.client.get(kpis, headers=company.as_("manager")).json()["data"]
    assert [(r["user_id"], r["exports"], r["rows"]) for r in team] == [(company.ids["rep_a"], 2, 2)]
    everyone = company.client.get(kpis, headers=company.as_("admin")).json()["data"]
    assert {r["user_id"]: r["exports"] for r in everyone} == {
        company.ids["rep_a"]: 2,
        company.ids["rep_c"]: 1,
    }
    later = company.client.get(
        kpis, params={"from": "2030-01-01T00:00:00Z"}, headers=company.as_("admin")
    )
    assert later.json()["data"] == []
    problem(company.client.get(kpis, headers=company.as_("rep_a")), 403, "forbidden")
