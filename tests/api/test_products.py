"""The catalogue over REST: money as strings, unique skus, prices as history, upsert by sku."""

from __future__ import annotations

from typing import Any

from tests.support import bearer

PRODUCTS = "/api/v1/products"


def product_body(sku: str = "WID-1", **overrides: Any) -> dict[str, Any]:
    body = {
        "sku": sku,
        "name": "Widget",
        "list_price": "100.00",
        "unit_cost": "40.00",
        "floor_price": "80.00",
        "currency": "EUR",
    }
    body.update(overrides)
    return body


def list_product(client: Any, company: Any, **overrides: Any) -> dict[str, Any]:
    response = client.post(PRODUCTS, json=product_body(**overrides), headers=company.as_("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    return response.json()


def test_a_listed_product_is_in_the_list_at_once_with_money_as_strings(client, company):
    product = list_product(client, company, list_price="99.5")
    listed = client.get(PRODUCTS, headers=company.as_("rep_a"))
    assert listed.status_code == 200
    assert listed.json()["data"] == [product]
    assert (product["list_price"], product["unit_cost"], product["floor_price"]) == (
        "99.50",
        "40.00",
        "80.00",
    )
    assert (product["currency"], product["active"], product["version"]) == ("EUR", True, 1)


def test_a_sku_is_taken_whatever_its_case(client, company):
    list_product(client, company, sku="WID-1")
    for sku in ("WID-1", "wid-1"):
        duplicate = client.post(
            PRODUCTS, json=product_body(sku, name="Copy"), headers=company.as_("admin")
        )
        assert_problem(duplicate, 409, "sku_taken")
    assert len(client.get(PRODUCTS, headers=company.as_("admin")).json()["data"]) == 1


def test_a_floor_above_list_price_is_refused_naming_the_floor(client, company):
    refused = client.post(
        PRODUCTS, json=product_body(floor_price="100.01"), headers=company.as_("admin")
    )
    problem = assert_problem(refused, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["floor_price"]


def test_money_with_fractions_of_a_cent_is_refused(client, company):
    refused = client.post(
        PRODUCTS, json=product_body(list_price="100.001"), headers=company.as_("admin")
    )
    assert refused.status_code == 422


def test_a_price_change_is_history_and_the_old_prices_stay_readable(client, company):
    product = list_product(client, company)
    url = f"{PRODUCTS}/{product['id']}"
    changed = client.post(
        f"{url}/prices",
        json={
            "list_price": "120.00",
            "unit_cost": "45.00",
            "floor_price": "95.00",
            "currency": "EUR",
            "reason": "2027 price list",
        },
        headers={**company.as_("admin"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["list_price"], changed.headers["ETag"]) == ("120.00", '"2"')
    events = client.get(f"{url}/history", headers=company.as_("auditor")).json()["data"]
    assert [e["type"] for e in events] == ["ProductListed", "ProductPricesChanged"]
    assert events[1]["data"] == {
        "list_price": "120.00",
        "unit_cost": "45.00",
        "floor_price": "95.00",
        "currency": "EUR",
        "reason": "2027 price list",
    }
    first = client.get(url, params={"version": 1}, headers=company.as_("rep_a")).json()
    assert (first["list_price"], first["floor_price"]) == ("100.00", "80.00")


def test_a_price_change_against_an_old_version_gets_412(client, company):
    product = list_product(client, company)
    stale = client.post(
        f"{PRODUCTS}/{product['id']}/prices",
        json={"list_price": "90", "unit_cost": "40", "floor_price": "80", "currency": "EUR"},
        headers={**company.as_("admin"), "If-Match": '"0"'},
    )
    assert_problem(stale, 412, "version_conflict")


def test_a_discontinued_product_leaves_the_default_list_until_reinstated(client, company):
    product = list_product(client, company)
    url = f"{PRODUCTS}/{product['id']}"
    assert client.post(f"{url}/discontinue", headers=company.as_("admin")).status_code == 200
    assert client.get(PRODUCTS, headers=company.as_("rep_a")).json()["data"] == []
    gone = client.get(PRODUCTS, params={"active": "false"}, headers=company.as_("rep_a"))
    assert [p["sku"] for p in gone.json()["data"]] == ["WID-1"]
    renamed = client.patch(url, json={"name": "Old widget"}, headers=company.as_("admin"))
    assert_problem(renamed, 409, "discontinued")
    back = client.post(f"{url}/reinstate", headers=company.as_("admin"))
    assert (back.json()["active"], back.json()["version"]) == (True, 3)


def test_the_list_searches_sku_and_name_and_sorts(client, company):
    list_product(client, company, sku="B-2", name="Bolt")
    list_product(client, company, sku="A-9", name="Anchor")
    list_product(client, company, sku="C-1", name="Widget bracket")
    found = client.get(PRODUCTS, params={"q": "widget"}, headers=company.as_("rep_a"))
    assert [p["sku"] for p in found.json()["data"]] == ["C-1"]
    by_sku = client.get(PRODUCTS, params={"q": "b-", "sort": "sku"}, headers=company.as_("rep_a"))
    assert [p["sku"] for p in by_sku.json()["data"]] == ["B-2"]
    first = client.get(PRODUCTS, params={"sort": "-sku", "limit": 2}, headers=company.as_("rep_a"))
    assert [p["sku"] for p in first.json()["data"]] == ["C-1", "B-2"]
    rest = client.get(
        PRODUCTS,
        params={"sort": "-sku", "limit": 2, "cursor": first.json()["next_cursor"]},
        headers=company.as_("rep_a"),
    )
    assert ([p["sku"] for p in rest.json()["data"]], rest.json()["has_more"]) == (["A-9"], False)


# upsert by sku


def upsert(client: Any, headers: dict[str, str], sku: str = "WID-1", **overrides: Any) -> Any:
    body = product_body(**overrides)
    del body["sku"]
    return client.put(f"{PRODUCTS}/by-sku/{sku}", json=body, headers=headers)


def test_an_upsert_lists_a_new_sku_then_records_only_what_changed(client, company):
    admin = company.as_("admin")
    created = upsert(client, admin)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{PRODUCTS}/{created.json()['id']}"

    same = upsert(client, admin, list_price="100")
    assert (same.status_code, same.json()["version"]) == (200, 1)

    repriced = upsert(client, admin, sku="wid-1", name="Widget Pro", floor_price="85.00")
    assert repriced.status_code == 200
    assert (repriced.json()["id"], repriced.json()["version"]) == (created.json()["id"], 3)
    history = client.get(f"{PRODUCTS}/{created.json()['id']}/history", headers=admin).json()
    assert [e["type"] for e in history["data"]] == [
        "ProductListed",
        "ProductDetailsChanged",
        "ProductPricesChanged",
    ]


def test_an_integrator_key_with_products_write_can_upsert(client, company):
    key = client.post(
        "/api/v1/api-keys",
        json={"name": "ERP sync", "role": "integrator", "scopes": ["products:write"]},
        headers=company.as_("admin"),
    )
    assert key.status_code == 201, key.text
    response = upsert(client, bearer(key.json()["token"]))
    assert response.status_code == 201, response.text
    actor = client.get(
        f"{PRODUCTS}/{response.json()['id']}/history", headers=company.as_("admin")
    ).json()["data"][0]["actor_type"]
    assert actor == "api_key"


# who may write


def test_reps_and_managers_read_the_catalogue_but_cannot_change_it(client, company):
    product = list_product(client, company)
    for who in ("rep_a", "manager"):
        assert (
            client.get(f"{PRODUCTS}/{product['id']}", headers=company.as_(who)).status_code == 200
        )
        refused = client.post(PRODUCTS, json=product_body("NEW-1"), headers=company.as_(who))
        assert_problem(refused, 403, "forbidden")
    assert_problem(upsert(client, company.as_("rep_a")), 403, "forbidden")


def test_auditors_are_told_they_are_read_only(client, company):
    refused = client.post(PRODUCTS, json=product_body(), headers=company.as_("auditor"))
    assert_problem(refused, 403, "read_only_role")
