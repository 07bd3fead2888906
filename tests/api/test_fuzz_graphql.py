"""schemathesis against the committed GraphQL contract (openapi/schema.graphql), in-process.

Every query and mutation field is called with generated arguments and selections as an admin,
against the same small world of records as the REST fuzz. Each response must:

- not be a server error: no 5xx, and no error whose `extensions` say internal
  (`code` internal_error / INTERNAL_SERVER_ERROR, or `status` ≥ 500); our errors always carry
  `extensions.code`, so an error without one is a failure too;
- match the schema (`response_schema_conformance`: no null in a non-null field).

Stateful: schemathesis chains mutations that return an object with an `id` to the queries and
mutations that take one (the type graph is the links).

`make test` runs a bounded smoke on each store (CRM_FUZZ_EXAMPLES examples per field, default
3; CRM_FUZZ_STEPS steps per stateful scenario); `make fuzz` runs many more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.test_fuzz_rest import InProcess, World, checked_machine, run_machine
from tests.support import Company

SDL = Path(__file__).resolve().parents[2] / "openapi" / "schema.graphql"
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "3"))
STEPS = int(os.environ.get("CRM_FUZZ_STEPS", "8"))

INTERNAL_CODES = {"internal_error", "INTERNAL_SERVER_ERROR"}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)

# Our custom scalars (Date, DateTime and UUID have schemathesis strategies already): decimals as
# strings, valid or not; JSON as any JSON literal.
_DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.sampled_from(["0", "-1", "1e400", "abc", "", "1" * 40]),
)
schemathesis.graphql.scalar("Decimal", _DECIMALS.map(nodes.String))
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.text(max_size=20).map(nodes.String),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.booleans().map(nodes.Boolean),
    ),
)


def internal_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """No GraphQL error may be internal or uncoded (our errors always carry a code)."""
    assert response.status_code < 500, f"status {response.status_code}"
    try:
        payload = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"not JSON: {response.content[:200]!r}") from error
    bad = [
        error
        for error in (payload.get("errors") or [])
        if (error.get("extensions") or {}).get("code") in INTERNAL_CODES
        or not (error.get("extensions") or {}).get("code")
        or int((error.get("extensions") or {}).get("status") or 0) >= 500
    ]
    assert not bad, json.dumps(bad, indent=1)[:2000]
    return None


# Not schemathesis's `not_a_server_error`: for GraphQL it counts every error raised in a
# resolver as a server error unless its code is one of Apollo's client codes, so our 404/403/422
# (`not_found`, `forbidden`, `validation_failed`) would all fail it. `internal_errors` checks the
# status and our codes instead.
CHECKS = [internal_errors, response_schema_conformance]


@pytest.fixture
def graphql_schema(client: TestClient, company: Company) -> Iterator[Any]:
    World.build(client, company)  # records for the queries to find and the mutations to change
    config = SchemathesisConfig.from_dict(
        {
            "base-url": "http://testserver/graphql",
            "headers": {"Authorization": f"Bearer {company.tokens['admin']}"},
        }
    )
    schema = schemathesis.graphql.from_path(SDL, config=config)
    schema.app = InProcess(client.app)
    yield schema


def fuzz(operation: Any) -> None:
    """EXAMPLES generated calls of one field: valid queries and invalid ones (arguments of the
    wrong type, missing, unknown: schemathesis's negative generation)."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @FUZZ_SETTINGS
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


def test_every_field_answers_without_internal_errors(graphql_schema: Any) -> None:
    """All query and mutation fields run (none stops at the first failure); the assertion
    lists each field that failed with schemathesis's report."""
    failures: dict[str, str] = {}
    fields = 0
    for result in graphql_schema.get_all_operations():
        operation = result.ok()
        fields += 1
        try:
            fuzz(operation)
        except (Exception, FailureGroup) as error:  # FailureGroup: a BaseExceptionGroup
            failures[operation.label] = f"{type(error).__name__}: {error}"
    assert fields >= 100, f"only {fields} fields in {SDL}"
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def test_chained_mutations_answer_without_internal_errors(graphql_schema: Any) -> None:
    chained = checked_machine(graphql_schema, CHECKS)
    assert chained._producer_rule_names, "schemathesis found no mutation returning an id"
    run_machine(chained)


# Found by the fuzzers, kept as plain regressions.


@pytest.mark.parametrize(
    ("query", "refused"),
    [
        ('{ receivables(asOfDate: "9999-12-31") { edges { cursor } } }', True),
        ('{ receivables(asOfDate: "0001-01-01") { edges { cursor } } }', True),
        ('{ overdueInvoices(asOfDate: "9999-12-31") { edges { cursor } } }', True),
        (
            '{ accounts(filter: {updatedSince: "0001-01-01T00:00:00+14:00"}) { edges { cursor } } }',
            True,
        ),
        ('{ accounts(filter: {updatedSince: "2026-01-01T00:00:00"}) { edges { cursor } } }', False),
        ('{ receivables(asOfDate: "2026-01-31") { edges { cursor } } }', False),
    ],
)
def test_calendar_ends_are_refused_and_naive_instants_are_utc(
    client: TestClient, company: Company, query: str, refused: bool
) -> None:
    """These used to be internal errors (day arithmetic overflowing; a naive instant reaching
    the store)."""
    response = client.post("/graphql", json={"query": query}, headers=company.as_("admin"))
    assert response.status_code == 200, response.text
    errors = response.json().get("errors") or []
    if refused:
        assert [e["extensions"]["code"] for e in errors] == ["bad_request"], errors
        assert "must be between 1900-01-01 and 8999-12-31" in errors[0]["message"], errors
    else:
        assert errors == [], errors
        assert response.json()["data"] is not None


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (
            'mutation { updateProduct(id: "x", input: {name: "a"}, idempotencyKey: "a\\u0000") '
            "{ name } }",
            None,
        ),
        ("query ($q: String) { accounts(filter: {q: $q}) { edges { cursor } } }", {"q": "a\x00"}),
    ],
)
def test_nul_characters_are_refused_before_they_reach_the_store(
    client: TestClient, company: Company, query: str, variables: dict[str, Any] | None
) -> None:
    """A NUL in a GraphQL string used to reach PostgreSQL, which cannot store it: internal."""
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=company.as_("admin")
    )
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["invalid_characters"], errors
