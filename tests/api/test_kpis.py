"""Data-entry KPIs per user and team: timeliness of activities (the assistant's entries counted
for its rep, shown apart), completeness of key fields, new accounts, opportunities won.

"Now" is 2026-01-05 09:00 UTC; the default period is the 30 days before tomorrow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_api.application.services import Services
from crm_api.projections.kpis import KpisProjection
from tests.insights_support import KPIS
from tests.sales_support import assert_problem, ok, open_opportunity
from tests.support import Company
from tests.work_support import record_activity


def kpis(company: Company, who: str, **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = ok(company.client.get(KPIS, params=params, headers=company.as_(who)))
    return answer


def _book(company: Company) -> dict[str, str]:
    acme = company.open_account("rep_a", "Acme", phone="+1 555 0100", industry="Steel")["id"]
    beta = company.open_account("rep_a", "Beta")["id"]
    for body in (
        {"name": "Ann", "phone": "+1 555 0101", "email": "ann@example.com"},
        {"name": "Bob"},
    ):
        ok(
            company.client.post(
                "/api/v1/contacts", json={"account_id": acme, **body}, headers=company.as_("rep_a")
            ),
            201,
        )
    record_activity(company, "rep_a", acme, occurred_at="2026-01-04T15:00:00Z")
    record_activity(company, "rep_a", acme)
    record_activity(
        company, "assistant", acme, on_behalf_of="rep_a", occurred_at="2026-01-01T10:00:00Z"
    )
    won = open_opportunity(company, "rep_a", acme)
    ok(company.client.post(f"/api/v1/opportunities/{won['id']}/win", headers=company.as_("rep_a")))
    return {"acme": acme, "beta": beta}


REP_A = {
    "members": 1,
    "activities": {
        "total": 3,
        "own": 2,
        "on_behalf": 1,
        "lag": {"within_1h": 1, "within_1d": 1, "within_3d": 0, "later": 1},
        "recorded_by_next_day_10_pct": 66.67,
        "per_day": 0.1,
    },
    "yesterday": {"activities": 1, "recorded_by_10_pct": 100.0},
    "completeness": {
        "accounts": 2,
        "contacts": 2,
        "accounts_with": {"phone": 1, "industry": 1, "address": 0},
        "contacts_with": {"phone": 1, "email": 1, "occupation": 0, "birth_year": 0},
        "filled_pct": 28.57,
    },
    "new_accounts": 2,
    "opportunities": {"created": 1, "won": 1, "lost": 0, "win_rate_pct": 100.0},
}


def test_a_rep_sees_its_own_data_entry_kpis(company: Company, services: Services) -> None:
    _book(company)
    answer = kpis(company, "rep_a")
    assert (answer["group_by"], answer["from"], answer["to"]) == (
        "user",
        "2025-12-07",
        "2026-01-06",
    )
    [row] = answer["data"]
    assert row == {"id": company.ids["rep_a"], **REP_A}
    everyone = kpis(company, "admin")
    assert len(everyone["data"]) == 7
    rep_b = next(r for r in everyone["data"] if r["id"] == company.ids["rep_b"])
    assert rep_b["activities"]["total"] == 0
    assert rep_b["completeness"]["filled_pct"] is None
    earlier = kpis(company, "rep_a", **{"from": "2026-01-02", "to": "2026-01-06"})
    assert earlier["data"][0]["activities"]["total"] == 2
    assert earlier["data"][0]["activities"]["per_day"] == 0.5


def test_team_kpis_sum_the_members_and_follow_changes(company: Company, services: Services) -> None:
    book = _book(company)
    [team] = kpis(company, "manager", group_by="team")["data"]
    assert team["id"] == company.ids["team"]
    assert team["members"] == 2
    assert team["activities"] == REP_A["activities"]
    assert team["completeness"] == REP_A["completeness"]
    assert_problem(
        company.client.get(KPIS, params={"group_by": "team"}, headers=company.as_("rep_a")),
        403,
        "forbidden",
    )
    ok(
        company.client.post(
            f"/api/v1/accounts/{book['beta']}/transfer",
            json={"to_owner_id": company.ids["rep_b"]},
            headers=company.as_("manager"),
        )
    )
    [rep_a] = kpis(company, "rep_a")["data"]
    assert rep_a["completeness"]["accounts"] == 1
    assert rep_a["completeness"]["filled_pct"] == 36.36
    assert rep_a["new_accounts"] == 2


def test_rebuilding_the_kpis_gives_the_live_rows(company: Company, services: Services) -> None:
    _book(company)
    tables = KpisProjection.tables
    with services.read() as conn:
        live = {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables}
    assert all(live[t] for t in ("kpi_activity_days", "kpi_completeness", "kpi_owner_days"))
    services.runners[KpisProjection.name].rebuild()
    with services.read() as conn:
        rebuilt = {
            t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr) for t in tables
        }
    assert rebuilt == live
