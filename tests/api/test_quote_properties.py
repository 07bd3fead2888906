"""Random sequences of quote commands by different roles, through the REST API, checking after
every step what auditors and managers rely on:

- an approved, sent or accepted quote's current revision carries an approval of that revision;
- every line below floor was approved by a manager (never the policy, never an author) whose
  approval limit, as its user record stood when it approved, covered the deepest discount;
- the read model (the list) equals the fold of the quote's events (the record), and the
  auditor's trail agrees with both.

`make test` runs a bounded number of examples; `make fuzz` runs many more
(CRM_FUZZ_EXAMPLES, CRM_FUZZ_STEPS).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crm_api.app import create_app
from crm_api.application.services import Services
from crm_api.settings import Settings
from tests.quote_support import Sales
from tests.support import Company, FrozenClock

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "6"))
STEPS = int(os.environ.get("CRM_FUZZ_STEPS", "25"))

WRITERS = ("rep_a", "manager", "assistant")
DECIDERS = ("manager", "rep_a", "rep_b", "admin", "auditor")
PRICES = st.sampled_from(["100.00", "95.00", "90.00", "89.99", "88.00", "85.00", "80.00", "60.00"])
LIMITS = st.sampled_from(["0", "5", "12", "15", "20", "45"])
ALLOWED = {200, 201, 403, 404, 409, 412, 422, 428}


class QuoteMachine(RuleBasedStateMachine):
    quotes = Bundle("quotes")

    def __init__(self, open_store: Callable[[ExitStack], str]) -> None:
        super().__init__()
        self.stack = ExitStack()
        url = open_store(self.stack)
        config = Settings(database_url=url, jwt_secret="test-secret-" + "x" * 32)
        self.clock = FrozenClock()
        services = Services(config, self.clock)
        self.stack.callback(services.close)
        client = self.stack.enter_context(
            TestClient(
                create_app(config, clock=self.clock, services=services),
                raise_server_exceptions=False,
            )
        )
        self.company = Company.build(client, config, self.clock)
        self.sales = Sales.build(self.company)
        self.client = client
        self.position = 0

    def teardown(self) -> None:
        self.stack.close()

    # commands

    def _post(self, who: str, path: str, body: Any = None, if_match: int | None = None) -> Any:
        headers = self._as(who)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        response = self.client.post(path, json=body, headers=headers)
        assert response.status_code in ALLOWED, (path, response.status_code, response.text)
        if "X-Log-Position" in response.headers:
            self.position = max(self.position, int(response.headers["X-Log-Position"]))
        return response

    def _as(self, who: str) -> dict[str, str]:
        return self.company.as_(who, "rep_a" if who == "assistant" else None)

    def _current(self, quote_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/quotes/{quote_id}", headers=self._as("auditor"))
        assert response.status_code == 200, response.text
        return response.json()

    @rule(
        target=quotes, who=st.sampled_from(WRITERS), prices=st.lists(PRICES, min_size=1, max_size=3)
    )
    def create(self, who: str, prices: list[str]) -> str:
        lines = [
            self.sales.line("WID-1" if i % 2 == 0 else "GAD-1", p) for i, p in enumerate(prices)
        ]
        for line in lines:
            if line["product_id"] == self.sales.products["GAD-1"]["id"]:
                line["unit_price"] = str(
                    (Decimal(line["unit_price"]) / 2).quantize(Decimal("0.01"))
                )
        response = self._post(
            who,
            "/api/v1/quotes",
            {"account_id": self.sales.account["id"], "currency": "EUR", "lines": lines},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    @rule(quote=quotes, who=st.sampled_from(WRITERS), price=PRICES)
    def revise(self, quote: str, who: str, price: str) -> None:
        self._post(
            who, f"/api/v1/quotes/{quote}/revise", {"lines": [self.sales.line("WID-1", price)]}
        )

    @rule(quote=quotes, who=st.sampled_from(WRITERS))
    def submit(self, quote: str, who: str) -> None:
        self._post(who, f"/api/v1/quotes/{quote}/submit")

    @rule(
        quote=quotes, who=st.sampled_from(DECIDERS), stale=st.booleans(), off_by=st.integers(0, 1)
    )
    def approve(self, quote: str, who: str, stale: bool, off_by: int) -> None:
        current = self._current(quote)
        version = current["version"] - (1 if stale else 0)
        self._post(
            who,
            f"/api/v1/quotes/{quote}/approve",
            {"revision": current["revision"] + off_by},
            if_match=version,
        )

    @rule(quote=quotes, who=st.sampled_from(DECIDERS))
    def reject(self, quote: str, who: str) -> None:
        current = self._current(quote)
        self._post(
            who,
            f"/api/v1/quotes/{quote}/reject",
            {"revision": current["revision"], "reason": "no"},
            if_match=current["version"],
        )

    @rule(
        quote=quotes,
        action=st.sampled_from(["send", "accept", "expire"]),
        who=st.sampled_from(WRITERS),
    )
    def customer_side(self, quote: str, action: str, who: str) -> None:
        self._post(who, f"/api/v1/quotes/{quote}/{action}")

    @rule(quote=consumes(quotes), who=st.sampled_from(WRITERS))
    def withdraw(self, quote: str, who: str) -> None:
        self._post(who, f"/api/v1/quotes/{quote}/withdraw", {"reason": "fuzz"})

    @rule(limit=LIMITS)
    def change_the_managers_limit(self, limit: str) -> None:
        response = self.client.patch(
            f"/api/v1/users/{self.company.ids['manager']}",
            json={"approval_limit_pct": limit},
            headers=self.company.as_("admin"),
        )
        assert response.status_code == 200, response.text

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        self.clock.advance(days=days)

    # invariants

    @invariant()
    def approvals_hold_and_the_read_model_is_the_fold(self) -> None:
        listed = self.client.get(
            "/api/v1/quotes",
            params={"limit": 200, "min_position": self.position},
            headers=self._as("auditor"),
        )
        assert listed.status_code == 200, listed.text
        for row in listed.json()["data"]:
            quote = self._current(row["id"])
            self._check_approval(quote)
            self._check_read_model(row, quote)

    def _check_approval(self, quote: dict[str, Any]) -> None:
        approval = quote["approval"]
        if quote["state"] in ("approved", "sent", "accepted"):
            assert approval is not None, quote
        elif quote["state"] in ("draft", "pending_approval"):
            assert approval is None, quote
        if approval is None:
            return
        # Whatever state it reached later (withdrawn, expired, rejected by the customer), an
        # approval the quote still carries is one of its current revision.
        assert approval["revision"] == quote["revision"], quote
        below = [line for line in quote["lines"] if line["below_floor"]]
        if not below:
            assert approval["approved_by"] == "policy", quote
            return
        approver = approval["approved_by"]
        assert approver != "policy" and approver not in quote["authors"], quote
        deepest = max(Decimal(line["discount_pct"]) for line in quote["lines"])
        trail = self.client.get(
            f"/api/v1/quotes/{quote['id']}/history", headers=self._as("auditor")
        ).json()
        decided = trail["revisions"][-1]["approval"]
        assert decided["approved_by"] == approver
        user_then = self.client.get(
            f"/api/v1/users/{approver}",
            params={"as_of": decided["recorded_at"]},
            headers=self.company.as_("admin"),
        ).json()
        assert user_then["role"] == "manager"
        assert Decimal(user_then["approval_limit_pct"]) >= deepest, (user_then, quote)

    @staticmethod
    def _check_read_model(row: dict[str, Any], quote: dict[str, Any]) -> None:
        same = (
            "state",
            "revision",
            "amount",
            "list_amount",
            "cost",
            "margin",
            "version",
            "deepest_discount_pct",
            "needs_approval",
            "voided_approvals",
            "valid_until",
        )
        assert {k: row[k] for k in same} == {k: quote[k] for k in same}
        approval = quote["approval"]
        assert row["approved_by"] == (approval["approved_by"] if approval else None)
        assert row["approved_revision"] == (approval["revision"] if approval else None)
        assert row["lines"] == quote["lines"]


def _sqlite(template: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[ExitStack], str]:
    import shutil

    def open_store(stack: ExitStack) -> str:
        folder = tmp_path_factory.mktemp("fuzz")
        for file in template.iterdir():
            if file.name.endswith(".db"):
                shutil.copy(file, folder / file.name)
        return f"sqlite:///{folder / 'crm.db'}"

    return open_store


@pytest.fixture
def open_store(
    store_url: str, request: pytest.FixtureRequest
) -> Iterator[Callable[[ExitStack], str]]:
    if store_url.startswith("sqlite"):
        yield _sqlite(
            request.getfixturevalue("sqlite_template"), request.getfixturevalue("tmp_path_factory")
        )
        return
    from tests.conftest import _empty_postgres

    def open_postgres(stack: ExitStack) -> str:
        _empty_postgres(store_url)
        return store_url

    yield open_postgres


def test_random_quote_commands_keep_the_approval_invariants(open_store: Any) -> None:
    run_state_machine_as_test(
        lambda: QuoteMachine(open_store),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
