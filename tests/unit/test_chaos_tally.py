"""The chaos tally's rows: an exact claim holds only when equal, a floor (kill -9s) when reached;
the table shows the floor as such and names a miss."""

from __future__ import annotations

from tests.chaos.tally import Row, table


def test_a_floor_holds_when_reached_and_an_exact_claim_only_when_equal() -> None:
    assert Row("kill -9s", 20, 46, at_least=True).holds
    assert not Row("kill -9s", 20, 19, at_least=True).holds
    assert Row("drafts = jobs closed", 10, 10).holds
    assert not Row("drafts = jobs closed", 10, 11).holds


def test_the_table_shows_the_floor_and_the_miss() -> None:
    text = table([Row("kill -9s", 20, 19, at_least=True), Row("dead letters", 0, 0)], {})
    assert "kill -9s  " in text and "≥ 20" in text and text.count("MISS") == 1
