"""The projection runner: batched, exactly once, safe when two runners race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from crm_api.application.app import CommandContext
from crm_api.domain.people import Principal, Role
from crm_api.projections.accounts import AccountsProjection, accounts
from crm_api.projections.base import tracking
from crm_api.projections.runner import EventFailed, ProjectionRunner

ADMIN = Principal(id="admin", kind="user", role=Role.ADMIN, visible_owners=None)


def _ctx(n: int) -> CommandContext:
    return CommandContext(ADMIN, f"cmd-{n}", f"corr-{n}")


def _company_with_accounts(services, count: int) -> None:
    rep = services.directory.register_user(
        _ctx(0), name="Rep", email="rep@example.com", role=Role.REP
    )
    for n in range(count):
        services.accounts.open_account(
            _ctx(n + 1),
            name=f"Account {n}",
            owner_id=str(rep.record.id),
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )


def _count(services) -> int:
    with services.read() as conn:
        return conn.execute(select(func.count()).select_from(accounts)).scalar_one()


def test_two_runners_racing_on_one_projection_apply_every_event_once(services):
    _company_with_accounts(services, 60)
    racers = [
        ProjectionRunner(
            AccountsProjection(), services.app, services.writer, services.notifier, batch_size=7
        )
        for _ in range(2)
    ]
    errors: list[BaseException] = []

    def race(runner: ProjectionRunner) -> None:
        try:
            runner.catch_up()
        except BaseException as error:  # the test reports it below
            errors.append(error)

    threads = [threading.Thread(target=race, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _count(services) == 60
    with services.read() as conn:
        position = conn.execute(
            select(tracking.c.position).where(tracking.c.name == "accounts")
        ).scalar_one()
    assert position == services.app.head()


def test_a_batch_that_fails_is_rolled_back_whole_and_recorded(services, monkeypatch):
    _company_with_accounts(services, 5)
    runner = services.runners["accounts"]
    calls = {"n": 0}
    original = AccountsProjection.apply

    def flaky(self, conn, event, position):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        original(self, conn, event, position)

    monkeypatch.setattr(AccountsProjection, "apply", flaky)
    with pytest.raises(EventFailed) as failed:
        runner.run_once()
    runner.record_failure(failed.value)
    assert _count(services) == 0
    with services.read() as conn:
        row = conn.execute(select(tracking).where(tracking.c.name == "accounts")).one()
    fourth_account_opened = _positions_of(services, "Account.Opened")[3]
    assert (row.position, row.error_position, row.failures) == (0, fourth_account_opened, 1)
    assert "disk on fire" in row.last_error
    monkeypatch.setattr(AccountsProjection, "apply", original)
    runner.catch_up()
    assert _count(services) == 5


def _positions_of(services, topic_suffix: str) -> list[int]:
    notifications = services.app.recorder.select_notifications(start=1, limit=1000)
    return [n.id for n in notifications if n.topic.endswith(topic_suffix)]


# the projection group: every read model of a process applied together


def _snapshot(services) -> dict[str, list[tuple]]:
    """Every read-model table of every projection, rows sorted (what a rebuild must equal)."""
    tables: dict[str, list[tuple]] = {}
    with services.read() as conn:
        for runner in services.runners.values():
            for table in runner.projection.tables:
                rows = conn.execute(select(table)).all()
                tables[table.name] = sorted(tuple(map(repr, row)) for row in rows)
    return tables


def _tracked(services) -> dict[str, int]:
    with services.read() as conn:
        return dict(conn.execute(select(tracking.c.name, tracking.c.position)).all())


def test_the_group_brings_members_from_different_positions_to_the_head_each_event_once(services):
    _company_with_accounts(services, 30)
    services.catch_up()
    # One member starts over (as after a rebuild request): its tables emptied, its position 0.
    runner = services.runners["accounts"]
    with services.writer.begin() as conn:
        runner.projection.clear(conn)
        conn.execute(tracking.update().where(tracking.c.name == "accounts").values(position=0))
    runner._recorded = None
    _company_with_accounts_more(services, 10)
    services.projections.catch_up()
    assert _count(services) == 40
    assert set(_tracked(services).values()) == {services.app.head()}
    live = _snapshot(services)
    for each in services.runners.values():
        each.rebuild()
    assert _snapshot(services) == live


def _company_with_accounts_more(services, count: int) -> None:
    rep = services.directory.register_user(
        _ctx(1000), name="Rep Two", email="rep2@example.com", role=Role.REP
    )
    for n in range(count):
        services.accounts.open_account(
            _ctx(1001 + n),
            name=f"Later {n}",
            owner_id=str(rep.record.id),
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )


def test_a_failing_member_is_set_aside_the_others_go_on_and_it_rejoins_after_resume(
    services, monkeypatch
):
    _company_with_accounts(services, 5)
    original = AccountsProjection.apply

    def broken(self, conn, event, position):
        if getattr(event, "name", None) == "Account 3":
            raise RuntimeError("disk on fire")
        original(self, conn, event, position)

    monkeypatch.setattr(AccountsProjection, "apply", broken)
    group = services.projections
    group.catch_up(raise_failures=False)
    head = services.app.head()
    positions = _tracked(services)
    assert positions.pop("accounts") == 0
    assert set(positions.values()) == {head}
    assert "accounts" in group._failing
    with services.read() as conn:
        row = conn.execute(select(tracking).where(tracking.c.name == "accounts")).one()
    assert row.failures == 1 and "disk on fire" in row.last_error
    assert _count(services) == 0

    monkeypatch.setattr(AccountsProjection, "apply", original)
    services.runners["accounts"].resume()
    group.refresh_paused()
    group.retry_failing()
    assert "accounts" not in group._failing
    group.catch_up()
    assert _count(services) == 5
    assert set(_tracked(services).values()) == {head}


def test_two_groups_racing_over_one_store_apply_every_event_once(services, settings, clock):
    from crm_api.application.services import Services

    _company_with_accounts(services, 40)
    other = Services(settings, clock)
    errors: list[BaseException] = []

    def race(group) -> None:
        try:
            group.catch_up()
        except BaseException as error:  # the test reports it below
            errors.append(error)

    try:
        for each in (services, other):
            each.projections.batch_size = 9
        threads = [threading.Thread(target=race, args=(s.projections,)) for s in (services, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert errors == []
    assert set(_tracked(services).values()) == {services.app.head()}
    live = _snapshot(services)
    for each in services.runners.values():
        each.rebuild()
    assert _snapshot(services) == live


@pytest.mark.workers
def test_the_group_thread_applies_writes_and_reports_lag(services):
    from crm_api.observability import Metrics

    metrics = Metrics()
    services.observe(metrics)
    services.start_workers()
    _company_with_accounts(services, 12)
    assert services.wait_for(services.app.head(), timeout=30)
    assert _count(services) == 12
    observed = metrics.registry.get_sample_value(
        "crm_projection_apply_lag_seconds_count", {"projection": "accounts"}
    )
    assert observed is not None and observed >= 12


def test_a_rebuild_on_postgresql_leaves_planner_statistics_of_its_tables(services):
    """Until statistics are gathered PostgreSQL plans for the empty tables a rebuild started
    from; the rebuild gathers them itself (SQLite: nothing to do)."""
    if not services.store.is_postgres:
        pytest.skip("PostgreSQL's planner statistics")
    _company_with_accounts(services, 25)
    services.projections.rebuild(["accounts"])
    with services.read() as conn:
        tuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'accounts'")
        ).scalar_one()
    assert tuples == 25
