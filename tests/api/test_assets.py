"""Assets over REST: the installed base, unique serials per product, visibility by account."""

from __future__ import annotations

from tests.sales_support import assert_problem, fields, history_types, list_product, ok
from tests.service_support import ASSETS, register_asset


def test_a_product_asset_is_registered_listed_and_filtered(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    asset = register_asset(
        company,
        "rep_a",
        account["id"],
        product_id=product["id"],
        serial_number="SN-9",
        model="W1",
        install_date="2026-01-02",
        warranty_end="2028-01-01",
    )
    assert (asset["product_id"], asset["manufacturer"], asset["version"]) == (
        product["id"],
        None,
        1,
    )
    foreign = register_asset(company, "rep_a", account["id"], serial_number="SN-9")
    by_product = ok(
        client.get(ASSETS, params={"product_id": product["id"]}, headers=company.as_("rep_a"))
    )
    assert [a["id"] for a in by_product["data"]] == [asset["id"]]
    by_serial = ok(
        client.get(ASSETS, params={"serial_number": "SN-9"}, headers=company.as_("rep_a"))
    )
    assert {a["id"] for a in by_serial["data"]} == {asset["id"], foreign["id"]}


def test_a_serial_is_unique_per_product(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    register_asset(company, "rep_a", account["id"], product_id=product["id"], serial_number="S1")
    again = client.post(
        ASSETS,
        json={"account_id": account["id"], "product_id": product["id"], "serial_number": "S1"},
        headers=company.as_("rep_a"),
    )
    assert_problem(again, 409, "serial_taken")
    other = list_product(company, sku="WID-2")
    register_asset(company, "rep_a", account["id"], product_id=other["id"], serial_number="S1")


def test_changing_the_serial_frees_the_old_one(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    first = register_asset(
        company, "rep_a", account["id"], product_id=product["id"], serial_number="S1"
    )
    changed = client.patch(
        f"{ASSETS}/{first['id']}",
        json={"serial_number": "S2"},
        headers={**company.as_("rep_a"), "If-Match": '"1"'},
    )
    assert ok(changed)["serial_number"] == "S2"
    register_asset(company, "rep_a", account["id"], product_id=product["id"], serial_number="S1")
    assert history_types(company, f"{ASSETS}/{first['id']}") == [
        "AssetRegistered",
        "AssetDetailsChanged",
    ]


def test_a_foreign_asset_needs_a_manufacturer_and_a_model(client, company):
    account = company.open_account("rep_a")
    response = client.post(
        ASSETS,
        json={"account_id": account["id"], "serial_number": "X"},
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(response, 422, "validation_failed")) == ["manufacturer", "model"]


def test_a_product_must_exist_and_the_warranty_end_after_install(client, company):
    account = company.open_account("rep_a")
    missing = client.post(
        ASSETS,
        json={
            "account_id": account["id"],
            "serial_number": "X",
            "product_id": "00000000-0000-4000-8000-00000000dead",
        },
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(missing, 422, "validation_failed")) == ["product_id"]
    backwards = client.post(
        ASSETS,
        json={
            "account_id": account["id"],
            "serial_number": "X",
            "manufacturer": "M",
            "model": "m",
            "install_date": "2026-02-01",
            "warranty_end": "2026-01-01",
        },
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(backwards, 422, "validation_failed")) == ["warranty_end"]


def test_assets_are_visible_through_the_accounts_owner(client, company):
    mine = company.open_account("rep_a")
    theirs = company.open_account("rep_c", name="Other")
    asset = register_asset(company, "rep_a", mine["id"])
    register_asset(company, "rep_c", theirs["id"], serial_number="SN-2")
    assert client.get(f"{ASSETS}/{asset['id']}", headers=company.as_("rep_c")).status_code == 404
    listed = ok(client.get(ASSETS, headers=company.as_("rep_a")))
    assert [a["id"] for a in listed["data"]] == [asset["id"]]
    manager = ok(client.get(ASSETS, headers=company.as_("manager")))
    assert [a["id"] for a in manager["data"]] == [asset["id"]]
    auditor = ok(client.get(ASSETS, headers=company.as_("auditor")))
    assert len(auditor["data"]) == 2
    refused = client.post(
        ASSETS,
        json={"account_id": theirs["id"], "serial_number": "Z", "manufacturer": "M", "model": "m"},
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["account_id"]
    assert_problem(
        client.post(
            ASSETS,
            json={"account_id": mine["id"], "serial_number": "Q"},
            headers=company.as_("auditor"),
        ),
        403,
        "read_only_role",
    )
