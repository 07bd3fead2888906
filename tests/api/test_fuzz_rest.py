"""schemathesis against the committed REST contract (openapi/openapi.json), in-process.

Every operation is called with generated input (valid and invalid) as an admin, against a
small world of records made through the API, so that path parameters sometimes name real
records. Each response must:

- not be a server error (`not_a_server_error`);
- have a status code the document lists for the operation (`status_code_conformance`);
- have a documented content type (`content_type_conformance`);
- have a body that matches the documented schema for that status (`response_schema_conformance`).

Stateful: the document has no OpenAPI `links`; schemathesis infers them (from the response
schemas, the path parameters and `Location` headers) and `as_state_machine()` chains creates
with the item routes that take the created record's id.

`make test` runs a bounded smoke on each store (CRM_FUZZ_EXAMPLES examples per operation,
default 3; CRM_FUZZ_STEPS steps per stateful scenario, default 8); `make fuzz` runs many more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.quote_support import Sales
from tests.support import Company

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "3"))
STEPS = int(os.environ.get("CRM_FUZZ_STEPS", "8"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


class InProcess:
    """The app as schemathesis calls it: the `client` fixture owns the app's lifespan (it
    opened the services and closes them), so the lifespan schemathesis starts is a no-op."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


class World:
    """A company (users, a team), two products, three accounts with contacts, a quote, an
    order and an invoice, all made through the public API; `ids` maps a path parameter's
    name to the ids of real records."""

    def __init__(self, client: TestClient, company: Company) -> None:
        self.client = client
        self.company = company
        self.ids: dict[str, list[str]] = {}

    def remember(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        self.ids.setdefault(name, []).append(str(record["id"]))
        return record

    def post(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.company.as_("admin"))
        assert response.status_code == status, response.text
        result: dict[str, Any] = response.json()
        return result

    @classmethod
    def build(cls, client: TestClient, company: Company) -> World:
        world = cls(client, company)
        sales = Sales.build(company)
        for product in sales.products.values():
            world.remember("product_id", product)
        for key in ("manager", "rep_a", "rep_b", "rep_c", "agent"):
            world.ids.setdefault("user_id", []).append(company.ids[key])
        world.ids["team_id"] = [company.ids["team"]]
        world.ids["owner_id"] = [company.ids["rep_a"], company.ids["rep_c"]]
        accounts = [
            sales.account,
            company.open_account("rep_c", "Globex", industry="Manufacturing"),
            company.open_account("rep_b", "Initech", phone="+49 30 1234567"),
        ]
        for index, account in enumerate(accounts):
            world.remember("account_id", account)
            world.remember(
                "contact_id",
                world.post(
                    "/api/v1/contacts",
                    {
                        "account_id": account["id"],
                        "name": f"Contact {index}",
                        "email": f"contact{index}@example.com",
                    },
                ),
            )
        world.remember("quote_id", sales.create("rep_a"))
        order = world.post(
            "/api/v1/orders",
            {
                "source": "erp",
                "external_id": "fuzz-1",
                "account_id": sales.account["id"],
                "ordered_at": datetime(2025, 12, 1, tzinfo=UTC).isoformat(),
                "currency": "EUR",
                "lines": [sales.line("WID-1", "95.00", "2"), sales.line("GAD-1", "48.00")],
            },
        )
        world.remember("order_id", order)
        world.remember(
            "invoice_id",
            world.post(
                "/api/v1/invoices",
                {
                    "number": "INV-1",
                    "amount": "238.00",
                    "due_at": "2026-01-31",
                    "account_id": sales.account["id"],
                    "order_id": order["id"],
                    "currency": "EUR",
                },
            ),
        )
        return world

    def config(self) -> SchemathesisConfig:
        return SchemathesisConfig.from_dict(
            {
                "headers": {"Authorization": f"Bearer {self.company.tokens['admin']}"},
            }
        )


@pytest.fixture
def world(client: TestClient, company: Company) -> World:
    return World.build(client, company)


@pytest.fixture
def rest_schema(world: World, client: TestClient) -> Iterator[Any]:
    schema = schemathesis.openapi.from_path(OPENAPI, config=world.config())
    schema.app = InProcess(client.app)
    yield schema


def fuzz(operation: Any, world: World) -> None:
    """EXAMPLES generated cases of one operation, valid and invalid (positive and negative
    generation); half the time a path parameter names a real record (else 404/422)."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases, data=st.data())
    @FUZZ_SETTINGS
    def run(case: Any, data: st.DataObject) -> None:
        for name in list(case.path_parameters or {}):
            real = world.ids.get(name)
            if real and data.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(real), label=name)
        case.call_and_validate(checks=CHECKS)

    run()


def test_every_operation_answers_within_its_contract(rest_schema: Any, world: World) -> None:
    """All operations run (none stops at the first failure); the assertion lists each
    operation that failed with schemathesis's report (the request as curl, the check)."""
    failures: dict[str, str] = {}
    operations = 0
    for result in rest_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            fuzz(operation, world)
        except (Exception, FailureGroup) as error:  # FailureGroup: a BaseExceptionGroup
            failures[operation.label] = f"{type(error).__name__}: {error}"
    assert operations >= 150, f"only {operations} operations in {OPENAPI}"
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def test_chained_operations_answer_within_their_contract(rest_schema: Any) -> None:
    """Creates feed their ids to the item routes (links inferred by schemathesis)."""
    chained = checked_machine(rest_schema, CHECKS)
    assert chained.bundles, "schemathesis inferred no links between operations"
    run_machine(chained)


# Found by the fuzzers, kept as plain regressions (the fuzzers reach them only by chance).

CALENDAR_ENDS = {
    "date": ["0001-01-01", "9999-12-31"],
    "date-time": [
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
    ],
}


def _format_of(schema: dict[str, Any]) -> str | None:
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("format") in CALENDAR_ENDS:
            return str(option["format"])
    return None


def test_calendar_ends_and_naive_instants_in_query_filters_never_fail(
    client: TestClient, world: World
) -> None:
    """Each GET's date and date-time query parameters at the ends of the calendar answer
    200, 404 (a record read as of before it existed) or a 422 naming the parameter (they used to overflow day arithmetic: 500); a naive
    instant means UTC (it used to reach the store and fail: 500)."""
    document = json.loads(OPENAPI.read_text())
    headers = world.company.as_("admin")
    tried = rejected = 0
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        url = path
        for name, ids in world.ids.items():
            url = url.replace("{" + name + "}", ids[0])
        if "{" in url:
            continue
        for parameter in operation.get("parameters", []):
            kind = _format_of(parameter["schema"]) if parameter["in"] == "query" else None
            if kind is None:
                continue
            values = CALENDAR_ENDS[kind] + (["2026-01-01T00:00:00"] if kind == "date-time" else [])
            for value in values:
                response = client.get(url, params={parameter["name"]: value}, headers=headers)
                tried += 1
                where = (path, parameter["name"], value, response.text[:300])
                assert response.status_code in (200, 404, 422), where
                if response.status_code == 422:
                    rejected += 1
                    fields = [e["field"] for e in response.json()["errors"]]
                    assert parameter["name"] in fields, where
                    assert value.startswith(("0001", "9999")), where
    assert tried >= 60 and rejected >= 20, (tried, rejected)


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_malformed_content_length_is_400_not_500(client: TestClient, length: str) -> None:
    response = client.get("/api/v1/accounts", headers={"Content-Length": length})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "bad_request"


def test_inbound_email_that_is_not_utf8_is_422_not_500(
    client: TestClient, company: Company
) -> None:
    response = client.post(
        "/api/v1/inbound/email",
        content=b"\x80\x8d not utf-8",
        headers={**company.as_("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": "body", "message": "is not valid JSON"}]


def checked_machine(schema: Any, checks: list[Any]) -> Any:
    """The schema's state machine, each response validated with `checks`."""
    machine = schema.as_state_machine()

    class Chained(machine):  # type: ignore[misc, valid-type]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs or None)

    return Chained


def run_machine(machine: Any) -> None:
    machine.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
