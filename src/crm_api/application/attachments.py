"""Admitting a file (an upload, an email attachment) into the blob store: its declared type
must be allowed and agree with its first bytes, its size within the limit, its name harmless.
Only then is its content stored; the caller records it (`ServiceRequestAttachmentAdded`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Engine

from crm_api.blobs import BlobStore, BlobTooLarge
from crm_api.domain.errors import (
    FieldError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from crm_api.projections.inbound import files_only_of

HEAD_BYTES = 64
MAX_FILENAME = 200
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _riff(form: bytes) -> Callable[[bytes], bool]:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == form


def _mpeg(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": _riff(b"WEBP"),
    "audio/wav": _riff(b"WAVE"),
    "audio/x-wav": _riff(b"WAVE"),
    "audio/ogg": lambda head: head.startswith(b"OggS"),
    "audio/mpeg": _mpeg,
    "audio/mp4": lambda head: head[4:8] == b"ftyp",
    "audio/webm": lambda head: head.startswith(b"\x1a\x45\xdf\xa3"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        lambda head: head.startswith(b"PK\x03\x04")
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (
        lambda head: head.startswith(b"PK\x03\x04")
    ),
    "application/msword": lambda head: head.startswith(OLE),
    "application/vnd.ms-excel": lambda head: head.startswith(OLE),
}
TEXT_TYPES = frozenset({"text/plain", "text/csv"})


def base_type(declared: str | None) -> str:
    return (declared or "").split(";", 1)[0].strip().lower()


def content_agrees(content_type: str, head: bytes) -> bool:
    """Whether the first bytes fit the declared type: the known binary formats by their
    signature; text has no NUL byte and is no known binary format; other allowed types (an
    administrator's additions) are taken as declared."""
    if content_type in TEXT_TYPES:
        return b"\x00" not in head and not any(sign(head) for sign in SIGNATURES.values())
    sign = SIGNATURES.get(content_type)
    return sign is None or sign(head)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def safe_filename(name: str | None) -> str:
    """The last path segment, without control or shell-special characters or leading dots,
    at most 200 characters (keeping the extension); `attachment` when nothing is left."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = extension[:20] if dot else ""
        name = (stem if dot else name)[: MAX_FILENAME - len(keep) - 1] + (
            f".{keep}" if keep else ""
        )
    return name or "attachment"


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    filename: str


class AttachmentIntake:
    def __init__(self, blobs: BlobStore, max_bytes: int, allowed_types: str) -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.allowed = frozenset(base_type(t) for t in allowed_types.split(",") if t.strip())

    def too_large(self, field: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            [FieldError(field, f"must be at most {self.max_bytes} bytes")],
            f"{field}: files are limited to {self.max_bytes} bytes",
        )

    def admit(
        self,
        stream: BinaryIO,
        *,
        declared_type: str | None,
        filename: str | None,
        kind: str,
        field: str = "file",
    ) -> StoredFile:
        """Check and store a (seekable) stream; 415 for a type not allowed or contradicted by
        the content, 413 over the limit, 422 when empty."""
        content_type = base_type(declared_type)
        if content_type not in self.allowed:
            raise UnsupportedMediaType(
                [FieldError(field, f"'{content_type}' is not an accepted type")],
                f"{field}: accepted types are {', '.join(sorted(self.allowed))}",
            )
        if kind == "recording" and not content_type.startswith("audio/"):
            raise UnsupportedMediaType(
                [FieldError(field, "a call recording must be audio (audio/…)")]
            )
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        if not head:
            raise ValidationFailed([FieldError(field, "must not be empty")])
        if not content_agrees(content_type, head):
            raise UnsupportedMediaType(
                [FieldError(field, f"the content is not {content_type}")],
                f"{field}: the file's content does not match its declared type {content_type}",
            )
        try:
            sha256, size = self.blobs.put(stream, limit=self.max_bytes)
        except BlobTooLarge:
            raise self.too_large(field) from None
        return StoredFile(sha256, size, content_type, safe_filename(filename))


def forget_contact_files(reader: Engine, blobs: BlobStore, contact_id: str) -> int:
    """After a contact's erasure reached the read models: delete the files attached to its
    requests that no other request holds; returns how many were deleted."""
    with reader.connect() as conn:
        shas = files_only_of(conn, contact_id)
    return sum(blobs.delete(sha256) for sha256 in shas)
