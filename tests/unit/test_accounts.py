"""Accounts and contacts as the domain decides them: no database, no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from crm_api.application.app import CrmApplication
from crm_api.application.notifier import LogNotifier
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition
from tests.support import FrozenClock

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REP_A = str(uuid4())
REP_B = str(uuid4())


def meta(command_id: str = "cmd-1", **overrides: Any) -> EventMeta:
    fields: dict[str, Any] = {
        "actor": REP_A,
        "actor_type": "user",
        "on_behalf_of": None,
        "occurred_at": NOW,
        "command_id": command_id,
        "correlation_id": "corr-1",
    }
    fields.update(overrides)
    return EventMeta(**fields)


def open_account(**details: Any) -> Account:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "name": "Acme",
        "owner_id": REP_A,
        "industry": None,
        "phone": None,
        "address": None,
        "manual_grade": None,
    }
    fields.update(details)
    with recording(meta("cmd-open"), NOW):
        return Account(**fields)


def add_contact(account: Account) -> Contact:
    return Contact.add_to(
        account, id=uuid4(), name="Ann", phone=None, email=None, occupation=None, birth_year=None
    )


def events_of(aggregate: Any) -> list[Any]:
    return aggregate.collect_events()


# archive and restore


def test_an_archived_account_can_be_restored():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        account.archive()
        assert account.archived is True
        account.restore()
    assert account.archived is False
    assert [e.type_name for e in events_of(account)] == [
        "AccountOpened",
        "AccountArchived",
        "AccountRestored",
    ]


def test_archiving_an_archived_account_is_refused():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        account.archive()
        with pytest.raises(InvalidTransition) as raised:
            account.archive()
    assert raised.value.code == "archived"


def test_restoring_an_account_that_is_not_archived_is_refused():
    account = open_account()
    with recording(meta("cmd-2"), NOW), pytest.raises(InvalidTransition) as raised:
        account.restore()
    assert raised.value.code == "not_archived"


@pytest.mark.parametrize(
    "command",
    [
        lambda a: a.change_details(name="Renamed"),
        lambda a: a.transfer_ownership(REP_B, reason="holiday"),
    ],
    ids=["change_details", "transfer_ownership"],
)
def test_an_archived_account_cannot_be_changed_or_transferred(command):
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        account.archive()
    events_of(account)
    with recording(meta("cmd-3"), NOW), pytest.raises(InvalidTransition) as raised:
        command(account)
    assert raised.value.code == "archived"
    assert events_of(account) == []
    assert account.name == "Acme" and account.owner_id == REP_A


# ownership


def test_transferring_an_account_records_the_old_and_new_owner():
    account = open_account()
    events_of(account)
    with recording(meta("cmd-2", actor="manager"), NOW):
        account.transfer_ownership(REP_B, reason="rebalancing")
    (transferred,) = events_of(account)
    assert transferred.type_name == "AccountOwnershipTransferred"
    assert (transferred.from_owner_id, transferred.to_owner_id, transferred.reason) == (
        REP_A,
        REP_B,
        "rebalancing",
    )
    assert account.owner_id == REP_B


def test_transferring_an_account_to_its_owner_is_refused():
    account = open_account()
    events_of(account)
    with recording(meta("cmd-2"), NOW), pytest.raises(InvalidTransition) as raised:
        account.transfer_ownership(REP_A, reason=None)
    assert raised.value.code == "same_owner"
    assert events_of(account) == []


# details


def test_changing_details_records_only_the_fields_that_changed():
    account = open_account(industry="Retail", phone="+1 555 0100")
    events_of(account)
    with recording(meta("cmd-2"), NOW):
        account.change_details(name="Acme Ltd", industry="Retail", phone="+1 555 0100")
    (changed,) = events_of(account)
    assert changed.type_name == "AccountDetailsChanged"
    assert changed.changes == {"name": "Acme Ltd"}
    assert account.name == "Acme Ltd"


def test_changing_details_to_the_same_values_records_nothing():
    account = open_account(industry="Retail")
    events_of(account)
    version = account.version
    with recording(meta("cmd-2"), NOW):
        account.change_details(name="Acme", industry="Retail")
    assert events_of(account) == []
    assert account.version == version


def test_clearing_an_optional_field_is_a_change():
    account = open_account(industry="Retail")
    events_of(account)
    with recording(meta("cmd-2"), NOW):
        account.change_details(industry=None)
    (changed,) = events_of(account)
    assert changed.changes == {"industry": None}
    assert account.industry is None


# contacts


def test_a_contact_is_added_to_an_open_account():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        contact = add_contact(account)
    assert contact.account_id == str(account.id)
    assert [e.type_name for e in events_of(contact)] == ["ContactAdded"]


def test_a_contact_cannot_be_added_to_an_archived_account():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        account.archive()
        with pytest.raises(InvalidTransition) as raised:
            add_contact(account)
    assert raised.value.code == "archived"


def test_an_archived_contact_cannot_be_changed():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        contact = add_contact(account)
        contact.archive()
        with pytest.raises(InvalidTransition) as raised:
            contact.change_details(name="Bob")
    assert raised.value.code == "archived"


def test_changing_a_contact_records_only_the_fields_that_changed():
    account = open_account()
    with recording(meta("cmd-2"), NOW):
        contact = add_contact(account)
    events_of(contact)
    with recording(meta("cmd-3"), NOW):
        contact.change_details(name="Ann", occupation="Buyer")
        contact.change_details(name="Ann")
    (changed,) = events_of(contact)
    assert changed.changes == {"occupation": "Buyer"}


# event metadata


def test_every_event_carries_the_command_metadata_and_the_recording_time():
    occurred = NOW - timedelta(days=2)
    recorded = NOW + timedelta(minutes=7)
    stamp = meta(
        "cmd-42",
        actor="assistant-id",
        on_behalf_of=REP_A,
        occurred_at=occurred,
        correlation_id="corr-42",
    )
    with recording(stamp, recorded):
        account = Account(
            id=uuid4(),
            name="Acme",
            owner_id=REP_A,
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )
        account.change_details(name="Acme Ltd")
        account.archive()
    events = events_of(account)
    assert len(events) == 3
    for event in events:
        assert event.meta == {
            "actor": "assistant-id",
            "actor_type": "user",
            "on_behalf_of": REP_A,
            "occurred_at": occurred.isoformat(),
            "command_id": "cmd-42",
            "correlation_id": "corr-42",
        }
        assert event.timestamp == recorded
        assert event.recorded_at == recorded


def test_events_cannot_be_triggered_outside_a_command_context():
    with pytest.raises(RuntimeError):
        Account(
            id=uuid4(),
            name="Acme",
            owner_id=REP_A,
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )


def test_an_account_remembers_the_commands_it_has_applied():
    account = open_account()
    with recording(meta("cmd-rename"), NOW):
        account.change_details(name="Acme Ltd")
    assert account.has_applied("cmd-open")
    assert account.has_applied("cmd-rename")
    assert not account.has_applied("cmd-never-sent")


def test_a_command_that_records_nothing_is_not_remembered():
    account = open_account()
    with recording(meta("cmd-noop"), NOW):
        account.change_details(name="Acme")
    assert not account.has_applied("cmd-noop")


# upcasting


def test_opened_v1_upcast_turns_a_text_address_into_line1():
    state: dict[str, Any] = {"address": "1 Main St"}
    Account.Opened.upcast_v1_v2(state)
    assert state["address"] == {"line1": "1 Main St"}


@pytest.mark.parametrize("address", [None, {"line1": "1 Main St", "city": "Oslo"}])
def test_opened_v1_upcast_leaves_other_addresses_alone(address):
    state: dict[str, Any] = {"address": address}
    Account.Opened.upcast_v1_v2(state)
    assert state["address"] == address


@pytest.fixture
def popo_app() -> CrmApplication:
    return CrmApplication(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"}, FrozenClock(), LogNotifier()
    )


def test_a_v1_opened_event_stored_with_a_text_address_loads_as_v2(popo_app):
    account = open_account(address={"line1": "ignored"})
    (opened,) = events_of(account)
    current = popo_app.mapper.to_stored_event(opened)
    state = json.loads(current.state)
    assert state.pop("class_version") == 2
    state["address"] = "1 Main St"
    v1 = StoredEvent(
        originator_id=current.originator_id,
        originator_version=current.originator_version,
        topic=current.topic,
        state=json.dumps(state).encode(),
    )

    event = popo_app.mapper.to_domain_event(v1)

    assert isinstance(event, Account.Opened)
    assert event.address == {"line1": "1 Main St"}
    loaded = event.mutate(None)
    assert loaded.address == {"line1": "1 Main St"}
    assert loaded.name == "Acme"
    assert loaded.owner_id == REP_A


def test_a_v1_account_in_the_store_loads_through_the_repository_as_v2(popo_app):
    account = open_account(address={"line1": "ignored"})
    (opened,) = events_of(account)
    current = popo_app.mapper.to_stored_event(opened)
    state = json.loads(current.state)
    del state["class_version"]
    state["address"] = "1 Main St"
    popo_app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=current.originator_id,
                originator_version=current.originator_version,
                topic=current.topic,
                state=json.dumps(state).encode(),
            )
        ]
    )

    loaded = popo_app.repository.get(account.id)

    assert isinstance(loaded, Account)
    assert loaded.address == {"line1": "1 Main St"}
