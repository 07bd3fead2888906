"""Commands and reads on meeting notices and reports of important matters.

A meeting notice is visible to its organizer (and whoever sees the organizer's records: its
manager, admins, auditors) and to its attendees; only an attendee acknowledges it, itself.
A matter report is addressed to the author's manager (the manager of the author's team) and
visible to the author (and the assistant acting for it), that manager, admins and auditors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_api.application.activities import utc
from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.work import WorkRules
from crm_api.domain.errors import InvalidTransition, NotFound, PermissionDenied
from crm_api.domain.notices import MatterReport, MeetingNotice
from crm_api.domain.people import Principal, Role, Team

SEES_ALL_REPORTS = frozenset({Role.ADMIN, Role.AUDITOR})


def notice_view(notice: MeetingNotice) -> dict[str, Any]:
    return {
        "id": str(notice.id),
        "organizer_id": notice.organizer_id,
        "title": notice.title,
        "starts_at": notice.starts_at,
        "ends_at": notice.ends_at,
        "place": notice.place,
        "agenda": notice.agenda,
        "attendees": [
            {"user_id": user_id, "acknowledged_at": notice.acknowledged.get(user_id)}
            for user_id in notice.attendee_ids
        ],
        "acknowledged_count": len(notice.acknowledged),
        "cancelled": notice.cancelled,
        "version": notice.version,
        "created_at": notice.created_on,
        "updated_at": notice.modified_on,
    }


def report_view(report: MatterReport) -> dict[str, Any]:
    return {
        "id": str(report.id),
        "author_id": report.author_id,
        "addressed_to": report.addressed_to,
        "title": report.title,
        "text": report.text,
        "severity": report.severity,
        "links": report.links,
        "acknowledged_by": report.acknowledged_by,
        "acknowledged_at": report.acknowledged_at,
        "version": report.version,
        "created_at": report.created_on,
        "updated_at": report.modified_on,
    }


def sees_all_reports(principal: Principal) -> bool:
    return principal.training or principal.role in SEES_ALL_REPORTS


class NoticeService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self.rules = WorkRules(app)

    # meeting notices

    @command
    def issue_notice(
        self,
        ctx: CommandContext,
        *,
        title: str,
        starts_at: datetime,
        attendee_ids: list[str],
        ends_at: datetime | None = None,
        place: str | None = None,
        agenda: str | None = None,
    ) -> Outcome[MeetingNotice]:
        principal = ctx.principal
        principal.require("notices:write")
        for index, attendee_id in enumerate(attendee_ids):
            self.rules.user(attendee_id, f"attendee_ids[{index}]")
        organizer_id = principal.acting_for

        def build(notice_id: Any) -> list[MeetingNotice]:
            return [
                MeetingNotice.issue(
                    notice_id,
                    organizer_id=organizer_id,
                    title=title,
                    starts_at=utc(starts_at),
                    ends_at=utc(ends_at) if ends_at else None,
                    place=place,
                    agenda=agenda,
                    attendee_ids=list(attendee_ids),
                )
            ]

        return self.app.create(ctx, MeetingNotice, build)

    @command
    def acknowledge_notice(
        self, ctx: CommandContext, notice_id: str, expected: int | None
    ) -> Outcome[MeetingNotice]:
        """An acknowledgement says the attendee itself has read the notice: nobody, not even
        an assistant, acknowledges for someone else."""
        principal = ctx.principal
        if not principal.permits("notices:write"):
            principal.require("notices:write")
        if principal.on_behalf_of is not None:
            raise PermissionDenied(
                "an attendee acknowledges a notice itself, not through an assistant",
                code="not_an_attendee",
            )
        return self.app.change(
            ctx,
            notice_id,
            MeetingNotice,
            lambda notice: notice.acknowledge(principal.id),
            expected_version=expected,
            authorize=lambda notice: self._require_sees_notice(principal, notice),
        )

    @command
    def cancel_notice(
        self, ctx: CommandContext, notice_id: str, reason: str | None, expected: int | None
    ) -> Outcome[MeetingNotice]:
        principal = ctx.principal
        principal.require("notices:write")

        def authorize(notice: MeetingNotice) -> None:
            self._require_sees_notice(principal, notice)
            if notice.organizer_id != principal.acting_for and not principal.sees_owner(
                notice.organizer_id
            ):
                raise PermissionDenied("only the organizer cancels a meeting", code="forbidden")

        return self.app.change(
            ctx,
            notice_id,
            MeetingNotice,
            lambda notice: notice.cancel(reason),
            expected_version=expected,
            authorize=authorize,
        )

    def get_notice(self, principal: Principal, notice_id: str) -> MeetingNotice:
        principal.require("notices:read")
        notice = self.app.load(notice_id, MeetingNotice)
        self._require_sees_notice(principal, notice)
        return notice

    @staticmethod
    def _require_sees_notice(principal: Principal, notice: MeetingNotice) -> None:
        if principal.sees_owner(notice.organizer_id) or principal.acting_for in notice.attendee_ids:
            return
        raise NotFound(f"meeting notice {notice.id} not found")

    # matter reports

    @command
    def file_report(
        self,
        ctx: CommandContext,
        *,
        title: str,
        text: str,
        severity: str,
        links: list[dict[str, str]],
    ) -> Outcome[MatterReport]:
        principal = ctx.principal
        principal.require("matter_reports:write")
        author_id = principal.acting_for
        for index, link in enumerate(links):
            self.rules.record(principal, link["type"], link["id"], f"links[{index}].id")
        addressed_to = self._manager_of(author_id)

        def build(report_id: Any) -> list[MatterReport]:
            return [
                MatterReport.file(
                    report_id,
                    author_id=author_id,
                    addressed_to=addressed_to,
                    title=title,
                    text=text,
                    severity=severity,
                    links=links,
                )
            ]

        return self.app.create(ctx, MatterReport, build)

    @command
    def acknowledge_report(
        self, ctx: CommandContext, report_id: str, expected: int | None
    ) -> Outcome[MatterReport]:
        principal = ctx.principal
        principal.require("matter_reports:write")
        if principal.on_behalf_of is not None:
            raise PermissionDenied(
                "the addressee acknowledges a report itself", code="not_the_addressee"
            )
        return self.app.change(
            ctx,
            report_id,
            MatterReport,
            lambda report: report.acknowledge(principal.id, principal.role is Role.ADMIN),
            expected_version=expected,
            authorize=lambda report: self._require_sees_report(principal, report),
        )

    def get_report(self, principal: Principal, report_id: str) -> MatterReport:
        principal.require("matter_reports:read")
        report = self.app.load(report_id, MatterReport)
        self._require_sees_report(principal, report)
        return report

    @staticmethod
    def _require_sees_report(principal: Principal, report: MatterReport) -> None:
        if (
            sees_all_reports(principal)
            or report.author_id == principal.acting_for
            or report.addressed_to == principal.id
        ):
            return
        raise NotFound(f"matter report {report.id} not found")

    def _manager_of(self, author_id: str) -> str | None:
        """The manager of the author's team; none for a manager reporting in its own team,
        or for an author without a team (an admin then acknowledges)."""
        author = self.rules.user(author_id, "author_id")
        if author.team_id is None:
            return None
        try:
            team = self.app.load(author.team_id, Team, "team")
        except NotFound:
            raise InvalidTransition(
                f"the author's team {author.team_id} does not exist", code="no_team"
            ) from None
        manager: str | None = team.manager_id
        return None if manager == author_id else manager
