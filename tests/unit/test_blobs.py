"""The local blob store: content-addressed, written atomically, the same content once."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest

from crm_api.blobs import BlobTooLarge, LocalBlobStore


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_blob_is_kept_by_its_sha256_and_reads_back(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    content = b"%PDF-1.7 the manual" * 1000
    sha256, size = store.put(BytesIO(content))
    assert (sha256, size) == (hashlib.sha256(content).hexdigest(), len(content))
    assert store.exists(sha256)
    with store.open(sha256) as blob:
        assert blob.read() == content


def test_the_same_content_is_stored_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    first = store.put(BytesIO(b"same bytes"))
    second = store.put(BytesIO(b"same bytes"))
    assert first == second
    assert stored_files(tmp_path) == [tmp_path / first[0][:2] / first[0][2:4] / first[0]]


def test_a_stream_over_the_limit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put(BytesIO(b"x" * 101), limit=100)
    assert stored_files(tmp_path) == []
    assert store.put(BytesIO(b"x" * 100), limit=100)[1] == 100


def test_unknown_or_malformed_names_are_not_found(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert not store.exists("0" * 64)
    assert not store.exists("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        store.open("../secrets")
