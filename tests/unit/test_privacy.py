"""Data protection rules without a database: erasure, sealing, export slots, CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder

from crm_api.application.app import CrmApplication
from crm_api.application.notifier import LogNotifier
from crm_api.domain.accounts import ERASED, Account, Contact
from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.privacy import Export, ExportCapReached
from crm_api.privacy.exports import csv_encoder
from crm_api.privacy.keys import new_cipher_key, store_cipher
from crm_api.privacy.shredding import ShreddingMapper
from tests.support import FrozenClock

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def stamp(command_id: str) -> Any:
    meta = EventMeta("admin", "user", None, NOW, command_id, "corr")
    return recording(meta, NOW)


def new_contact(**details: Any) -> Contact:
    fields = {"phone": None, "email": None, "occupation": None, "birth_year": None}
    fields.update(details)
    with stamp("cmd-open"):
        account = Account(
            id=uuid4(),
            name="Acme",
            owner_id="rep",
            industry=None,
            phone=None,
            address=None,
            manual_grade=None,
        )
        return Contact.add_to(account, id=uuid4(), name="Ann Example", **fields)


class MemoryKeys:
    """The subject key table, in memory."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes | None] = {}

    def key(self, subject_id: str) -> bytes | None:
        return self.keys.get(subject_id)

    def key_for_writing(self, subject_id: str) -> bytes:
        key = self.keys.setdefault(subject_id, bytes(range(32)))
        assert key is not None
        return key

    def destroy(self, subject_id: str) -> None:
        self.keys[subject_id] = None


def mapper(keys: MemoryKeys | None = None) -> ShreddingMapper:
    app = CrmApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"}, FrozenClock(), LogNotifier())
    assert isinstance(app.mapper, ShreddingMapper)
    app.mapper.subject_keys = keys  # type: ignore[assignment]
    return app.mapper


# erasure in the domain


def test_erasing_a_contact_marks_recorded_values_and_leaves_absent_ones_null():
    contact = new_contact(email="ann@example.com", birth_year=1980)
    with stamp("cmd-erase"):
        contact.erase(reason="subject_request", reference="CASE-17")
    assert (contact.name, contact.email, contact.phone, contact.birth_year) == (
        ERASED,
        ERASED,
        None,
        None,
    )
    erased = contact.collect_events()[-1]
    assert erased.type_name == "ContactErased"
    assert {k: v for k, v in vars(erased).items() if k in ("reason", "reference")} == {
        "reason": "subject_request",
        "reference": "CASE-17",
    }
    assert "ann@example.com" not in repr(vars(erased))


def test_an_erased_contact_cannot_be_given_personal_data_again_or_erased_twice():
    contact = new_contact()
    with stamp("cmd-erase"):
        contact.erase(reason="retention_expired", reference=None)
    with stamp("cmd-2"), pytest.raises(InvalidTransition) as changed:
        contact.change_details(name="Ann Again")
    with stamp("cmd-3"), pytest.raises(InvalidTransition) as twice:
        contact.erase(reason="other", reference=None)
    assert (changed.value.code, twice.value.code) == ("erased", "already_erased")


def test_an_erasure_names_a_known_reason():
    contact = new_contact()
    with stamp("cmd-erase"), pytest.raises(ValidationFailed) as raised:
        contact.erase(reason="because", reference=None)
    assert [e.field for e in raised.value.errors] == ["reason"]


# sealing at the transcoding boundary


def test_personal_values_are_stored_sealed_and_read_back_with_the_key():
    keys = MemoryKeys()
    contact = new_contact(email="ann@example.com", birth_year=1980)
    with stamp("cmd-2"):
        contact.change_details(phone="+49 30 1234")
    added, changed = contact.collect_events()
    subject = mapper(keys)
    stored = [subject.to_stored_event(e) for e in (added, changed)]
    for record in stored:
        for value in (b"Ann Example", b"ann@example.com", b"1980", b"+49 30 1234"):
            assert value not in record.state
    back_added, back_changed = (subject.to_domain_event(s) for s in stored)
    assert (back_added.name, back_added.email, back_added.birth_year) == (  # type: ignore[attr-defined]
        "Ann Example",
        "ann@example.com",
        1980,
    )
    assert back_changed.changes == {"phone": "+49 30 1234"}  # type: ignore[attr-defined]
    assert added.name == "Ann Example"  # the domain event itself is untouched


def test_without_the_key_sealed_values_read_as_erased_and_the_rest_is_intact():
    keys = MemoryKeys()
    added = new_contact(email="ann@example.com", birth_year=1980).collect_events()[0]
    subject = mapper(keys)
    stored = subject.to_stored_event(added)
    keys.destroy(str(added.originator_id))
    back: Any = subject.to_domain_event(stored)
    assert (back.name, back.email, back.phone, back.birth_year) == (ERASED, ERASED, None, None)
    assert back.account_id == added.account_id and back.timestamp == added.timestamp


def test_a_sealed_value_is_bound_to_its_subject():
    keys = MemoryKeys()
    first, second = (new_contact().collect_events()[0] for _ in range(2))
    subject = mapper(keys)
    stored = subject.to_stored_event(first)
    transplanted = type(stored)(
        originator_id=second.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=stored.state,
    )
    assert subject.to_domain_event(transplanted).name == ERASED  # type: ignore[attr-defined]


def test_without_a_key_store_values_pass_in_clear_for_tools_and_domain_tests():
    added = new_contact().collect_events()[0]
    assert b"Ann Example" in mapper(None).to_stored_event(added).state


# the store's cipher


def test_the_store_cipher_hides_the_whole_payload_and_refuses_another_key():
    key = new_cipher_key()
    cipher = store_cipher(key)
    assert cipher is not None
    plain = JSONTranscoder().encode({"name": "Acme"})
    sealed = cipher.encrypt(plain)
    assert b"Acme" not in sealed and cipher.decrypt(sealed) == plain
    other = store_cipher(new_cipher_key())
    assert other is not None
    with pytest.raises(ValueError):
        other.decrypt(sealed)
    with pytest.raises(ValueError):
        store_cipher("not-a-key")


# exports


def test_the_daily_cap_gives_the_first_free_slot_then_refuses():
    assert Export.free_slot(lambda slot: slot in {1, 2}, cap=3) == 3
    with pytest.raises(ExportCapReached) as raised:
        Export.free_slot(lambda slot: True, cap=3)
    assert raised.value.code == "export_cap_reached" and raised.value.extra == {"cap": 3}


def test_an_export_slot_is_one_per_user_and_day():
    day = NOW.date()
    assert Export.id_for("u1", day, 1) == Export.id_for("u1", day, 1)
    assert len({Export.id_for("u1", day, 1), Export.id_for("u2", day, 1)}) == 2


def test_csv_cells_that_a_spreadsheet_would_run_are_defused_and_phone_numbers_kept():
    rows = [{"name": "=HYPERLINK(1)", "phone": "+49 30 1234", "note": "-1+1", "n": None}]
    text = b"".join(csv_encoder(("name", "phone", "note", "n"))(rows)).decode()
    assert text.splitlines() == ["name,phone,note,n", "'=HYPERLINK(1),+49 30 1234,'-1+1,"]
