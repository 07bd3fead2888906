"""Meeting notices and matter reports as the domain decides them: acknowledgements."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from crm_api.domain.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from crm_api.domain.notices import MatterReport, MeetingNotice
from tests.work_support import NOW, event_types, stamped


def issue(attendees=("rep-a", "rep-b"), ends_at=None) -> MeetingNotice:
    return stamped(
        lambda: MeetingNotice.issue(
            uuid4(),
            organizer_id="manager-1",
            title="Monday meeting",
            starts_at=NOW + timedelta(days=7),
            ends_at=ends_at,
            place=None,
            agenda=None,
            attendee_ids=list(attendees),
        )
    )


def test_each_attendee_acknowledges_once_and_the_notice_knows_when():
    notice = issue()
    later = NOW + timedelta(minutes=5)
    stamped(lambda: notice.acknowledge("rep-a"), occurred_at=later)
    assert notice.acknowledged == {"rep-a": later}
    with pytest.raises(Conflict):
        stamped(lambda: notice.acknowledge("rep-a"))
    with pytest.raises(PermissionDenied) as refused:
        stamped(lambda: notice.acknowledge("manager-1"))
    assert refused.value.code == "not_an_attendee"
    assert event_types(notice) == ["MeetingNoticeCreated", "MeetingNoticeAcknowledged"]


def test_a_cancelled_meeting_is_not_acknowledged():
    notice = issue()
    stamped(lambda: notice.cancel("moved"))
    with pytest.raises(InvalidTransition):
        stamped(lambda: notice.acknowledge("rep-b"))


@pytest.mark.parametrize(
    ("attendees", "ends_at", "field"),
    [
        ((), None, "attendee_ids"),
        (("rep-a", "rep-a"), None, "attendee_ids"),
        (("rep-a",), NOW, "ends_at"),
    ],
)
def test_a_notice_needs_distinct_attendees_and_an_end_after_its_start(attendees, ends_at, field):
    with pytest.raises(ValidationFailed) as refused:
        issue(attendees, ends_at)
    assert [e.field for e in refused.value.errors] == [field]


def file(addressed_to="manager-1", severity="high") -> MatterReport:
    return stamped(
        lambda: MatterReport.file(
            uuid4(),
            author_id="rep-a",
            addressed_to=addressed_to,
            title="Competitor",
            text="They undercut us",
            severity=severity,
            links=[],
        )
    )


def test_only_the_addressee_acknowledges_a_report_once():
    report = file()
    with pytest.raises(PermissionDenied):
        stamped(lambda: report.acknowledge("rep-a", may_acknowledge_any=False))
    stamped(lambda: report.acknowledge("manager-1", may_acknowledge_any=False))
    assert (report.acknowledged_by, report.acknowledged_at) == ("manager-1", NOW)
    with pytest.raises(Conflict):
        stamped(lambda: report.acknowledge("manager-1", may_acknowledge_any=False))


def test_an_admin_may_acknowledge_a_report_nobody_is_addressed():
    report = file(addressed_to=None)
    stamped(lambda: report.acknowledge("admin-1", may_acknowledge_any=True))
    assert report.acknowledged_by == "admin-1"
    with pytest.raises(ValidationFailed):
        file(severity="urgent")
