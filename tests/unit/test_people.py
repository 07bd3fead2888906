"""Users and principals: who may hold which settings, and who may see and do what."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import PermissionDenied, ValidationFailed
from crm_api.domain.people import (
    Principal,
    Role,
    User,
    check_on_behalf_of,
    visible_owners_for,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REP_A, REP_B, MANAGER, ASSISTANT = (str(uuid4()) for _ in range(4))


@pytest.fixture(autouse=True)
def command() -> Iterator[None]:
    stamp = EventMeta(
        actor="admin",
        actor_type="user",
        on_behalf_of=None,
        occurred_at=NOW,
        command_id="cmd-1",
        correlation_id="corr-1",
    )
    with recording(stamp, NOW):
        yield


def register(role: Role, **fields: Any) -> User:
    fields.setdefault("name", role.value.title())
    fields.setdefault("email", f"{role.value}@Example.com")
    return User.register(role=role, id=uuid4(), **fields)


def field_errors(raised: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [e.field for e in raised.value.errors]


# users


def test_a_manager_may_have_an_approval_limit():
    manager = register(Role.MANAGER, approval_limit_pct=Decimal("15"))
    assert manager.approval_limit_pct == Decimal("15")
    assert manager.role is Role.MANAGER


def test_registering_lowercases_the_email():
    assert register(Role.REP, email="Rep.A@Example.COM").email == "rep.a@example.com"


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.MANAGER])
def test_only_managers_have_an_approval_limit(role):
    with pytest.raises(ValidationFailed) as raised:
        register(role, approval_limit_pct=Decimal("10"))
    assert field_errors(raised) == ["approval_limit_pct"]


@pytest.mark.parametrize("limit", ["0", "100", "37.5"])
def test_an_approval_limit_between_0_and_100_is_accepted(limit):
    assert register(Role.MANAGER, approval_limit_pct=Decimal(limit)).approval_limit_pct == Decimal(
        limit
    )


@pytest.mark.parametrize("limit", ["-0.01", "100.01", "250"])
def test_an_approval_limit_outside_0_to_100_is_refused(limit):
    with pytest.raises(ValidationFailed) as raised:
        register(Role.MANAGER, approval_limit_pct=Decimal(limit))
    assert field_errors(raised) == ["approval_limit_pct"]


def test_an_assistant_assists_reps():
    assistant = register(Role.ASSISTANT, assists=[REP_A, REP_B])
    assert assistant.assists == [REP_A, REP_B]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ASSISTANT])
def test_only_assistants_assist(role):
    with pytest.raises(ValidationFailed) as raised:
        register(role, assists=[REP_A])
    assert field_errors(raised) == ["assists"]


def test_an_assistant_cannot_assist_itself():
    assistant = register(Role.ASSISTANT, assists=[REP_A])
    with pytest.raises(ValidationFailed) as raised:
        assistant.change_details(assists=[REP_A, str(assistant.id)])
    assert field_errors(raised) == ["assists"]


def test_changing_a_managers_role_clears_its_approval_limit():
    manager = register(Role.MANAGER, approval_limit_pct=Decimal("20"))
    manager.collect_events()
    manager.change_details(role=Role.REP)
    assert manager.role is Role.REP
    assert manager.approval_limit_pct is None
    (changed,) = manager.collect_events()
    assert changed.changes["role"] == "rep"
    assert changed.changes["approval_limit_pct"] is None


def test_a_role_change_records_only_the_fields_that_changed():
    rep = register(Role.REP)
    rep.collect_events()
    rep.change_details(role=Role.SERVICE_AGENT)
    (changed,) = rep.collect_events()
    assert changed.changes == {"role": "service_agent"}


def test_changing_an_assistants_role_clears_whom_it_assists():
    assistant = register(Role.ASSISTANT, assists=[REP_A])
    assistant.change_details(role=Role.REP)
    assert assistant.role is Role.REP
    assert assistant.assists == []


def test_a_role_change_that_gives_a_non_manager_a_limit_is_refused():
    manager = register(Role.MANAGER, approval_limit_pct=Decimal("20"))
    with pytest.raises(ValidationFailed) as raised:
        manager.change_details(role=Role.REP, approval_limit_pct=Decimal("10"))
    assert field_errors(raised) == ["approval_limit_pct"]
    assert manager.role is Role.MANAGER


def test_giving_a_rep_an_approval_limit_is_refused():
    rep = register(Role.REP)
    with pytest.raises(ValidationFailed):
        rep.change_details(approval_limit_pct=Decimal("5"))
    assert rep.approval_limit_pct is None


def test_changing_a_user_to_the_same_values_records_nothing():
    rep = register(Role.REP, name="Ann")
    rep.collect_events()
    rep.change_details(name="Ann", role=Role.REP)
    assert rep.collect_events() == []


def test_a_deactivated_user_can_be_reactivated():
    rep = register(Role.REP)
    rep.deactivate()
    assert rep.active is False
    rep.reactivate()
    assert rep.active is True


# principals


def principal(role: Role, **fields: Any) -> Principal:
    fields.setdefault("id", str(uuid4()))
    fields.setdefault("kind", "user")
    return Principal(role=role, **fields)


@pytest.mark.parametrize("permission", ["accounts:write", "contacts:write", "users:write"])
def test_an_auditor_writes_nothing(permission):
    with pytest.raises(PermissionDenied) as raised:
        principal(Role.AUDITOR, visible_owners=None).require(permission)
    assert raised.value.code == "read_only_role"


@pytest.mark.parametrize(
    "permission", ["accounts:read", "contacts:read", "users:read", "teams:read", "history:read"]
)
@pytest.mark.parametrize("role", [Role.AUDITOR, Role.SERVICE_AGENT, Role.REP, Role.MANAGER])
def test_every_role_reads(role, permission):
    principal(role).require(permission)


@pytest.mark.parametrize("role", [Role.SERVICE_AGENT, Role.INTEGRATOR])
def test_read_only_roles_other_than_auditor_are_plainly_forbidden_to_write(role):
    with pytest.raises(PermissionDenied) as raised:
        principal(role, visible_owners=None).require("accounts:write")
    assert raised.value.code == "forbidden"


@pytest.mark.parametrize("role", [Role.REP, Role.ASSISTANT])
def test_only_managers_and_admins_transfer_accounts(role):
    with pytest.raises(PermissionDenied):
        principal(role).require("accounts:transfer")
    principal(Role.MANAGER).require("accounts:transfer")
    principal(Role.ADMIN, visible_owners=None).require("accounts:transfer")


@pytest.mark.parametrize("permission", ["users:write", "teams:write", "api_keys:write"])
def test_only_admins_manage_users_teams_and_keys(permission):
    with pytest.raises(PermissionDenied) as raised:
        principal(Role.MANAGER).require(permission)
    assert raised.value.code == "forbidden"
    principal(Role.ADMIN, visible_owners=None).require(permission)


def test_an_api_key_is_limited_to_its_scopes():
    key = principal(
        Role.INTEGRATOR, kind="api_key", scopes=frozenset({"accounts:read"}), visible_owners=None
    )
    key.require("accounts:read")
    with pytest.raises(PermissionDenied) as raised:
        key.require("contacts:read")
    assert raised.value.code == "insufficient_scope"


def test_an_api_key_scope_cannot_exceed_its_role():
    key = principal(Role.INTEGRATOR, kind="api_key", scopes=frozenset({"*"}), visible_owners=None)
    key.require("contacts:read")
    with pytest.raises(PermissionDenied) as raised:
        key.require("accounts:write")
    assert raised.value.code == "forbidden"


def test_an_assistant_writes_only_on_behalf_of_a_rep():
    alone = principal(Role.ASSISTANT, id=ASSISTANT, visible_owners=frozenset({REP_A}))
    with pytest.raises(PermissionDenied) as raised:
        alone.require("accounts:write")
    assert raised.value.code == "on_behalf_of_required"
    alone.require("accounts:read")

    acting = principal(
        Role.ASSISTANT, id=ASSISTANT, visible_owners=frozenset({REP_A}), on_behalf_of=REP_A
    )
    acting.require("accounts:write")
    assert acting.acting_for == REP_A


def test_only_an_assistant_acts_on_behalf_of_someone():
    with pytest.raises(PermissionDenied) as raised:
        check_on_behalf_of(Role.MANAGER, [], REP_A)
    assert raised.value.code == "not_an_assistant"


def test_an_assistant_acts_only_for_the_reps_it_assists():
    check_on_behalf_of(Role.ASSISTANT, [REP_A], REP_A)
    with pytest.raises(PermissionDenied) as raised:
        check_on_behalf_of(Role.ASSISTANT, [REP_A], REP_B)
    assert raised.value.code == "not_assisting"


def test_a_rep_sees_only_its_own_accounts():
    assert visible_owners_for(Role.REP, REP_A, team_member_ids=[REP_B]) == {REP_A}


def test_a_manager_sees_itself_and_its_team():
    assert visible_owners_for(Role.MANAGER, MANAGER, team_member_ids=[REP_A, REP_B]) == {
        MANAGER,
        REP_A,
        REP_B,
    }


def test_an_assistant_sees_the_reps_it_assists():
    assert visible_owners_for(Role.ASSISTANT, ASSISTANT, assists=[REP_A]) == {REP_A}


def test_acting_on_behalf_of_a_rep_narrows_sight_to_that_rep():
    assert visible_owners_for(
        Role.ASSISTANT, ASSISTANT, assists=[REP_A, REP_B], on_behalf_of=REP_B
    ) == {REP_B}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.SERVICE_AGENT, Role.INTEGRATOR])
def test_reading_roles_see_every_owner(role):
    assert visible_owners_for(role, str(uuid4())) is None
    assert principal(role, visible_owners=None).sees_owner(REP_A)


def test_a_record_the_caller_may_not_see_is_reported_missing():
    rep = principal(Role.REP, id=REP_A, visible_owners=frozenset({REP_A}))
    rep.require_sees_owner(REP_A, "account", "x")
    with pytest.raises(Exception) as raised:
        rep.require_sees_owner(REP_B, "account", "acc-1")
    assert raised.value.code == "not_found"
    assert "acc-1" in raised.value.detail
