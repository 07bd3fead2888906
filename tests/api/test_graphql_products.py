"""The catalogue over GraphQL: the REST rules and codes of /api/v1/products, in camelCase."""

from __future__ import annotations

from typing import Any

from tests.api.test_graphql import codes, gql
from tests.support import Company

PRODUCT_FIELDS = "id sku name listPrice unitCost floorPrice currency active version"

CREATE_PRODUCT = f"""
mutation Create($input: CreateProductInput!, $key: String) {{
  createProduct(input: $input, idempotencyKey: $key) {{ {PRODUCT_FIELDS} }}
}}"""

UPSERT_PRODUCT = f"""
mutation Upsert($sku: String!, $input: UpsertProductInput!, $key: String) {{
  upsertProductBySku(sku: $sku, input: $input, idempotencyKey: $key) {{
    created product {{ {PRODUCT_FIELDS} }}
  }}
}}"""

PRODUCT_HISTORY = """query($id: ID!) {
  recordHistory(type: PRODUCT, id: $id) { edges { node { type version actor data } } }
}"""


def product_input(sku: str = "WID-1", **overrides: Any) -> dict[str, Any]:
    fields = {
        "sku": sku,
        "name": "Widget",
        "listPrice": "100.00",
        "unitCost": "40.00",
        "floorPrice": "80.00",
        "currency": "EUR",
    }
    fields.update(overrides)
    return fields


def create_product(company: Company, who: str = "admin", **overrides: Any) -> dict[str, Any]:
    key = overrides.pop("key", None)
    body = gql(company, who, CREATE_PRODUCT, input=product_input(**overrides), key=key)
    assert "errors" not in body, body
    product: dict[str, Any] = body["data"]["createProduct"]
    return product


def upsert(company: Company, who: str = "admin", sku: str = "WID-1", **overrides: Any) -> Any:
    key = overrides.pop("key", None)
    fields = product_input(**overrides)
    del fields["sku"]
    return gql(company, who, UPSERT_PRODUCT, sku=sku, input=fields, key=key)


def history_of(company: Company, product_id: str, who: str = "auditor") -> list[dict[str, Any]]:
    body = gql(company, who, PRODUCT_HISTORY, id=product_id)
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["recordHistory"]["edges"]]


def skus(connection: dict[str, Any]) -> list[str]:
    return [e["node"]["sku"] for e in connection["edges"]]


# queries


def test_a_created_product_is_read_and_listed_at_once_with_money_as_strings(company):
    product = create_product(company, listPrice="99.5")

    read = gql(
        company,
        "rep_a",
        f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} createdAt updatedAt }} }}",
        id=product["id"],
    )
    listed = gql(
        company,
        "rep_a",
        f"{{ products {{ edges {{ node {{ {PRODUCT_FIELDS} }} cursor }} "
        "pageInfo { hasNextPage endCursor } } }",
    )

    assert product == {
        "id": product["id"],
        "sku": "WID-1",
        "name": "Widget",
        "listPrice": "99.50",
        "unitCost": "40.00",
        "floorPrice": "80.00",
        "currency": "EUR",
        "active": True,
        "version": 1,
    }
    node = read["data"]["product"]
    assert {k: v for k, v in node.items() if k not in ("createdAt", "updatedAt")} == product
    assert node["createdAt"] == node["updatedAt"]
    connection = listed["data"]["products"]
    assert [e["node"] for e in connection["edges"]] == [product]
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": connection["edges"][0]["cursor"],
    }


def test_a_product_is_found_by_its_sku_whatever_its_case(company):
    product = create_product(company, sku="WID-1")
    query = "query($sku: String!) { productBySku(sku: $sku) { id sku } }"

    found = gql(company, "rep_a", query, sku="wid-1")
    missing = gql(company, "rep_a", query, sku="NOPE-1")
    malformed = gql(company, "rep_a", query, sku="no spaces")

    assert found["data"]["productBySku"] == {"id": product["id"], "sku": "WID-1"}
    assert missing == {"data": {"productBySku": None}}
    assert codes(malformed) == ["validation_failed"]
    assert [e["field"] for e in malformed["errors"][0]["extensions"]["errors"]] == ["sku"]


def test_an_unknown_product_is_not_found(company):
    for product_id in ("not-a-uuid", "00000000-0000-4000-8000-00000000abcd"):
        body = gql(company, "rep_a", "query($id: ID!) { product(id: $id) { id } }", id=product_id)
        assert body["data"] is None
        assert codes(body) == ["not_found"]


def test_pages_resume_after_the_end_cursor_in_the_sort_asked_for(company):
    for sku, name in (("B-2", "Bolt"), ("A-9", "Anchor"), ("C-1", "Widget bracket")):
        create_product(company, sku=sku, name=name)
    query = """query($after: String) {
      products(first: 2, after: $after, sort: "-sku") {
        edges { node { sku } } pageInfo { hasNextPage endCursor } }
    }"""

    first = gql(company, "rep_a", query)["data"]["products"]
    rest = gql(company, "rep_a", query, after=first["pageInfo"]["endCursor"])["data"]["products"]
    by_name = gql(company, "rep_a", "{ products { edges { node { sku } } } }")

    assert (skus(first), first["pageInfo"]["hasNextPage"]) == (["C-1", "B-2"], True)
    assert (skus(rest), rest["pageInfo"]["hasNextPage"]) == (["A-9"], False)
    assert skus(by_name["data"]["products"]) == ["A-9", "B-2", "C-1"]


def test_a_bad_sort_or_page_size_is_a_validation_failure(company):
    bad_sort = gql(company, "rep_a", '{ products(sort: "list_price") { edges { cursor } } }')
    too_many = gql(company, "rep_a", "{ products(first: 201) { edges { cursor } } }")

    assert codes(bad_sort) == ["validation_failed"]
    assert codes(too_many) == ["validation_failed"]
    assert [e["field"] for e in too_many["errors"][0]["extensions"]["errors"]] == ["first"]


def test_the_filter_searches_sku_and_name_and_picks_active_ones(company):
    create_product(company, sku="B-2", name="Bolt")
    create_product(company, sku="A-9", name="Anchor")
    old = create_product(company, sku="C-1", name="Widget bracket")
    gone = gql(
        company, "admin", "mutation($id: ID!) { discontinueProduct(id: $id) { id } }", id=old["id"]
    )
    assert "errors" not in gone, gone
    query = """query($filter: ProductFilter) {
      products(filter: $filter, sort: "sku") { edges { node { sku active } } }
    }"""

    def listed(**filter: Any) -> list[str]:
        body = gql(company, "rep_a", query, filter=filter)
        assert "errors" not in body, body
        return skus(body["data"]["products"])

    assert listed() == ["A-9", "B-2"]
    assert listed(active=False) == ["C-1"]
    assert listed(active=None) == ["A-9", "B-2", "C-1"]
    assert listed(q="b-") == ["B-2"]
    assert listed(q="widget") == []
    assert listed(q="widget", active=None) == ["C-1"]
    assert codes(gql(company, "rep_a", query, filter={"q": ""})) == ["validation_failed"]


def test_the_past_is_read_by_version_or_as_of(company):
    product = create_product(company)
    listed_at = company.clock.now()
    company.clock.advance(hours=1)
    changed = gql(
        company,
        "admin",
        """mutation($id: ID!) { changeProductPrices(id: $id, input: {listPrice: "120.00",
             unitCost: "45.00", floorPrice: "95.00", currency: "EUR"}) { version listPrice } }""",
        id=product["id"],
    )
    assert changed["data"]["changeProductPrices"] == {"version": 2, "listPrice": "120.00"}
    query = """query($id: ID!, $asOf: DateTime, $version: Int) {
      product(id: $id, asOf: $asOf, version: $version) { version listPrice floorPrice }
    }"""

    by_version = gql(company, "rep_a", query, id=product["id"], version=1)
    by_time = gql(company, "rep_a", query, id=product["id"], asOf=listed_at.isoformat())
    now = gql(company, "rep_a", query, id=product["id"])
    both = gql(company, "rep_a", query, id=product["id"], version=1, asOf=listed_at.isoformat())
    before = gql(company, "rep_a", query, id=product["id"], asOf="2000-01-01T00:00:00+00:00")

    first = {"version": 1, "listPrice": "100.00", "floorPrice": "80.00"}
    assert by_version["data"]["product"] == first
    assert by_time["data"]["product"] == first
    assert now["data"]["product"] == {"version": 2, "listPrice": "120.00", "floorPrice": "95.00"}
    assert codes(both) == ["validation_failed"]
    assert codes(before) == ["not_found"]


# mutations


def test_a_product_is_renamed_discontinued_and_reinstated(company):
    product = create_product(company)
    rename = """mutation($id: ID!, $name: String!) {
      updateProduct(id: $id, input: {name: $name}) { name version active } }"""
    discontinue = "mutation($id: ID!) { discontinueProduct(id: $id) { active version } }"
    reinstate = "mutation($id: ID!) { reinstateProduct(id: $id) { active version } }"

    renamed = gql(company, "admin", rename, id=product["id"], name="Widget Pro")
    stopped = gql(company, "admin", discontinue, id=product["id"])
    refused = gql(company, "admin", rename, id=product["id"], name="Old widget")
    again = gql(company, "admin", discontinue, id=product["id"])
    back = gql(company, "admin", reinstate, id=product["id"])
    twice = gql(company, "admin", reinstate, id=product["id"])

    assert renamed["data"]["updateProduct"] == {"name": "Widget Pro", "version": 2, "active": True}
    assert stopped["data"]["discontinueProduct"] == {"active": False, "version": 3}
    assert codes(refused) == ["discontinued"]
    assert refused["errors"][0]["extensions"]["status"] == 409
    assert codes(again) == ["discontinued"]
    assert back["data"]["reinstateProduct"] == {"active": True, "version": 4}
    assert codes(twice) == ["not_discontinued"]
    assert [e["type"] for e in history_of(company, product["id"])] == [
        "ProductListed",
        "ProductDetailsChanged",
        "ProductDiscontinued",
        "ProductReinstated",
    ]


def test_a_price_change_is_history_with_its_reason(company):
    product = create_product(company)
    changed = gql(
        company,
        "admin",
        """mutation($id: ID!, $input: ProductPricesInput!) {
             changeProductPrices(id: $id, input: $input, ifMatch: 1) {
               listPrice unitCost floorPrice currency version } }""",
        id=product["id"],
        input={
            "listPrice": "120",
            "unitCost": "45.00",
            "floorPrice": "95.5",
            "currency": "USD",
            "reason": "2027 price list",
        },
    )

    assert changed["data"]["changeProductPrices"] == {
        "listPrice": "120.00",
        "unitCost": "45.00",
        "floorPrice": "95.50",
        "currency": "USD",
        "version": 2,
    }
    entries = history_of(company, product["id"])
    assert [(e["type"], e["version"]) for e in entries] == [
        ("ProductListed", 1),
        ("ProductPricesChanged", 2),
    ]
    assert entries[0]["actor"] == company.ids["admin"]
    assert entries[0]["data"]["sku"] == "WID-1"
    assert entries[1]["data"] == {
        "list_price": "120.00",
        "unit_cost": "45.00",
        "floor_price": "95.50",
        "currency": "USD",
        "reason": "2027 price list",
    }


def test_an_upsert_lists_a_new_sku_then_records_only_what_changed(company):
    created = upsert(company)
    same = upsert(company, listPrice="100")
    revised = upsert(company, sku="wid-1", name="Widget Pro", floorPrice="85.00")

    first = created["data"]["upsertProductBySku"]
    assert first["created"] is True
    assert (first["product"]["sku"], first["product"]["version"]) == ("WID-1", 1)
    assert same["data"]["upsertProductBySku"]["created"] is False
    assert same["data"]["upsertProductBySku"]["product"]["version"] == 1
    second = revised["data"]["upsertProductBySku"]
    assert second["created"] is False
    assert second["product"]["id"] == first["product"]["id"]
    assert (second["product"]["name"], second["product"]["floorPrice"]) == ("Widget Pro", "85.00")
    assert second["product"]["version"] == 3
    assert [e["type"] for e in history_of(company, first["product"]["id"])] == [
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
    fields = product_input()
    del fields["sku"]
    response = client.post(
        "/graphql",
        json={"query": UPSERT_PRODUCT, "variables": {"sku": "ERP-1", "input": fields}},
        headers={"Authorization": f"Bearer {key.json()['token']}"},
    )

    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["upsertProductBySku"]["created"] is True
    product_id = body["data"]["upsertProductBySku"]["product"]["id"]
    entries = gql(
        company,
        "admin",
        "query($id: ID!) { recordHistory(type: PRODUCT, id: $id) { edges { node { actorType } } } }",
        id=product_id,
    )
    assert entries["data"]["recordHistory"]["edges"] == [{"node": {"actorType": "api_key"}}]
    own_history = client.post(
        "/graphql",
        json={"query": PRODUCT_HISTORY, "variables": {"id": product_id}},
        headers={"Authorization": f"Bearer {key.json()['token']}"},
    ).json()
    assert codes(own_history) == ["insufficient_scope"]


# refusals


def test_reps_and_managers_read_the_catalogue_but_cannot_change_it(company):
    product = create_product(company)
    for who in ("rep_a", "manager"):
        read = gql(company, who, "query($id: ID!) { product(id: $id) { sku } }", id=product["id"])
        refused = gql(company, who, CREATE_PRODUCT, input=product_input("NEW-1"))
        assert read["data"]["product"] == {"sku": "WID-1"}
        assert codes(refused) == ["forbidden"]
        assert refused["errors"][0]["extensions"]["status"] == 403
    rename = gql(
        company,
        "rep_a",
        'mutation($id: ID!) { updateProduct(id: $id, input: {name: "Mine"}) { name } }',
        id=product["id"],
    )
    assert codes(rename) == ["forbidden"]
    assert codes(upsert(company, "rep_a")) == ["forbidden"]
    listed = gql(
        company, "admin", "{ products(filter: {active: null}) { edges { node { sku } } } }"
    )
    assert skus(listed["data"]["products"]) == ["WID-1"]


def test_auditors_are_told_they_are_read_only(company):
    product = create_product(company)

    created = gql(company, "auditor", CREATE_PRODUCT, input=product_input("NEW-1"))
    stopped = gql(
        company,
        "auditor",
        "mutation($id: ID!) { discontinueProduct(id: $id) { active } }",
        id=product["id"],
    )

    assert codes(created) == ["read_only_role"]
    assert created["errors"][0]["extensions"]["status"] == 403
    assert codes(stopped) == ["read_only_role"]
    assert [e["type"] for e in history_of(company, product["id"])] == ["ProductListed"]


def test_a_sku_is_taken_whatever_its_case(company):
    create_product(company, sku="WID-1")
    for sku in ("WID-1", "wid-1"):
        duplicate = gql(company, "admin", CREATE_PRODUCT, input=product_input(sku, name="Copy"))
        assert duplicate["data"] is None
        assert codes(duplicate) == ["sku_taken"]
        assert duplicate["errors"][0]["extensions"]["status"] == 409
    listed = gql(
        company, "admin", "{ products(filter: {active: null}) { edges { node { name } } } }"
    )
    assert [e["node"]["name"] for e in listed["data"]["products"]["edges"]] == ["Widget"]


def test_invalid_input_names_the_camel_case_fields(company):
    by_model = gql(
        company,
        "admin",
        CREATE_PRODUCT,
        input=product_input("bad sku", name="", listPrice="100.001", currency="eur"),
    )
    by_policy = gql(company, "admin", CREATE_PRODUCT, input=product_input(floorPrice="100.01"))
    product = create_product(company)
    reprice = gql(
        company,
        "admin",
        """mutation($id: ID!) { changeProductPrices(id: $id, input: {listPrice: "10",
             unitCost: "1", floorPrice: "0", currency: "EUR"}) { version } }""",
        id=product["id"],
    )
    bad_upsert = upsert(company, sku="has space", name="")

    def fields(body: dict[str, Any]) -> set[str]:
        assert codes(body) == ["validation_failed"], body
        assert body["errors"][0]["extensions"]["status"] == 422
        return {e["field"] for e in body["errors"][0]["extensions"]["errors"]}

    assert fields(by_model) == {"sku", "name", "listPrice", "currency"}
    assert fields(by_policy) == {"floorPrice"}
    assert fields(reprice) == {"floorPrice"}
    assert fields(bad_upsert) == {"sku"}
    assert [e["type"] for e in history_of(company, product["id"])] == ["ProductListed"]
    assert skus(
        gql(company, "admin", "{ products { edges { node { sku } } } }")["data"]["products"]
    ) == ["WID-1"]


def test_a_stale_if_match_is_a_version_conflict(company):
    product = create_product(company)
    rename = """mutation($id: ID!, $name: String!, $v: Int) {
      updateProduct(id: $id, input: {name: $name}, ifMatch: $v) { name version } }"""

    changed = gql(company, "admin", rename, id=product["id"], name="Widget Pro", v=1)
    stale = gql(company, "admin", rename, id=product["id"], name="Widget Max", v=1)
    stale_stop = gql(
        company,
        "admin",
        "mutation($id: ID!) { discontinueProduct(id: $id, ifMatch: 1) { active } }",
        id=product["id"],
    )

    assert changed["data"]["updateProduct"] == {"name": "Widget Pro", "version": 2}
    for body in (stale, stale_stop):
        assert codes(body) == ["version_conflict"]
        assert body["errors"][0]["extensions"]["status"] == 412
        assert body["errors"][0]["extensions"]["current_version"] == 2
    current = gql(
        company, "rep_a", "query($id: ID!) { product(id: $id) { name active } }", id=product["id"]
    )
    assert current["data"]["product"] == {"name": "Widget Pro", "active": True}


def test_a_retried_create_with_the_same_key_is_recorded_once(company):
    first = create_product(company, key="create-wid-1")
    retried = create_product(company, key="create-wid-1")
    other = gql(company, "admin", CREATE_PRODUCT, input=product_input("WID-2"), key="create-wid-1")

    assert retried == first
    assert codes(other) == ["idempotency_key_reused"]
    assert [(e["type"], e["version"]) for e in history_of(company, first["id"])] == [
        ("ProductListed", 1)
    ]
    listed = gql(company, "admin", "{ products { edges { node { id } } } }")
    assert [e["node"]["id"] for e in listed["data"]["products"]["edges"]] == [first["id"]]


def test_a_retried_upsert_with_the_same_key_still_says_it_created(company):
    first = upsert(company, key="erp-wid-1")
    retried = upsert(company, key="erp-wid-1")
    revised = upsert(company, name="Widget Pro", key="erp-wid-1b")
    revised_again = upsert(company, name="Widget Pro", key="erp-wid-1b")

    assert first["data"]["upsertProductBySku"]["created"] is True
    assert retried == first
    assert revised["data"]["upsertProductBySku"]["created"] is False
    assert revised_again == revised
    product_id = first["data"]["upsertProductBySku"]["product"]["id"]
    assert [e["type"] for e in history_of(company, product_id)] == [
        "ProductListed",
        "ProductDetailsChanged",
    ]


def test_product_history_is_read_by_everyone_and_pages_by_version(company):
    product = create_product(company)
    for name in ("Widget 2", "Widget 3"):
        gql(
            company,
            "admin",
            "mutation($id: ID!, $n: String!) { updateProduct(id: $id, input: {name: $n}) { id } }",
            id=product["id"],
            n=name,
        )
    query = """query($id: ID!, $after: String) {
      recordHistory(type: PRODUCT, id: $id, first: 2, after: $after) {
        edges { node { type version data } cursor } pageInfo { hasNextPage endCursor } }
    }"""

    page = gql(company, "auditor", query, id=product["id"])["data"]["recordHistory"]
    rest = gql(company, "auditor", query, id=product["id"], after=page["pageInfo"]["endCursor"])
    by_rep = gql(company, "rep_a", query, id=product["id"])
    unknown = gql(company, "auditor", query, id="00000000-0000-4000-8000-00000000abcd")

    assert [e["node"]["version"] for e in page["edges"]] == [1, 2]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": "2"}
    last = rest["data"]["recordHistory"]
    assert [(e["node"]["type"], e["node"]["data"]) for e in last["edges"]] == [
        ("ProductDetailsChanged", {"changes": {"name": "Widget 3"}})
    ]
    assert last["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["version"] for e in by_rep["data"]["recordHistory"]["edges"]] == [1, 2]
    assert codes(unknown) == ["not_found"]
