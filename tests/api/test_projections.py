"""The projection runner: batched, exactly once, safe when two runners race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

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
