"""Receivables and the overdue list through the REST API, on both stores: exact aging at the
bucket boundaries, balances after partial payments, as_of_date, void invoices, currencies,
visibility by the account's owner, paging."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from crm_api.application.services import Services
from tests.receivables_support import Books
from tests.support import Company, FrozenClock

AS_OF = date(2026, 4, 30)


@pytest.fixture
def books(company: Company, services: Services) -> Books:
    return Books(company, services)


def due(days_past_due: int, as_of: date = AS_OF) -> str:
    return (as_of - timedelta(days=days_past_due)).isoformat()


def rows(books: Books, who: str = "auditor", **params: Any) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = books.get(who, "receivables", **params)["data"]
    return data


def test_aging_buckets_at_their_boundaries(books: Books):
    # days past due at AS_OF → amount: each bucket's edges, and a partial payment on one
    amounts = {-1: "1.00", 0: "2.00", 30: "4.00", 31: "8.00", 60: "16.00", 61: "32.00",
               90: "64.00", 91: "128.00"}  # fmt: skip
    invoices = {
        days: books.invoice(amount=amount, issued_at="2026-01-01", due_at=due(days))
        for days, amount in amounts.items()
    }
    books.pay(invoices[90], "10.00", paid_at="2026-01-05")
    [row] = rows(books, as_of_date=AS_OF.isoformat())
    assert (row["account_id"], row["account_name"], row["currency"]) == (
        books.acme["id"],
        "Acme",
        "EUR",
    )
    assert row["owner_id"] == books.company.ids["rep_a"]
    assert (row["invoiced"], row["paid"], row["balance"]) == ("255.00", "10.00", "245.00")
    assert (row["invoice_count"], row["open_invoices"], row["as_of_date"]) == (8, 8, "2026-04-30")
    assert row["aging"] == {
        "not_due": "1.00",
        "d0_30": "6.00",
        "d31_60": "24.00",
        "d61_90": "86.00",
        "over_90": "128.00",
    }
    # one day later, every invoice moves one day along
    [later] = rows(books, as_of_date=(AS_OF + timedelta(days=1)).isoformat())
    assert later["aging"] == {
        "not_due": "0.00",
        "d0_30": "3.00",
        "d31_60": "12.00",
        "d61_90": "48.00",
        "over_90": "182.00",
    }


def test_balances_follow_partial_payments_and_paid_invoices_leave_the_aging(books: Books):
    first = books.invoice(amount="100.00", issued_at="2026-01-01", due_at="2026-01-02")
    second = books.invoice(amount="50.00", issued_at="2026-01-01", due_at="2026-01-31")
    books.pay(first, "40.00")
    [row] = rows(books)
    assert (row["invoiced"], row["paid"], row["balance"]) == ("150.00", "40.00", "110.00")
    assert row["aging"]["d0_30"] == "60.00" and row["aging"]["not_due"] == "50.00"
    books.pay(first, "60.00")
    books.pay(second, "0.01")
    [row] = rows(books)
    assert (row["paid"], row["balance"], row["open_invoices"]) == ("100.01", "49.99", 1)
    assert row["aging"] == {
        "not_due": "49.99",
        "d0_30": "0.00",
        "d31_60": "0.00",
        "d61_90": "0.00",
        "over_90": "0.00",
    }


def test_as_of_date_counts_only_what_was_issued_and_paid_by_then(books: Books):
    invoice = books.invoice(amount="80.00", issued_at="2026-01-02", due_at="2026-01-03")
    books.invoice(amount="20.00", issued_at="2026-01-05", due_at="2026-01-20")
    books.pay(invoice, "30.00", paid_at="2026-01-05")
    [before] = rows(books, as_of_date="2026-01-04")
    assert (before["invoiced"], before["paid"], before["balance"]) == ("80.00", "0.00", "80.00")
    assert before["aging"]["d0_30"] == "80.00"
    assert rows(books, as_of_date="2026-01-01") == []
    [today] = rows(books)  # the clock's today: 2026-01-05
    assert (today["invoiced"], today["paid"], today["balance"]) == ("100.00", "30.00", "70.00")


def test_void_invoices_are_left_out_and_currencies_are_kept_apart(books: Books):
    kept = books.invoice(amount="10.00", due_at="2026-02-01")
    voided = books.invoice(amount="99.00", due_at="2026-02-01")
    books.post("rep_a", f"invoices/{voided['id']}/void", status=200)
    books.invoice(amount="7.00", currency="USD", due_at="2026-02-01")
    found = rows(books)
    assert [(r["currency"], r["invoiced"], r["balance"]) for r in found] == [
        ("EUR", "10.00", "10.00"),
        ("USD", "7.00", "7.00"),
    ]
    assert kept["status"] == "open"


def test_receivables_are_filtered_by_visibility_and_owner(books: Books):
    books.invoice(amount="10.00")
    books.invoice(amount="20.00", account=books.zeta, who="rep_c")
    ids = books.company.ids
    assert [r["account_name"] for r in rows(books, "auditor")] == sorted(
        ["Acme", "Zeta"], key=lambda name: (books.acme if name == "Acme" else books.zeta)["id"]
    )
    assert [r["account_name"] for r in rows(books, "admin")] != []
    assert [r["account_name"] for r in rows(books, "rep_a")] == ["Acme"]
    assert [r["account_name"] for r in rows(books, "rep_c")] == ["Zeta"]
    assert [r["account_name"] for r in rows(books, "manager")] == ["Acme"]
    assert rows(books, "rep_b") == []
    assert [r["account_name"] for r in rows(books, "auditor", owner_id=ids["rep_c"])] == ["Zeta"]
    assert rows(books, "rep_a", owner_id=ids["rep_c"]) == []
    assert [r["balance"] for r in rows(books, "auditor", account_id=books.zeta["id"])] == ["20.00"]


def test_receivables_follow_an_ownership_transfer(books: Books):
    books.invoice(amount="10.00")
    transferred = books.client.post(
        f"/api/v1/accounts/{books.acme['id']}/transfer",
        json={"to_owner_id": books.company.ids["rep_b"]},
        headers=books.company.as_("manager"),
    )
    assert transferred.status_code == 200, transferred.text
    assert rows(books, "rep_a") == []
    assert [r["owner_id"] for r in rows(books, "rep_b")] == [books.company.ids["rep_b"]]
    assert len(books.get("rep_b", "receivables/overdue", as_of_date="2026-03-01")["data"]) == 1


def test_receivables_are_paged(books: Books):
    books.invoice(amount="1.00")
    books.invoice(amount="2.00", currency="USD")
    books.invoice(amount="3.00", account=books.zeta, who="rep_c")
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = books.get("auditor", "receivables", **params)
        seen += [(r["account_id"], r["currency"]) for r in page["data"]]
        cursor = page["next_cursor"]
        assert page["has_more"] is (cursor is not None)
        if not cursor:
            break
    assert seen == sorted(seen) and len(seen) == 3


def test_the_overdue_list_is_oldest_first_with_days_overdue(books: Books, clock: FrozenClock):
    not_yet = books.invoice(amount="1.00", issued_at="2026-01-01", due_at="2026-01-05")
    old = books.invoice(amount="2.00", issued_at="2026-01-01", due_at="2026-01-01")
    older = books.invoice(amount="3.00", issued_at="2026-01-01", due_at="2026-01-02")
    paid = books.invoice(amount="4.00", issued_at="2026-01-01", due_at="2026-01-01")
    books.pay(paid, "4.00")
    books.pay(older, "1.00")
    overdue = books.get("rep_a", "receivables/overdue")["data"]
    assert [(x["id"], x["days_overdue"], x["balance"]) for x in overdue] == [
        (old["id"], 4, "2.00"),
        (older["id"], 3, "2.00"),
    ]
    assert overdue[0]["aging_bucket"] == "d0_30" and overdue[0]["account_name"] == "Acme"
    clock.advance(days=30)
    overdue = books.get("rep_a", "receivables/overdue")["data"]
    assert [(x["id"], x["days_overdue"], x["aging_bucket"]) for x in overdue] == [
        (old["id"], 34, "d31_60"),
        (older["id"], 33, "d31_60"),
        (not_yet["id"], 30, "d0_30"),
    ]
    # the payment of `paid` was made on 2026-01-05: before it, the invoice was overdue too
    then = books.get("auditor", "receivables/overdue", as_of_date="2026-01-04")["data"]
    assert [x["id"] for x in then][:2] == sorted([old["id"], paid["id"]])
    assert books.get("rep_c", "receivables/overdue")["data"] == []


def test_receivables_need_invoices_read(books: Books):
    response = books.client.get("/api/v1/receivables")
    assert response.status_code == 401
