def test_a_rep_opens_an_account_and_lists_it_at_once(client, company):
    account = company.open_account("rep_a", "Acme")
    listed = client.get("/api/v1/accounts", headers=company.as_("rep_a")).json()
    assert [a["id"] for a in listed["data"]] == [account["id"]]
