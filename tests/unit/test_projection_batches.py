"""A projection's bulk writes (gathered rows, account-owner mirrors) report the first event
still waiting for `flush`, so a failing flush is recorded at the right position."""

from __future__ import annotations

from typing import Any

from crm_api.projections.base import Projection


class NoDatabase:
    """Stands in for a connection: a projection under test never reaches the database here."""

    def execute(self, *args: Any) -> None:
        raise AssertionError("no SQL expected")


def test_the_earliest_waiting_write_is_reported_until_it_is_written() -> None:
    projection = Projection()
    projection.begin(NoDatabase())  # type: ignore[arg-type]
    assert projection.pending_from is None
    projection._wait("owners", 5)
    projection._wait("gathered", 7)
    projection._wait("owners", 9)  # later events of the same kind keep the first position
    assert projection.pending_from == 5
    projection._written("owners")
    assert projection.pending_from == 7
    projection._written("gathered")
    assert projection.pending_from is None
    projection._wait("gathered", 11)
    projection.begin(NoDatabase())  # type: ignore[arg-type]
    assert projection.pending_from is None
