"""Test support: an injected clock and a company built through the API in one line."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_api.auth import mint_token
from crm_api.settings import Settings

ADMIN_ID = "00000000-0000-4000-8000-000000000001"


class FrozenClock:
    """Time moves only when a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def bearer(token: str, on_behalf_of: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if on_behalf_of:
        headers["X-On-Behalf-Of"] = on_behalf_of
    return headers


@dataclass
class Company:
    """Users (admin, manager, two reps in the manager's team, a rep elsewhere, an assistant of
    rep A, an auditor, a service agent) and a team, made through the public API."""

    client: Any
    settings: Settings
    clock: FrozenClock
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str, on_behalf_of: str | None = None) -> dict[str, str]:
        return bearer(self.tokens[who], self.ids.get(on_behalf_of) if on_behalf_of else None)

    def token_for(self, user_id: str, roles: list[str] | None = None) -> str:
        return mint_token(
            self.settings, user_id, roles=roles, ttl=timedelta(days=3650), now=datetime.now(UTC)
        )

    def add_user(self, key: str, **body: Any) -> dict[str, Any]:
        body.setdefault("name", key.replace("_", " ").title())
        body.setdefault("email", f"{key}@example.com")
        response = self.client.post("/api/v1/users", json=body, headers=self.as_("admin"))
        assert response.status_code == 201, response.text
        user = response.json()
        self.ids[key] = user["id"]
        self.tokens[key] = self.token_for(user["id"])
        return user

    def open_account(self, who: str, name: str = "Acme", **body: Any) -> dict[str, Any]:
        body.setdefault("owner_id", self.ids[who])
        on_behalf = body.pop("on_behalf_of", None)
        response = self.client.post(
            "/api/v1/accounts", json={"name": name, **body}, headers=self.as_(who, on_behalf)
        )
        assert response.status_code == 201, response.text
        return response.json()

    @classmethod
    def build(cls, client: Any, settings: Settings, clock: FrozenClock) -> Company:
        company = cls(client, settings, clock)
        company.ids["admin"] = ADMIN_ID
        company.tokens["admin"] = company.token_for(ADMIN_ID, roles=["admin"])
        company.add_user("manager", role="manager", approval_limit_pct="15")
        team = client.post(
            "/api/v1/teams",
            json={"name": "North", "manager_id": company.ids["manager"]},
            headers=company.as_("admin"),
        )
        assert team.status_code == 201, team.text
        company.ids["team"] = team.json()["id"]
        company.add_user("rep_a", role="rep", team_id=company.ids["team"])
        company.add_user("rep_b", role="rep", team_id=company.ids["team"])
        company.add_user("rep_c", role="rep")
        company.add_user("assistant", role="assistant", assists=[company.ids["rep_a"]])
        company.add_user("auditor", role="auditor")
        company.add_user("agent", role="service_agent")
        return company
