"""Read model of users and teams: who exists, their role, team and the reps they assist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    Numeric,
    String,
    Table,
    func,
    or_,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.people import Team, User
from crm_api.projections.base import Projection, handles, insert_row
from crm_api.projections.paging import Page, Sort, keyset_page

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(32), nullable=False, index=True),
    Column("team_id", String(36), nullable=True, index=True),
    Column("approval_limit_pct", Numeric(5, 2), nullable=True),
    Column("assists", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("manager_id", String(36), nullable=True, index=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("position", BigInteger, nullable=False),
)


def _stamp(event: Any, position: int) -> dict[str, Any]:
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "position": position,
    }


class DirectoryProjection(Projection):
    name = "directory"
    tables = (users, teams)

    @handles(User.Registered)
    def user_registered(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            users,
            dict(
                id=str(e.originator_id),
                name=e.name,
                email=e.email,
                role=e.role,
                team_id=e.team_id,
                approval_limit_pct=e.approval_limit_pct,
                assists=list(e.assists),
                active=True,
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(User.DetailsChanged)
    def user_changed(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(users)
            .where(users.c.id == str(e.originator_id))
            .values(**e.changes, **_stamp(e, position))
        )

    @handles(User.Deactivated, User.Reactivated)
    def user_activation(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(users)
            .where(users.c.id == str(e.originator_id))
            .values(active=isinstance(e, User.Reactivated), **_stamp(e, position))
        )

    @handles(Team.Formed)
    def team_formed(self, conn: Connection, e: Any, position: int) -> None:
        insert_row(
            conn,
            teams,
            dict(
                id=str(e.originator_id),
                name=e.name,
                manager_id=e.manager_id,
                created_at=e.timestamp,
                **_stamp(e, position),
            ),
        )

    @handles(Team.DetailsChanged)
    def team_changed(self, conn: Connection, e: Any, position: int) -> None:
        conn.execute(
            update(teams)
            .where(teams.c.id == str(e.originator_id))
            .values(**e.changes, **_stamp(e, position))
        )


USER_SORTS = ("name", "email", "created_at", "updated_at")
TEAM_SORTS = ("name", "created_at", "updated_at")


def get_user(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return dict(row._mapping) if row else None


def team_member_ids(conn: Connection, manager_id: str) -> tuple[frozenset[str], frozenset[str]]:
    """The teams a manager manages, and their members."""
    team_ids = frozenset(
        conn.execute(select(teams.c.id).where(teams.c.manager_id == manager_id)).scalars()
    )
    if not team_ids:
        return team_ids, frozenset()
    members = conn.execute(select(users.c.id).where(users.c.team_id.in_(team_ids))).scalars()
    return team_ids, frozenset(members)


def list_users(
    conn: Connection,
    *,
    sort: Sort,
    cursor: str | None,
    limit: int,
    role: str | None = None,
    team_id: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Page:
    stmt = select(users)
    if role:
        stmt = stmt.where(users.c.role == role)
    if team_id:
        stmt = stmt.where(users.c.team_id == team_id)
    if active is not None:
        stmt = stmt.where(users.c.active == active)
    if q:
        pattern = like_pattern(q)
        stmt = stmt.where(
            or_(
                func.lower(users.c.name).like(pattern, escape="\\"),
                users.c.email.like(pattern, escape="\\"),
            )
        )
    return keyset_page(conn, stmt, dict(users.c), sort, cursor, limit)


def list_teams(conn: Connection, *, sort: Sort, cursor: str | None, limit: int) -> Page:
    return keyset_page(conn, select(teams), dict(teams.c), sort, cursor, limit)


def like_pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
