"""Mass assignment (OWASP API3): fields the server owns — ids, versions, states, approvals,
owners outside a transfer, totals, timestamps, who did it — can't be set by clients.

REST bodies are Strict (unknown fields are refused), so each server-owned field sent to a create
or update route is refused with 422 naming it, and nothing is recorded. The server-owned fields
of a route are those its answer shows that its request doesn't take (from the OpenAPI document),
plus a few names a client might try anywhere. GraphQL: such fields don't exist in the inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from graphql import GraphQLInputObjectType, GraphQLList, GraphQLNonNull

from crm_api.api.graphql.schema import schema
from tests.api.access_rules import (
    CALLS,
    GRAPHQL_FIELDS,
    World,
    call_for,
    camel,
    fill_path,
    open_world,
)
from tests.api.test_access_matrix import _app
from tests.conftest import STORES

ALWAYS = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "recorded_at",
    "actor",
    "deleted",
    "approved_by",
    "approved_at",
}
"""Names a client might try on any record; no request takes them."""

VALUES = {
    "id": str(uuid4()),
    "version": 99,
    "revision": 99,
    "state": "approved",
    "status": "approved",
    "active": False,
    "archived": True,
    "approved_by": "policy",
    "approved_at": "2020-01-01T00:00:00Z",
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "amount": "0.01",
    "margin": "1000000.00",
    "total": "1000000.00",
}
"""Plausible values, so a field is refused for what it is, not for its type."""


def _properties(document: dict[str, Any], schema_: dict[str, Any] | None) -> set[str] | None:
    """The property names of a JSON body's schema (through $ref and nullable anyOf)."""
    if not schema_:
        return None
    if "$ref" in schema_:
        name = schema_["$ref"].rsplit("/", 1)[-1]
        return _properties(document, document["components"]["schemas"][name])
    for option in schema_.get("anyOf", []):
        found = _properties(document, option)
        if found is not None:
            return found
    if "properties" in schema_:
        return set(schema_["properties"])
    return None


def _writes() -> list[tuple[str, str, set[str]]]:
    """(METHOD, path, server-owned fields) for every route that takes a JSON object body."""
    document = _app().openapi()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            request = _properties(document, content.get("application/json", {}).get("schema"))
            if request is None:
                continue
            answer: set[str] = set()
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    schema_ = response.get("content", {}).get("application/json", {})
                    answer |= _properties(document, schema_.get("schema")) or set()
            owned = (answer | ALWAYS) - request
            found.append((method.upper(), path, owned))
    return sorted(found, key=lambda w: (w[1], w[0]))


WRITES = _writes()


@pytest.fixture(scope="module", params=STORES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with open_world(request.param, tmp_path_factory.mktemp("mass"), request) as built:
        yield built


def test_every_write_route_with_a_body_is_covered():
    """A new create or update route gets checked without anyone adding it here; a route the
    matrix can't call with a valid body can't be checked, so it must have one."""
    assert len(WRITES) > 60
    missing = [(m, p) for m, p, _ in WRITES if (m, p) not in CALLS]
    assert missing == [], "give these routes a valid body in access_rules.CALLS"


@pytest.mark.parametrize(
    ("method", "path", "owned"), [pytest.param(*w, id=f"{w[0]} {w[1]}") for w in WRITES]
)
def test_server_owned_fields_are_refused_and_nothing_is_recorded(
    world: World, method: str, path: str, owned: set[str]
):
    call = call_for(method, path)
    body = call.body(world, "own") if callable(call.body) else dict(call.body or {})
    assert isinstance(body, dict)
    url = fill_path(world, path, "own", world.fresh(call.fresh, "own") if call.fresh else None)
    head = world.services.app.head()
    headers = {**world.headers("admin"), **(call.headers(world, "own") if call.headers else {})}

    sent = {**body, **{field: VALUES.get(field, "x") for field in owned}}
    response = world.client.request(method, url, json=sent, headers=headers)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    named = {e["field"] for e in problem["errors"]}
    assert named == owned, f"refused {sorted(named)}, server-owned {sorted(owned)}"
    assert world.services.app.head() == head, "a refused request recorded events"


def test_each_field_alone_is_refused_too(world: World):
    """One field at a time on the records people fight over: the owner of an account outside
    a transfer, a quote's approval, state and totals, an order's status and amounts."""
    quote = world.rec("own", "quote")
    account = world.rec("own", "account")
    order = world.rec("own", "order")
    cases = [
        ("PATCH", f"/api/v1/accounts/{account['id']}", {"owner_id": world.uid("rep_c")}),
        ("PATCH", f"/api/v1/accounts/{account['id']}", {"version": 1}),
        ("POST", "/api/v1/quotes", {"state": "approved"}),
        ("POST", "/api/v1/quotes", {"approved_by": world.uid("manager")}),
        ("POST", "/api/v1/quotes", {"amount": "1.00"}),
        ("POST", f"/api/v1/quotes/{quote['id']}/revise", {"margin": "99.00"}),
        ("POST", f"/api/v1/quotes/{quote['id']}/revise", {"revision": 1}),
        ("PATCH", f"/api/v1/orders/{order['id']}", {"status": "cancelled"}),
        ("PATCH", f"/api/v1/orders/{order['id']}", {"amount": "0.01"}),
        ("PATCH", f"/api/v1/orders/{order['id']}", {"external_id": "stolen"}),
    ]
    base = {"POST /api/v1/quotes": CALLS[("POST", "/api/v1/quotes")].body}
    for method, url, extra in cases:
        build = base.get(f"{method} {url}")
        body = build(world, "own") if callable(build) else {}
        head = world.services.app.head()
        response = world.client.request(
            method, url, json={**body, **extra}, headers=world.headers("rep")
        )
        assert response.status_code == 422, (url, extra, response.text)
        assert [e["field"] for e in response.json()["errors"]] == list(extra), response.text
        assert world.services.app.head() == head
    read = world.client.get(f"/api/v1/accounts/{account['id']}", headers=world.headers("admin"))
    assert read.json()["owner_id"] == world.uid("rep_a")


# GraphQL: the inputs have no such fields at all


def _input_fields(type_: Any, seen: set[str] | None = None) -> set[str]:
    """Every field name reachable in an input type (nested inputs included)."""
    seen = seen if seen is not None else set()
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLInputObjectType) or type_.name in seen:
        return set()
    seen.add(type_.name)
    names = set(type_.fields)
    for field in type_.fields.values():
        names |= _input_fields(field.type, seen)
    return names


@pytest.mark.parametrize("name", sorted(schema._schema.mutation_type.fields))
def test_graphql_mutations_take_no_server_owned_field(name: str):
    """A mutation's arguments and input fields include none of the server-owned fields of the
    REST route it mirrors (`id` and `ifMatch` name the record and its version, nothing more)."""
    mutation = schema._schema.mutation_type.fields[name]
    method, path = GRAPHQL_FIELDS[name].route.split(" ", 1)
    owned = next((o for m, p, o in WRITES if (m, p) == (method, path)), ALWAYS)
    # the arguments that name the record, as the REST path does, set nothing
    naming = {"id", "ifMatch"} | {
        camel_name(part.strip("{}")) for part in path.split("/") if part.startswith("{")
    }
    takes: set[str] = set()
    for arg, value in mutation.args.items():
        takes |= _input_fields(value.type) | ({arg} - naming)
    forbidden = {camel_name(f) for f in owned - {"id"}}
    if name == "sync":  # commands carry their own (client-chosen) ids and expected versions
        forbidden -= {"version"}
    assert takes & forbidden == set(), f"{name} takes {sorted(takes & forbidden)}"


def camel_name(field: str) -> str:
    return str(next(iter(camel({field: None}))))
