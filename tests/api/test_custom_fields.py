"""Custom fields: administrators define them per record type; values travel with the record
(validated when written), show in history and as-of, filter and sort lists; narrowing a
definition reports the records it no longer fits; preferences on accounts and contacts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.order_support import place_order
from tests.sales_support import open_opportunity
from tests.service_support import open_request, register_asset
from tests.support import Company
from tests.work_support import record_activity

DEFS = "/api/v1/field-definitions"


def define(company: Company, record_type: str, key: str, type_: str, **extra: Any) -> dict:
    body = {"record_type": record_type, "key": key, "label": key.title(), "type": type_, **extra}
    response = company.client.post(DEFS, json=body, headers=company.as_("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def field_errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def patch_account(company: Company, account_id: str, body: dict, who: str = "rep_a") -> Any:
    return company.client.patch(
        f"/api/v1/accounts/{account_id}", json=body, headers=company.as_(who)
    )


# definitions


def test_an_admin_defines_a_field_and_uis_read_it_by_record_type(company: Company) -> None:
    created = define(
        company,
        "accounts",
        "tier",
        "enum",
        options=["gold", "silver"],
        default="silver",
        help_text="Loyalty tier",
    )
    assert created["key"] == "tier" and created["revision"] == 1 and not created["retired"]
    define(company, "contacts", "nickname", "text", max_length=30)

    listed = company.client.get(
        DEFS, params={"record_type": "accounts"}, headers=company.as_("rep_a")
    )
    assert listed.status_code == 200
    [only] = listed.json()["data"]
    assert only["id"] == created["id"]
    assert only["options"] == ["gold", "silver"] and only["help_text"] == "Loyalty tier"
    one = company.client.get(f"{DEFS}/{created['id']}", headers=company.as_("auditor"))
    assert one.status_code == 200 and one.headers["ETag"] == '"1"'


def test_only_admins_define_change_and_retire_fields(company: Company) -> None:
    body = {"record_type": "accounts", "key": "tier", "label": "Tier", "type": "text"}
    for who in ("manager", "rep_a", "auditor"):
        response = company.client.post(DEFS, json=body, headers=company.as_(who))
        assert response.status_code == 403, who
    field = define(company, "accounts", "tier", "text")
    change = company.client.patch(
        f"{DEFS}/{field['id']}", json={"label": "X"}, headers=company.as_("manager")
    )
    assert change.status_code == 403
    retire = company.client.post(f"{DEFS}/{field['id']}/retire", headers=company.as_("rep_a"))
    assert retire.status_code == 403


def test_a_key_is_unique_per_record_type_and_well_formed(company: Company) -> None:
    define(company, "accounts", "tier", "text")
    again = company.client.post(
        DEFS,
        json={"record_type": "accounts", "key": "tier", "label": "T", "type": "number"},
        headers=company.as_("admin"),
    )
    assert again.status_code == 409 and again.json()["code"] == "field_key_taken"
    define(company, "contacts", "tier", "text")
    bad = company.client.post(
        DEFS,
        json={"record_type": "accounts", "key": "Bad-Key", "label": "T", "type": "text"},
        headers=company.as_("admin"),
    )
    assert "key" in field_errors(bad)
    no_options = company.client.post(
        DEFS,
        json={"record_type": "accounts", "key": "size", "label": "Size", "type": "enum"},
        headers=company.as_("admin"),
    )
    assert "options" in field_errors(no_options)
    bad_default = company.client.post(
        DEFS,
        json={
            "record_type": "accounts",
            "key": "score",
            "label": "Score",
            "type": "number",
            "min": 0,
            "max": 10,
            "default": 11,
        },
        headers=company.as_("admin"),
    )
    assert "default" in field_errors(bad_default)


# values


def test_values_are_written_read_and_defaulted_with_the_record(company: Company) -> None:
    define(company, "accounts", "tier", "enum", options=["gold", "silver"], default="silver")
    define(company, "accounts", "employees", "number", min=0)
    account = company.open_account("rep_a", custom_fields={"employees": 40})
    assert account["custom_fields"] == {"employees": 40, "tier": "silver"}

    changed = patch_account(company, account["id"], {"custom_fields": {"tier": "gold"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["custom_fields"] == {"employees": 40, "tier": "gold"}
    assert changed.headers["ETag"] == f'"{changed.json()["version"]}"'

    cleared = patch_account(company, account["id"], {"custom_fields": {"employees": None}})
    assert cleared.json()["custom_fields"] == {"tier": "gold"}

    read = company.client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_a"))
    assert read.json()["custom_fields"] == {"tier": "gold"}
    listed = company.client.get("/api/v1/accounts", headers=company.as_("rep_a"))
    [row] = listed.json()["data"]
    assert row["custom_fields"] == {"tier": "gold"}
    assert row["version"] == read.json()["version"]


def test_unknown_keys_and_missing_required_values_are_refused(company: Company) -> None:
    define(company, "accounts", "region", "text", required=True)
    missing = company.client.post(
        "/api/v1/accounts",
        json={"name": "Acme", "owner_id": company.ids["rep_a"]},
        headers=company.as_("rep_a"),
    )
    assert field_errors(missing) == {"custom_fields.region": "is required"}
    unknown = company.client.post(
        "/api/v1/accounts",
        json={
            "name": "Acme",
            "owner_id": company.ids["rep_a"],
            "custom_fields": {"region": "North", "colour": "red"},
        },
        headers=company.as_("rep_a"),
    )
    assert list(field_errors(unknown)) == ["custom_fields.colour"]
    account = company.open_account("rep_a", custom_fields={"region": "North"})
    cleared = patch_account(company, account["id"], {"custom_fields": {"region": None}})
    assert list(field_errors(cleared)) == ["custom_fields.region"]


@pytest.mark.parametrize(
    ("type_", "extra", "good", "bad"),
    [
        ("text", {"max_length": 5}, "short", "too long"),
        ("number", {"min": 0, "max": 100}, 42.5, 101),
        ("decimal", {"min": "0"}, "12.50", "12,50"),
        ("date", {"max": "2030-12-31"}, "2026-02-28", "2026-02-30"),
        ("boolean", {}, True, "yes"),
        ("enum", {"options": ["a", "b"]}, "a", "c"),
        ("multi_enum", {"options": ["a", "b"]}, ["a", "b"], ["a", "a"]),
        ("email", {}, "ann@example.com", "ann(at)example"),
        ("phone", {}, "+44 20 7946 0000", "call me"),
        ("url", {}, "https://example.com/x", "ftp://example.com"),
        ("reference", {"reference_to": "users"}, None, "not-a-uuid"),
    ],
)
def test_every_type_refuses_a_value_that_does_not_fit(
    company: Company, type_: str, extra: dict, good: Any, bad: Any
) -> None:
    define(company, "accounts", "field", type_, **extra)
    account = company.open_account("rep_a")
    if good is None:
        good = company.ids["rep_b"]
    ok = patch_account(company, account["id"], {"custom_fields": {"field": good}})
    assert ok.status_code == 200, ok.text
    refused = patch_account(company, account["id"], {"custom_fields": {"field": bad}})
    assert list(field_errors(refused)) == ["custom_fields.field"]


def test_a_reference_must_name_an_existing_record_of_its_type(company: Company) -> None:
    define(company, "accounts", "partner", "reference", reference_to="accounts")
    other = company.open_account("rep_a", "Partner")
    account = company.open_account("rep_a")
    ok = patch_account(company, account["id"], {"custom_fields": {"partner": other["id"]}})
    assert ok.status_code == 200, ok.text
    a_user = patch_account(
        company, account["id"], {"custom_fields": {"partner": company.ids["rep_a"]}}
    )
    assert list(field_errors(a_user)) == ["custom_fields.partner"]


def test_a_reference_must_name_a_record_the_writer_may_see(company: Company) -> None:
    """Another rep's record is refused exactly like a missing one: a reference neither reveals
    nor links to what the writer cannot see."""
    define(company, "accounts", "partner", "reference", reference_to="accounts")
    define(company, "accounts", "contact", "reference", reference_to="contacts")
    theirs = company.open_account("rep_c", "Theirs")
    their_contact = company.client.post(
        "/api/v1/contacts",
        json={"account_id": theirs["id"], "name": "Ann Other"},
        headers=company.as_("rep_c"),
    )
    assert their_contact.status_code == 201, their_contact.text
    mine = company.open_account("rep_a")
    nobody = "00000000-0000-4000-8000-000000000000"
    hidden = patch_account(company, mine["id"], {"custom_fields": {"partner": theirs["id"]}})
    missing = patch_account(company, mine["id"], {"custom_fields": {"partner": nobody}})
    assert field_errors(hidden) == {
        k: v.replace(nobody, theirs["id"]) for k, v in field_errors(missing).items()
    }
    contact = patch_account(
        company, mine["id"], {"custom_fields": {"contact": their_contact.json()["id"]}}
    )
    assert list(field_errors(contact)) == ["custom_fields.contact"]
    by_admin = patch_account(
        company, mine["id"], {"custom_fields": {"partner": theirs["id"]}}, "admin"
    )
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["custom_fields"] == {"partner": theirs["id"]}


def test_reps_write_values_only_on_records_they_own(company: Company) -> None:
    define(company, "accounts", "tier", "text")
    account = company.open_account("rep_a")
    other_rep = patch_account(company, account["id"], {"custom_fields": {"tier": "x"}}, "rep_c")
    assert other_rep.status_code == 404
    auditor = patch_account(company, account["id"], {"custom_fields": {"tier": "x"}}, "auditor")
    assert auditor.status_code == 403
    owner = patch_account(company, account["id"], {"custom_fields": {"tier": "x"}})
    assert owner.status_code == 200


# history and as-of


def test_history_and_as_of_show_custom_values(company: Company) -> None:
    define(company, "accounts", "tier", "text")
    account = company.open_account("rep_a", custom_fields={"tier": "bronze"})
    before = company.clock.now()
    company.clock.advance(hours=1)
    patch_account(company, account["id"], {"custom_fields": {"tier": "gold"}})

    history = company.client.get(
        f"/api/v1/accounts/{account['id']}/history", headers=company.as_("rep_a")
    ).json()["data"]
    changes = [e for e in history if e["type"] == "AccountCustomFieldsChanged"]
    assert [e["data"]["custom_fields"] for e in changes] == [{"tier": "bronze"}, {"tier": "gold"}]
    past = company.client.get(
        f"/api/v1/accounts/{account['id']}",
        params={"as_of": before.isoformat()},
        headers=company.as_("rep_a"),
    )
    assert past.json()["custom_fields"] == {"tier": "bronze"}
    first = company.client.get(
        f"/api/v1/accounts/{account['id']}", params={"version": 1}, headers=company.as_("rep_a")
    )
    assert first.json()["custom_fields"] == {}


# filter and sort


def test_lists_filter_and_sort_by_custom_fields_with_working_cursors(company: Company) -> None:
    define(company, "accounts", "employees", "number")
    define(company, "accounts", "tier", "enum", options=["gold", "silver"])
    define(company, "accounts", "labels", "multi_enum", options=["vip", "new", "old"])
    sizes = {"A": 30, "B": 10, "C": 20, "D": None, "E": 5}
    for name, size in sizes.items():
        values: dict[str, Any] = {"tier": "gold" if name in "ACE" else "silver"}
        if size is not None:
            values["employees"] = size
        values["labels"] = ["vip", "new"] if name in "AB" else ["old"]
        company.open_account("rep_a", name, custom_fields=values)

    def names(params: dict[str, Any]) -> list[str]:
        found, cursor = [], None
        while True:
            page = company.client.get(
                "/api/v1/accounts",
                params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
                headers=company.as_("rep_a"),
            )
            assert page.status_code == 200, page.text
            body = page.json()
            found += [row["name"] for row in body["data"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return found

    assert names({"sort": "cf.employees"}) == ["D", "E", "B", "C", "A"]
    assert names({"sort": "-cf.employees"}) == ["A", "C", "B", "E", "D"]
    assert names({"cf.tier": "gold", "sort": "-cf.employees"}) == ["A", "C", "E"]
    assert names({"cf.employees": "20"}) == ["C"]
    assert names({"cf.labels": "vip", "sort": "name"}) == ["A", "B"]

    unknown = company.client.get(
        "/api/v1/accounts", params={"cf.colour": "red"}, headers=company.as_("rep_a")
    )
    assert list(field_errors(unknown)) == ["cf.colour"]
    bad_number = company.client.get(
        "/api/v1/accounts", params={"cf.employees": "many"}, headers=company.as_("rep_a")
    )
    assert list(field_errors(bad_number)) == ["cf.employees"]
    not_sortable = company.client.get(
        "/api/v1/accounts", params={"sort": "cf.labels"}, headers=company.as_("rep_a")
    )
    assert list(field_errors(not_sortable)) == ["sort"]


# retire and narrow


def test_a_retired_field_keeps_its_values_but_refuses_new_ones(company: Company) -> None:
    field = define(company, "accounts", "tier", "text")
    account = company.open_account("rep_a", custom_fields={"tier": "gold"})
    retired = company.client.post(
        f"{DEFS}/{field['id']}/retire", headers={**company.as_("admin"), "If-Match": '"1"'}
    )
    assert retired.status_code == 200 and retired.json()["retired"] is True

    read = company.client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_a"))
    assert read.json()["custom_fields"] == {"tier": "gold"}
    written = patch_account(company, account["id"], {"custom_fields": {"tier": "silver"}})
    assert list(field_errors(written)) == ["custom_fields.tier"]
    unrelated = patch_account(company, account["id"], {"name": "Acme Ltd"})
    assert unrelated.status_code == 200
    assert unrelated.json()["custom_fields"] == {"tier": "gold"}
    filtered = company.client.get(
        "/api/v1/accounts", params={"cf.tier": "gold"}, headers=company.as_("rep_a")
    )
    assert [r["id"] for r in filtered.json()["data"]] == [account["id"]]
    listed = company.client.get(DEFS, params={"retired": "true"}, headers=company.as_("rep_a"))
    assert [d["key"] for d in listed.json()["data"]] == ["tier"]
    again = company.client.post(
        DEFS,
        json={"record_type": "accounts", "key": "tier", "label": "Tier", "type": "text"},
        headers=company.as_("admin"),
    )
    assert again.status_code == 409


def test_narrowing_a_definition_reports_violations_and_reads_never_break(
    company: Company,
) -> None:
    field = define(company, "accounts", "size", "text")
    fits = company.open_account("rep_a", "Fits", custom_fields={"size": "small"})
    words = company.open_account("rep_a", "Words", custom_fields={"size": "huge"})
    empty = company.open_account("rep_a", "Empty")

    narrowed = company.client.patch(
        f"{DEFS}/{field['id']}",
        json={"type": "enum", "options": ["small", "large"], "required": True},
        headers={**company.as_("admin"), "If-Match": '"1"'},
    )
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["type"] == "enum" and body["revision"] == 2
    reported = {v["record_id"]: v["problem"] for v in body["violations"]["data"]}
    assert set(reported) == {words["id"], empty["id"]}
    assert "required" in reported[empty["id"]]

    paged, cursor = [], None
    while True:
        page = company.client.get(
            f"{DEFS}/{field['id']}/violations",
            params={"limit": 1, **({"cursor": cursor} if cursor else {})},
            headers=company.as_("admin"),
        ).json()
        paged += [v["record_id"] for v in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(paged) == sorted([words["id"], empty["id"]])

    read = company.client.get(f"/api/v1/accounts/{words['id']}", headers=company.as_("rep_a"))
    assert read.status_code == 200 and read.json()["custom_fields"] == {"size": "huge"}
    listed = company.client.get(
        "/api/v1/accounts", params={"cf.size": "small"}, headers=company.as_("rep_a")
    )
    assert [r["id"] for r in listed.json()["data"]] == [fits["id"]]
    stale = company.client.patch(
        f"{DEFS}/{field['id']}",
        json={"label": "Size"},
        headers={**company.as_("admin"), "If-Match": '"1"'},
    )
    assert stale.status_code == 412


# preferences


def test_preferences_are_checked_and_their_changes_are_on_the_timeline(
    company: Company,
) -> None:
    account = company.open_account(
        "rep_a", preferences={"channel": "email", "language": "pt-BR", "tags": ["aisle seat"]}
    )
    assert account["preferences"] == {
        "channel": "email",
        "language": "pt-BR",
        "tags": ["aisle seat"],
    }
    changed = patch_account(
        company,
        account["id"],
        {
            "preferences": {
                "channel": "sms",
                "contact_times": [{"days": ["tue", "mon"], "from": "09:00", "to": "12:30"}],
            }
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["preferences"] == {
        "channel": "sms",
        "language": "pt-BR",
        "tags": ["aisle seat"],
        "contact_times": [{"days": ["mon", "tue"], "from": "09:00", "to": "12:30"}],
    }
    bad = patch_account(
        company,
        account["id"],
        {
            "preferences": {
                "language": "english!",
                "contact_times": [{"days": ["mon"], "from": "17:00", "to": "09:00"}],
            }
        },
    )
    assert set(field_errors(bad)) == {
        "preferences.language",
        "preferences.contact_times[0].to",
    }
    contact = company.client.post(
        "/api/v1/contacts",
        json={"account_id": account["id"], "name": "Ann", "preferences": {"channel": "phone"}},
        headers=company.as_("rep_a"),
    )
    assert contact.status_code == 201, contact.text
    assert contact.json()["preferences"] == {"channel": "phone"}

    timeline = company.client.get(
        f"/api/v1/accounts/{account['id']}/timeline", headers=company.as_("rep_a")
    )
    assert timeline.status_code == 200, timeline.text
    kinds = [item["event_type"] for item in timeline.json()["data"]]
    assert kinds.count("AccountPreferencesChanged") == 2
    assert "ContactPreferencesChanged" in kinds
    listed = company.client.get("/api/v1/accounts", headers=company.as_("rep_a"))
    assert listed.json()["data"][0]["preferences"]["channel"] == "sms"


# the other record types


def _make(company: Company, services: Any, record_type: str, account_id: str, tier: str) -> str:
    """A record of the type, created with `custom_fields: {tier}` where its create takes them
    (an ERP order gets them by PATCH)."""
    custom = {"custom_fields": {"tier": tier}}
    if record_type == "contacts":
        return company_post(
            company, "/api/v1/contacts", {"account_id": account_id, "name": tier, **custom}
        )
    if record_type == "opportunities":
        return open_opportunity(company, "rep_a", account_id, name=tier, **custom)["id"]
    if record_type == "quotes":
        return company_post(
            company,
            "/api/v1/quotes",
            {"account_id": account_id, "currency": "EUR", "title": tier, **custom},
        )
    if record_type == "orders":
        order_id = str(place_order(services, account_id, []).id)
        changed = company.client.patch(
            f"/api/v1/orders/{order_id}", json=custom, headers=company.as_("admin")
        )
        assert changed.status_code == 200, changed.text
        return order_id
    if record_type == "assets":
        return register_asset(company, "rep_a", account_id, serial_number=f"SN-{tier}", **custom)[
            "id"
        ]
    if record_type == "service-requests":
        return open_request(company, "rep_a", account_id, subject=tier, **custom)["id"]
    assert record_type == "activities"
    return record_activity(company, "rep_a", account_id, subject=tier, **custom)["id"]


def company_post(company: Company, url: str, body: dict) -> str:
    response = company.client.post(url, json=body, headers=company.as_("rep_a"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


WRITER = {"orders": "admin", "service-requests": "manager"}


@pytest.mark.parametrize(
    "record_type",
    ["contacts", "opportunities", "quotes", "orders", "assets", "service-requests", "activities"],
)
def test_every_record_type_carries_filters_and_sorts_custom_fields(
    company: Company, services: Any, record_type: str
) -> None:
    define(company, record_type, "tier", "enum", options=["gold", "silver", "bronze"])
    account = company.open_account("rep_a")
    url = f"/api/v1/{record_type}"
    ids = {
        tier: _make(company, services, record_type, account["id"], tier)
        for tier in ("silver", "gold", "bronze")
    }
    read = company.client.get(f"{url}/{ids['gold']}", headers=company.as_("rep_a"))
    assert read.status_code == 200, read.text
    assert read.json()["custom_fields"] == {"tier": "gold"}

    writer = WRITER.get(record_type, "rep_a")
    changed = company.client.patch(
        f"{url}/{ids['bronze']}",
        json={"custom_fields": {"tier": "platinum"}},
        headers=company.as_(writer),
    )
    assert list(field_errors(changed)) == ["custom_fields.tier"]

    filtered = company.client.get(url, params={"cf.tier": "gold"}, headers=company.as_("rep_a"))
    assert filtered.status_code == 200, filtered.text
    assert [row["id"] for row in filtered.json()["data"]] == [ids["gold"]]
    assert filtered.json()["data"][0]["custom_fields"] == {"tier": "gold"}

    order, cursor = [], None
    while True:
        page = company.client.get(
            url,
            params={"sort": "-cf.tier", "limit": 1, **({"cursor": cursor} if cursor else {})},
            headers=company.as_("rep_a"),
        ).json()
        order += [row["id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert order == [ids["silver"], ids["gold"], ids["bronze"]]

    history = company.client.get(f"{url}/{ids['gold']}/history", headers=company.as_("admin"))
    assert history.status_code == 200, history.text
    assert any(e["type"].endswith("CustomFieldsChanged") for e in history.json()["data"])


def test_erasing_a_contact_erases_its_preferences_and_custom_values(company: Company) -> None:
    define(company, "contacts", "hobby", "text")
    account = company.open_account("rep_a")
    created = company.client.post(
        "/api/v1/contacts",
        json={
            "account_id": account["id"],
            "name": "Ann",
            "preferences": {"tags": ["vegetarian"]},
            "custom_fields": {"hobby": "chess"},
        },
        headers=company.as_("rep_a"),
    )
    assert created.status_code == 201, created.text
    contact = f"/api/v1/contacts/{created.json()['id']}"
    erased = company.client.post(
        f"{contact}/erase", json={"reason": "subject_request"}, headers=company.as_("admin")
    )
    assert erased.status_code == 200, erased.text

    read = company.client.get(contact, headers=company.as_("rep_a")).json()
    assert read["preferences"] == {} and read["custom_fields"] == {}
    history = company.client.get(f"{contact}/history", headers=company.as_("admin")).json()
    payloads = [json.dumps(e["data"]) for e in history["data"]]
    assert not any("chess" in p or "vegetarian" in p for p in payloads)
    listed = company.client.get(
        "/api/v1/contacts", params={"cf.hobby": "chess"}, headers=company.as_("rep_a")
    )
    assert listed.json()["data"] == []
    again = company.client.patch(
        contact, json={"custom_fields": {"hobby": "go"}}, headers=company.as_("rep_a")
    )
    assert again.status_code == 409 and again.json()["code"] == "erased"
