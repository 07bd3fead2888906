"""Meeting notices and matter reports over REST: acknowledgements by attendees only, each an
event; reports addressed to the author's manager; who sees what."""

from __future__ import annotations

from tests.sales_support import history_types
from tests.work_support import (
    NOTICES,
    REPORTS,
    assert_problem,
    fields,
    file_report,
    get,
    issue_notice,
    ok,
    post,
)


def test_each_attendee_acknowledges_itself_once_and_the_notice_shows_who(client, company, clock):
    notice = issue_notice(company, "manager", ["rep_a", "rep_b"], place="Room 4", agenda="Pipeline")
    url = f"{NOTICES}/{notice['id']}"
    assert [a["acknowledged_at"] for a in notice["attendees"]] == [None, None]
    clock.advance(minutes=5)
    acknowledged = ok(post(company, "rep_a", f"{url}/acknowledge"))
    assert acknowledged["acknowledged_count"] == 1
    assert acknowledged["attendees"] == [
        {
            "user_id": company.ids["rep_a"],
            "acknowledged_at": clock.now().isoformat().replace("+00:00", "Z"),
        },
        {"user_id": company.ids["rep_b"], "acknowledged_at": None},
    ]
    assert_problem(post(company, "rep_a", f"{url}/acknowledge"), 409, "already_acknowledged")
    assert_problem(post(company, "manager", f"{url}/acknowledge"), 403, "not_an_attendee")
    by_assistant = post(company, "assistant", f"{url}/acknowledge", on_behalf_of="rep_a")
    assert_problem(by_assistant, 403, "not_an_attendee")
    assert history_types(company, url) == ["MeetingNoticeCreated", "MeetingNoticeAcknowledged"]
    listed = ok(get(company, "rep_a", NOTICES))["data"]
    assert listed == [acknowledged]


def test_notices_are_seen_by_organizer_attendees_and_managers_only(client, company):
    notice = issue_notice(company, "rep_a", ["rep_b"])
    url = f"{NOTICES}/{notice['id']}"
    for who in ("rep_a", "rep_b", "manager", "auditor"):
        assert ok(get(company, who, url))["id"] == notice["id"]
    assert_problem(get(company, "rep_c", url), 404, "not_found")
    assert_problem(post(company, "rep_c", f"{url}/acknowledge"), 404, "not_found")
    assert ok(get(company, "rep_c", NOTICES))["data"] == []
    mine = ok(get(company, "rep_b", NOTICES, attendee_id=company.ids["rep_b"]))["data"]
    assert [n["id"] for n in mine] == [notice["id"]]


def test_a_notice_needs_real_attendees_and_a_sane_time(client, company):
    body = {"title": "x", "starts_at": "2026-01-12T09:00:00Z"}
    nobody = post(company, "manager", NOTICES, {**body, "attendee_ids": []})
    assert fields(assert_problem(nobody, 422, "validation_failed")) == ["attendee_ids"]
    ghost = post(
        company,
        "manager",
        NOTICES,
        {**body, "attendee_ids": ["00000000-0000-4000-8000-00000000dead"]},
    )
    assert fields(assert_problem(ghost, 422, "validation_failed")) == ["attendee_ids[0]"]
    backwards = post(
        company,
        "manager",
        NOTICES,
        {**body, "ends_at": "2026-01-12T08:00:00Z", "attendee_ids": [company.ids["rep_a"]]},
    )
    assert fields(assert_problem(backwards, 422, "validation_failed")) == ["ends_at"]


def test_the_organizer_cancels_and_then_nobody_acknowledges(client, company):
    notice = issue_notice(company, "manager", ["rep_a"])
    url = f"{NOTICES}/{notice['id']}"
    assert_problem(post(company, "rep_a", f"{url}/cancel"), 403, "forbidden")
    assert ok(post(company, "manager", f"{url}/cancel", {"reason": "moved"}))["cancelled"] is True
    assert_problem(post(company, "rep_a", f"{url}/acknowledge"), 409, "invalid_state")


def test_a_report_goes_to_the_authors_manager_who_acknowledges_it(client, company):
    account = company.open_account("rep_a")
    report = file_report(company, "rep_a", links=[{"type": "account", "id": account["id"]}])
    assert (report["author_id"], report["addressed_to"], report["acknowledged_by"]) == (
        company.ids["rep_a"],
        company.ids["manager"],
        None,
    )
    url = f"{REPORTS}/{report['id']}"
    assert_problem(post(company, "rep_a", f"{url}/acknowledge"), 403, "not_the_addressee")
    acknowledged = ok(post(company, "manager", f"{url}/acknowledge"))
    assert acknowledged["acknowledged_by"] == company.ids["manager"]
    assert_problem(post(company, "manager", f"{url}/acknowledge"), 409, "already_acknowledged")
    assert history_types(company, url) == ["MatterReportCreated", "MatterReportAcknowledged"]
    assert ok(get(company, "manager", REPORTS, acknowledged="true"))["data"] == [acknowledged]


def test_a_report_is_visible_to_author_manager_admin_and_auditor_only(client, company):
    report = file_report(company, "assistant", on_behalf_of="rep_a", severity="critical")
    assert report["author_id"] == company.ids["rep_a"]
    url = f"{REPORTS}/{report['id']}"
    for who in ("rep_a", "manager", "admin", "auditor"):
        assert ok(get(company, who, url))["id"] == report["id"]
    for who in ("rep_b", "rep_c"):
        assert_problem(get(company, who, url), 404, "not_found")
        assert ok(get(company, who, REPORTS))["data"] == []
    history = ok(get(company, "rep_a", f"{url}/history"))["data"]
    assert (history[0]["actor"], history[0]["on_behalf_of"]) == (
        company.ids["assistant"],
        company.ids["rep_a"],
    )


def test_a_report_without_a_manager_is_acknowledged_by_an_admin(client, company):
    report = file_report(company, "rep_c", severity="low")
    assert report["addressed_to"] is None
    ok(post(company, "admin", f"{REPORTS}/{report['id']}/acknowledge"))
    bad = post(company, "rep_a", REPORTS, {"title": "x", "text": "y", "severity": "urgent"})
    assert fields(assert_problem(bad, 422, "validation_failed")) == ["severity"]
