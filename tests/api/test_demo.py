"""`crm-api demo`: a year of a company's life through the commands, on either store; every
read model rebuilt from the log equals the one kept live while loading."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_api.application.services import Services
from crm_api.demo import load_demo
from crm_api.projections.opportunities import opportunities
from crm_api.projections.quotes import quotes
from crm_api.projections.service import service_requests
from tests.api.test_backup import crm_api, fresh_store  # noqa: F401


def projection_rows(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection's rows, table by table, sorted."""
    found = {}
    with services.read() as conn:
        for runner in services.runners.values():
            for table in runner.projection.tables:
                rows = conn.execute(select(table)).all()
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def test_the_demo_loads_and_every_read_model_rebuilds_to_the_same_rows(services):
    counts = load_demo(services, accounts=30, plan_weeks=1)
    assert counts["accounts"] == 30 and counts["users"] == 11 and counts["products"] == 12
    assert counts["orders"] > 30 and counts["activities"] > 30 and counts["work plans"] == 12
    live = projection_rows(services)
    assert len(live["accounts"]) == 30
    with services.read() as conn:
        stages = set(conn.execute(select(opportunities.c.stage)).scalars())
        states = set(conn.execute(select(quotes.c.state)).scalars())
    assert stages == {"prospecting", "qualification", "proposal", "negotiation", "won", "lost"}
    assert states == {
        "draft",
        "pending_approval",
        "approved",
        "sent",
        "accepted",
        "rejected",
        "expired",
        "withdrawn",
    }
    with services.read() as conn:
        resolved = conn.execute(
            select(service_requests.c.resolved_at, service_requests.c.resolve_due_at).where(
                service_requests.c.resolved_at.is_not(None)
            )
        ).all()
    assert {at <= due for at, due in resolved} == {True, False}, "SLAs met and breached"
    for name, runner in services.runners.items():
        runner.rebuild()
        assert projection_rows(services) == live, f"{name} rebuilt differs from live"


def test_the_demo_is_the_same_for_the_same_size(
    services,
    store_url,
    settings,
    clock,
    fresh_store,  # noqa: F811
):
    load_demo(services, accounts=6, plan_weeks=1)
    other_url = fresh_store("sqlite")
    other = Services(settings.model_copy(update={"database_url": other_url}), clock)
    try:
        load_demo(other, accounts=6, plan_weeks=1)
        assert other.app.head() == services.app.head()
        assert projection_rows(other) == projection_rows(services)
    finally:
        other.close()


def test_demo_if_empty_leaves_a_store_with_events_alone(services, store_url):
    load_demo(services, accounts=1, plan_weeks=0)
    head = services.app.head()
    result = crm_api(["demo", "--if-empty", "--accounts", "3"], store_url)
    assert result.exit_code == 0 and "skipped" in result.output
    assert services.app.head() == head
