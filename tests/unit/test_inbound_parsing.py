"""Parsing inbound email (RFC 822 and the gateway's JSON) and admitting its files."""

from __future__ import annotations

from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest

from crm_api.application.attachments import AttachmentIntake, content_agrees, safe_filename
from crm_api.application.inbound import from_fields, message_ids, parse_rfc822
from crm_api.blobs import LocalBlobStore
from crm_api.domain.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def raw_email(**headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.get("from", "Jane Roe <Jane.Roe@example.com>")
    message["To"] = "support@crm.example"
    message["Subject"] = headers.get("subject", "Re: [SR-1a2b3c4d] It beeps")
    message["Message-ID"] = "<reply-1@mail.example>"
    message["In-Reply-To"] = "<n1@crm-api>"
    message["References"] = "<n0@crm-api> <n1@crm-api>"
    message.set_content("It still beeps.\n")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="../photo.png")
    return message.as_bytes()


def test_a_raw_message_gives_sender_thread_ids_text_and_attachments() -> None:
    email = parse_rfc822(raw_email())
    assert email.sender == "Jane.Roe@example.com"
    assert email.subject == "Re: [SR-1a2b3c4d] It beeps"
    assert email.text == "It still beeps."
    assert email.message_id == "reply-1@mail.example"
    assert email.thread_ids() == ["n1@crm-api", "n1@crm-api", "n0@crm-api"]
    [part] = email.attachments
    assert (part.filename, part.content_type, part.data) == ("../photo.png", "image/png", PNG)


def test_a_message_without_a_sender_address_is_refused_naming_from() -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_rfc822(b"Subject: hi\r\n\r\nbody\r\n")
    assert [e.field for e in refused.value.errors] == ["from"]


def test_the_json_form_and_a_missing_message_id_known_by_content() -> None:
    fields = {"from": "a@example.com", "subject": "Hi", "text": "Hello", "references": ["<x@y>"]}
    one, again = from_fields(fields), from_fields(dict(fields))
    assert one.message_id == again.message_id
    assert one.message_id.endswith("@inbound.crm-api.invalid")
    assert one.references == ("x@y",)
    assert message_ids("bare@id") == ("bare@id",)


def test_filenames_lose_paths_and_unsafe_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename('C:\\temp\\a<b>"c".pdf') == "a_b_c_.pdf"
    assert safe_filename("..") == "attachment"
    assert safe_filename("x" * 300 + ".pdf").endswith(".pdf")
    assert len(safe_filename("x" * 300 + ".pdf")) == 200


def test_declared_types_must_agree_with_the_first_bytes() -> None:
    assert content_agrees("image/png", PNG)
    assert not content_agrees("image/png", b"%PDF-1.4")
    assert content_agrees("audio/wav", b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert not content_agrees("text/plain", PNG)
    assert not content_agrees("text/plain", b"%PDF-1.4 pretending to be text")
    assert content_agrees("text/plain", "grüße".encode())


def test_the_intake_checks_type_kind_and_size_before_keeping_a_file(tmp_path: Path) -> None:
    intake = AttachmentIntake(LocalBlobStore(tmp_path), 100, "image/png,audio/ogg")
    with pytest.raises(UnsupportedMediaType):
        intake.admit(BytesIO(PNG), declared_type="image/gif", filename="a.gif", kind="attachment")
    with pytest.raises(UnsupportedMediaType):
        intake.admit(BytesIO(PNG), declared_type="image/png", filename="a.png", kind="recording")
    with pytest.raises(PayloadTooLarge):
        intake.admit(
            BytesIO(PNG * 3), declared_type="image/png", filename="a.png", kind="attachment"
        )
    stored = intake.admit(
        BytesIO(PNG), declared_type="image/PNG; x=y", filename="/a.png", kind="attachment"
    )
    assert (stored.content_type, stored.filename, stored.size) == ("image/png", "a.png", 48)
