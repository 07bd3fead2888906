"""The blob store: file contents (attachments, call recordings, inbound email parts) kept by
their sha256, so the same content is stored once.

`LocalBlobStore` keeps them under a directory (`CRM_BLOB_DIR`) as `ab/cd/abcd…`; a write
streams into a temporary file beside its destination while hashing, then renames it into
place (atomic on one file system), so a reader never sees half a blob. Another backend (an
object store) implements the same four methods.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLarge(Exception):
    """The stream held more than the store was told to accept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"blobs are limited to {limit} bytes")
        self.limit = limit


class BlobStore(Protocol):
    def put(self, stream: BinaryIO, limit: int | None = None) -> tuple[str, int]:
        """Store the stream's content; returns (sha256 hex, size). Over `limit` bytes: nothing
        is stored and BlobTooLarge is raised."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The content for reading; FileNotFoundError when it is not stored."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> bool:
        """Remove the content (an erasure); True when it was stored."""
        ...


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise FileNotFoundError(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, limit: int | None = None) -> tuple[str, int]:
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, temp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobTooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            target = self._path(sha256)
            if target.exists():
                temp.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return sha256, size

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        try:
            return self._path(sha256).is_file()
        except FileNotFoundError:
            return False

    def delete(self, sha256: str) -> bool:
        try:
            self._path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
