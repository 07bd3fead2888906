"""Reads of customer value, grades, margins and the data-entry KPIs, with who may see what:
everyone with `analytics:read` sees the accounts (and users) of the owners it sees; margins
and team KPIs span everybody's accounts and are for the roles that read everything (and
managers, for their own teams' KPIs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from crm_api.domain.context import Clock
from crm_api.domain.errors import FieldError, PermissionDenied, ValidationFailed
from crm_api.domain.grading import GradingRule
from crm_api.domain.people import Principal, Role
from crm_api.projections import insights, kpis
from crm_api.projections.paging import Page, Sort

KPI_DAYS = 30
GRADE_BATCH = 1000


def period_of(start: date | None, end: date | None) -> insights.Period:
    if start is not None and end is not None and end <= start:
        raise ValidationFailed([FieldError("to", "must be after from")])
    return insights.Period(start, end)


def _one_of(group_by: str, allowed: tuple[str, ...]) -> None:
    if group_by not in allowed:
        raise ValidationFailed([FieldError("group_by", f"must be one of {', '.join(allowed)}")])


class InsightsService:
    def __init__(
        self, reader: Engine, clock: Clock, rule: GradingRule, writer: Engine | None = None
    ) -> None:
        self.reader = reader
        self.writer = writer or reader
        """Grades are stored through it (on SQLite, a writer engine queues on the file lock)."""
        self.clock = clock
        self.rule = rule

    def refresh_grades(self, now: datetime | None = None) -> int:
        """The watchers' tick for grades: store the automatic grade, as of `now`, of every
        account whose stored grade is due (an order changed, or ageing changes it by now), a
        batch at a time; all accounts with orders when the rule changed. Returns how many
        were graded. Its cost follows the due accounts, not all accounts."""
        at = self._as_of(now)
        with self.writer.begin() as conn:
            insights.begin_grading(conn, self.rule, at)
        graded = 0
        while True:
            with self.writer.begin() as conn:
                due, stored = insights.grade_due_accounts(conn, self.rule, at, GRADE_BATCH)
            graded += stored
            # Not stored: the account's orders changed meanwhile; the next pass takes it.
            if due < GRADE_BATCH or stored == 0:
                return graded

    def _as_of(self, as_of: datetime | None) -> datetime:
        if as_of is None:
            return self.clock.now()
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)

    @staticmethod
    def _owners(principal: Principal) -> frozenset[str] | None:
        principal.require("analytics:read")
        return None if principal.training else principal.visible_owners

    def customer_value(
        self,
        principal: Principal,
        *,
        sort: str | None,
        cursor: str | None,
        limit: int,
        start: date | None = None,
        end: date | None = None,
        as_of: datetime | None = None,
        owner_id: str | None = None,
    ) -> Page:
        owners = self._owners(principal)
        with self.reader.connect() as conn:
            return insights.customer_value(
                conn,
                visible_owners=owners,
                sort=Sort.parse(sort, insights.VALUE_SORTS, "-revenue"),
                cursor=cursor,
                limit=limit,
                period=period_of(start, end),
                as_of=self._as_of(as_of),
                rule=self.rule,
                owner_id=owner_id,
            )

    def pareto(
        self,
        principal: Principal,
        *,
        cursor: str | None,
        limit: int,
        start: date | None = None,
        end: date | None = None,
    ) -> tuple[Page, Decimal]:
        owners = self._owners(principal)
        with self.reader.connect() as conn:
            page, total = insights.pareto(
                conn,
                visible_owners=owners,
                period=period_of(start, end),
                cursor=cursor,
                limit=limit,
            )
        return page, insights.money(total)

    def grades(
        self, principal: Principal, *, cursor: str | None, limit: int, as_of: datetime | None = None
    ) -> dict[str, Any]:
        owners = self._owners(principal)
        at = self._as_of(as_of)
        with self.reader.connect() as conn:
            stored = insights.stored_grades_hold(conn, self.rule, at)
            summary = insights.grade_matrix(
                conn, visible_owners=owners, rule=self.rule, as_of=at, stored=stored
            )
            page = insights.grade_disagreements(
                conn,
                visible_owners=owners,
                rule=self.rule,
                as_of=at,
                cursor=cursor,
                limit=limit,
                stored=stored,
            )
        return {**summary, "as_of": at, "disagreements": page}

    def margins(
        self,
        principal: Principal,
        *,
        group_by: str,
        sort: str | None,
        cursor: str | None,
        limit: int,
        start: date | None = None,
        end: date | None = None,
    ) -> Page:
        _one_of(group_by, insights.MARGIN_GROUPS)
        if self._owners(principal) is not None:
            raise PermissionDenied(
                "margins span every account: they are for the roles that read all accounts",
                code="forbidden",
            )
        with self.reader.connect() as conn:
            return insights.margins(
                conn,
                group_by=group_by,
                period=period_of(start, end),
                sort=Sort.parse(sort, insights.MARGIN_SORTS, "-margin"),
                cursor=cursor,
                limit=limit,
            )

    def data_entry(
        self,
        principal: Principal,
        *,
        group_by: str,
        cursor: str | None,
        limit: int,
        start: date | None = None,
        end: date | None = None,
    ) -> tuple[list[dict[str, Any]], Page, date, date]:
        """KPIs per user (those the caller sees) or per team (a manager's own teams; every
        team for the roles that read everything) over [start, end), by default the last 30
        days up to today."""
        _one_of(group_by, ("user", "team"))
        owners = self._owners(principal)
        today = self.clock.now().astimezone(UTC).date()
        end = end or today + timedelta(days=1)
        start = start or end - timedelta(days=KPI_DAYS)
        period_of(start, end)
        if principal.role is Role.SERVICE_AGENT and not principal.training:
            owners = frozenset({principal.id})
        with self.reader.connect() as conn:
            if group_by == "team":
                if owners is not None and principal.role is not Role.MANAGER:
                    raise PermissionDenied("team KPIs are for managers, auditors and admins")
                teams = None if owners is None else principal.managed_team_ids
                page, groups = kpis.team_page(conn, teams=teams, cursor=cursor, limit=limit)
            else:
                page = kpis.user_page(conn, visible=owners, cursor=cursor, limit=limit)
                groups = {row["id"]: [row["id"]] for row in page.rows}
            rows = kpis.data_entry(conn, groups, start, end, today)
        return rows, page, start, end
