"""DataLoaders, one set per operation: nested relations cost one query per level, not per row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from anyio import to_thread
from sqlalchemy import Table, select
from strawberry.dataloader import DataLoader

from crm_api.application.accounts import account_view
from crm_api.application.services import Services
from crm_api.domain.errors import NotFound
from crm_api.domain.people import Principal
from crm_api.projections.accounts import contacts_of_accounts
from crm_api.projections.custom_fields import values_of
from crm_api.projections.directory import teams, users
from crm_api.projections.paging import MAX_LIMIT

Row = dict[str, Any]


def rows_by_id(services: Services, table: Table, ids: Sequence[str]) -> list[Row | None]:
    with services.read() as conn:
        rows = conn.execute(select(table).where(table.c.id.in_(list(ids))))
        found = {row.id: dict(row._mapping) for row in rows}
    return [found.get(record_id) for record_id in ids]


class Loaders:
    """Users and teams come from the directory read model; an account is loaded the way
    `get_account` loads it, so a caller never reaches an account it may not see (null)."""

    def __init__(self, services: Services, principal: Callable[[], Awaitable[Principal]]) -> None:
        self._services = services
        self._principal = principal
        self.users: DataLoader[str, Row | None] = DataLoader(self._users)
        self.teams: DataLoader[str, Row | None] = DataLoader(self._teams)
        self.contacts_of_account: DataLoader[str, list[Row]] = DataLoader(self._contacts)
        self.visible_accounts: DataLoader[str, Row | None] = DataLoader(self._accounts)

    async def _users(self, ids: list[str]) -> list[Row | None]:
        return await to_thread.run_sync(rows_by_id, self._services, users, ids)

    async def _teams(self, ids: list[str]) -> list[Row | None]:
        return await to_thread.run_sync(rows_by_id, self._services, teams, ids)

    async def _contacts(self, account_ids: list[str]) -> list[list[Row]]:
        """Each account's first contacts (as many as `Account.contacts` can show) with their
        custom fields, read in one query for all of them."""

        def load() -> list[list[Row]]:
            with self._services.read() as conn:
                found = contacts_of_accounts(conn, account_ids)
                shown = [found[account_id][:MAX_LIMIT] for account_id in account_ids]
                values = values_of(
                    conn, "contacts", [str(row["id"]) for rows in shown for row in rows]
                )
            for rows in shown:
                for row in rows:
                    row["custom_fields"] = values[str(row["id"])]
            return shown

        return await to_thread.run_sync(load)

    async def _accounts(self, ids: list[str]) -> list[Row | None]:
        principal = await self._principal()

        def load() -> list[Row | None]:
            found: list[Row | None] = []
            for account_id in ids:
                try:
                    account = self._services.accounts.get_account(principal, account_id)
                except NotFound:
                    found.append(None)
                else:
                    found.append(account_view(account))
            return found

        return await to_thread.run_sync(load)
