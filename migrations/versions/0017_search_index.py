"""indexed substring search (`q=`) over accounts' and contacts' search text

PostgreSQL: pg_trgm GIN indexes, which the existing `search_text LIKE '%…%'` uses by itself.
Where the role may not create the extension (some hosted services), the migration logs a
warning and leaves search unindexed; docs/operations.md says how to add the indexes later.

SQLite: FTS5 trigram tables `<table>_search`, external-content indexes of `search_text` keyed
by the table's rowid and kept in step by triggers. They are not in the SQLAlchemy metadata
(migrations/env.py leaves them out of autogenerate). A later migration that recreates
`accounts` or `contacts` on SQLite (batch "move and copy") drops these triggers and renumbers
the rowids: it must recreate the triggers and send the index a 'rebuild'.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 10:10:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("accounts", "contacts")
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other objects may use it, and only its owner may drop it.
        for table in TABLES:
            op.execute(sa.text(f"DROP INDEX IF EXISTS ix_{table}_search_text_trgm"))
        return
    for table in TABLES:
        for suffix in ("inserted", "updated", "deleted"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_search_{suffix}"))
        op.execute(sa.text(f"DROP TABLE IF EXISTS {table}_search"))


def _upgrade_postgresql() -> None:
    if not _trigram_extension():
        return
    for table in TABLES:
        op.execute(
            sa.text(
                f"CREATE INDEX IF NOT EXISTS ix_{table}_search_text_trgm "
                f"ON {table} USING gin (search_text gin_trgm_ops)"
            )
        )


def _trigram_extension() -> bool:
    """pg_trgm is present or could be created. A failed CREATE EXTENSION is rolled back to a
    savepoint so that the rest of the migration's transaction still commits."""
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return True
    savepoint = conn.begin_nested()
    try:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        log.warning(
            "CREATE EXTENSION pg_trgm failed, account and contact search stays unindexed "
            "(docs/operations.md, 'Text search'): %s",
            error.orig,
        )
        return False
    savepoint.commit()
    return True


def _upgrade_sqlite() -> None:
    for table in TABLES:
        index = f"{table}_search"
        op.execute(
            sa.text(
                f"CREATE VIRTUAL TABLE {index} USING fts5(search_text, content='{table}', "
                "content_rowid='rowid', tokenize='trigram')"
            )
        )
        delete_old = (
            f"INSERT INTO {index}({index}, rowid, search_text) "
            "VALUES ('delete', old.rowid, old.search_text);"
        )
        insert_new = f"INSERT INTO {index}(rowid, search_text) VALUES (new.rowid, new.search_text);"
        # An erased contact's search text becomes '': merging the index's segments ('optimize',
        # ~0.4 s at 100k contacts) drops its old trigrams, which would otherwise stay in the
        # file (with their positions they spell the values). A rebuild replays contacts that
        # already read as '[erased]': nothing to drop, so no merge.
        merge_when_emptied = (
            f"INSERT INTO {index}({index}) SELECT 'optimize' WHERE new.search_text = '' "
            "AND replace(replace(old.search_text, '[erased]', ''), ' ', '') <> '';"
        )
        triggers = {
            "inserted": f"INSERT ON {table} BEGIN {insert_new}",
            "updated": f"UPDATE OF search_text ON {table} "
            "WHEN old.search_text IS NOT new.search_text "
            f"BEGIN {delete_old} {insert_new} {merge_when_emptied}",
            "deleted": f"DELETE ON {table} BEGIN {delete_old}",
        }
        for suffix, definition in triggers.items():
            op.execute(sa.text(f"CREATE TRIGGER {index}_{suffix} AFTER {definition} END"))
        op.execute(sa.text(f"INSERT INTO {index}({index}) VALUES ('rebuild')"))
