"""The delivery asset's UI breakdown: sends per campaign and state, failures per reason, never an address."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from reengage.defs.delivery.metadata import delivery_breakdown, short_reason
from reengage.warehouse import WarehouseResource

DAY = date(2026, 3, 10)


def _warehouse(tmp_path: Path) -> WarehouseResource:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "create schema delivery; create table delivery.campaign_sends "
        "(run_date date, campaign_id varchar, variant varchar, state varchar, last_error varchar)"
    )
    rows = [
        (DAY, "winback", "a", "accepted", None),
        (DAY, "winback", "a", "accepted", None),
        (DAY, "winback", "b", "held", None),
        (DAY, "winback", "b", "failed", "400: invalid to address jo@example.com; field personalizations"),
        (DAY, "cart", "a", "failed", "400: invalid to address al@example.org"),
        (date(2026, 3, 9), "cart", "a", "accepted", None),  # another day: not counted
    ]
    con.executemany("insert into delivery.campaign_sends values (?, ?, ?, ?, ?)", rows)
    con.close()
    return WarehouseResource(path=str(path))


def test_sends_are_broken_down_by_campaign_variant_and_state_for_the_day(tmp_path: Path) -> None:
    table = delivery_breakdown(_warehouse(tmp_path), DAY)["sends_by_campaign"].value
    assert table.splitlines()[0] == "| campaign | variant | accepted | failed | held |"
    assert "| cart | a | 0 | 1 | 0 |" in table
    assert "| winback | a | 2 | 0 | 0 |" in table
    assert "| winback | b | 0 | 1 | 1 |" in table


def test_failure_reasons_are_grouped_without_addresses(tmp_path: Path) -> None:
    table = delivery_breakdown(_warehouse(tmp_path), DAY)["failed_by_reason"].value
    assert "| 400: invalid to address <address> | 2 |" in table
    assert "@" not in table


def test_a_reason_is_short_and_cannot_break_the_markdown_table() -> None:
    assert short_reason(None) == "unknown"
    assert short_reason("a|b\nsecond line") == "a/b second line"
    assert len(short_reason("x" * 500)) == 80
