"""Account owners, mirrored by every read model that filters its rows by the account's owner.

Each projection keeps its own copy (a projection never reads another's tables, so each can be
rebuilt alone); this module is the one place that copy is kept current.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Column, Connection, String, Table, select, update

from crm_api.db import metadata
from crm_api.domain.accounts import Account
from crm_api.projections.base import Projection, handles, upsert, upsert_many


def account_owners_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("account_id", String(36), primary_key=True),
        Column("owner_id", String(36), nullable=False),
    )


class FollowsAccountOwners(Projection):
    """Keeps `account_owners` (account → owner) and, on a transfer, rewrites `owner_columns`
    (columns of tables that have an `account_id` column) for every row of that account.

    Accounts opened are mirrored in bulk: their owners wait in memory and are written in one
    statement before any other event of the projection is applied (its handlers may read the
    mirror) and at the end of the batch. A rebuild of a log of accounts opened costs one
    statement per batch per mirror instead of one per account."""

    account_owners: ClassVar[Table]
    owner_columns: ClassVar[tuple[Column[Any], ...]] = ()
    _opened: dict[str, str]

    def begin(self, conn: Connection) -> None:
        super().begin(conn)
        self._opened = {}

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if type(event) is not Account.Opened:
            self._write_owners(conn)
        super().apply(conn, event, position)

    def flush(self, conn: Connection) -> None:
        self._write_owners(conn)
        super().flush(conn)

    def _write_owners(self, conn: Connection) -> None:
        opened = getattr(self, "_opened", None)
        if opened:
            self._opened = {}
            upsert_many(
                conn,
                self.account_owners,
                [{"account_id": a, "owner_id": o} for a, o in opened.items()],
                ["account_id"],
            )
            self._written("owners")

    @handles(Account.Opened)
    def account_opened(self, conn: Connection, e: Any, position: int) -> None:
        if not hasattr(self, "_opened"):
            self._opened = {}
        self._wait("owners", position)
        self._opened[str(e.originator_id)] = e.owner_id

    @handles(Account.OwnershipTransferred)
    def ownership_transferred(self, conn: Connection, e: Any, position: int) -> None:
        account_id = str(e.originator_id)
        upsert(
            conn,
            self.account_owners,
            {"account_id": account_id, "owner_id": e.to_owner_id},
            ["account_id"],
        )
        for column in self.owner_columns:
            table = column.table
            conn.execute(
                update(table)
                .where(table.c.account_id == account_id)
                .values({column.name: e.to_owner_id})
            )

    def owner_of(self, conn: Connection, account_id: str) -> str:
        owners = self.account_owners
        found = conn.execute(
            select(owners.c.owner_id).where(owners.c.account_id == str(account_id))
        ).scalar()
        return found or ""

    def owners_of(self, conn: Connection, account_ids: list[Any]) -> dict[str, str]:
        owners = self.account_owners
        rows = conn.execute(
            select(owners.c.account_id, owners.c.owner_id).where(
                owners.c.account_id.in_(sorted({str(a) for a in account_ids}))
            )
        ).all()
        return {account_id: owner_id for account_id, owner_id in rows}
