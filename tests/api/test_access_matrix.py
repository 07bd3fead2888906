"""The access-control matrix (OWASP API1/API5): every REST route and GraphQL root field, called
by every role on a record of its own and on another team's, answers as tests/api/access_rules.py
says; a route or field without a rule fails the suite.

One world per store and module (building it per test would cost minutes): the cases run in a
fixed order, and commands that would spoil the shared records (transfer, erase, archive, cancel,
void, revoke, delete, ...) make a fresh record per case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from crm_api.api.graphql.schema import schema
from crm_api.app import create_app
from crm_api.settings import Settings
from tests.api.access_rules import (
    FORBIDDEN,
    GRAPHQL_FIELDS,
    GRAPHQL_SUBSCRIPTIONS,
    GRAPHQL_TRANSPORT,
    NOT_FOUND,
    OK,
    PUBLIC,
    REF,
    REST_RULES,
    ROLES,
    Answer,
    Policy,
    World,
    call_for,
    fill_path,
    gql_rule,
    open_world,
    rest_routes,
    send,
    send_gql,
    sides_for,
)
from tests.conftest import STORES

GRAPHQL = schema._schema


def _app(settings: Settings | None = None) -> Any:
    settings = settings or Settings(database_url="sqlite://", jwt_secret="x" * 44)
    return create_app(settings, run_workers=False, listen=False)


ROUTES = [r for r in rest_routes(_app()) if r not in GRAPHQL_TRANSPORT]


def _root_fields(kind: str) -> dict[str, Any]:
    root = {"query": GRAPHQL.query_type, "mutation": GRAPHQL.mutation_type}.get(kind)
    if kind == "subscription":
        root = GRAPHQL.subscription_type
    return dict(root.fields) if root is not None else {}


# completeness: the rule table and the app agree


def test_every_rest_route_has_a_rule_and_every_rule_a_route():
    declared = set(ROUTES)
    ruled = set(REST_RULES)
    assert sorted(declared - ruled) == [], "routes without an access rule"
    assert sorted(ruled - declared) == [], "rules for routes the app no longer has"


def test_every_graphql_root_field_has_a_rule_and_every_rule_a_field():
    fields = set(_root_fields("query")) | set(_root_fields("mutation"))
    assert sorted(fields - set(GRAPHQL_FIELDS)) == [], "GraphQL fields without an access rule"
    assert sorted(set(GRAPHQL_FIELDS) - fields) == [], "rules for fields the schema lacks"
    assert set(_root_fields("subscription")) == set(GRAPHQL_SUBSCRIPTIONS)
    for name in GRAPHQL_FIELDS:
        assert gql_rule(name) in REST_RULES.values()


def test_every_rule_names_an_outcome_for_every_role_and_side():
    for route, rule in REST_RULES.items():
        assert set(rule) == set(ROLES), route
        for outcomes in rule.values():
            assert len(outcomes) == 2 and all(
                o in (OK, FORBIDDEN, NOT_FOUND, REF) for o in outcomes
            )


# the world: one per store, built through the API


@pytest.fixture(scope="module", params=STORES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with open_world(request.param, tmp_path_factory.mktemp("matrix"), request) as built:
        yield built


def check(answer: Answer, expected: Any, conflicts: tuple[int, ...]) -> None:
    if expected == OK:
        assert 200 <= answer.status < 300 or answer.status in conflicts, answer.text
    elif expected == REF:
        assert (answer.status, answer.code) == (422, "validation_failed"), answer.text
    elif expected == NOT_FOUND:
        assert (answer.status, answer.code) == (404, "not_found"), answer.text
    else:
        assert answer.status == expected, answer.text
        assert answer.code, answer.text


REST_CASES = [
    pytest.param(method, path, role, side, id=f"{method} {path} {role} {side}")
    for method, path in ROUTES
    if (method, path) in REST_RULES
    for role in ROLES
    for side in sides_for(method, path)
]


@pytest.mark.parametrize(("method", "path", "role", "side"), REST_CASES)
def test_rest(world: World, method: str, path: str, role: str, side: str):
    rule: Policy = REST_RULES[(method, path)]
    expected = rule[role][0 if side == "own" else 1]
    check(send(world, method, path, role, side), expected, call_for(method, path).conflicts)


def test_without_a_token_only_the_public_routes_answer(world: World):
    refused = []
    for method, path in ROUTES:
        url = fill_path(world, path, "own", None)
        response = world.client.request(method, url)
        public = REST_RULES[(method, path)] is PUBLIC
        if public != (response.status_code != 401):
            refused.append((method, path, response.status_code))
        elif not public:
            assert response.json()["code"] == "unauthenticated", (method, path)
    assert refused == []


def _arg_types(operation: str, name: str) -> dict[str, str]:
    field = _root_fields(operation)[name]
    return {arg: str(value.type) for arg, value in field.args.items()}


GRAPHQL_CASES = [
    pytest.param(operation, name, role, side, id=f"{name} {role} {side}")
    for operation in ("query", "mutation")
    for name in _root_fields(operation)
    if name in GRAPHQL_FIELDS
    for role in ROLES
    for side in ("own", "other")
    if side == "own" or "{" in GRAPHQL_FIELDS[name].route or operation == "mutation"
]


@pytest.mark.parametrize(("operation", "name", "role", "side"), GRAPHQL_CASES)
def test_graphql(world: World, operation: str, name: str, role: str, side: str):
    expected = gql_rule(name)[role][0 if side == "own" else 1]
    method, path = GRAPHQL_FIELDS[name].route.split(" ", 1)
    answer = send_gql(world, operation, name, role, side, _arg_types(operation, name))
    check(answer, expected, call_for(method, path).conflicts)
