"""Vendor exports all the way into sessions: every format's sample (tests/fixtures/formats/), each
on a day of its own, loaded by the real loader, then one real `dbt build` of the models that make
`marts.fct_sessions`. The GA4 and RudderStack samples' sessions are checked row by row."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.loader import load_day
from tests.format_samples import FORMAT_SAMPLES, SAMPLES

from .conftest import run_dbt

# Oldest day first: the build's run date is the last one loaded.
LOADS = sorted(((fmt, name, day) for fmt, (name, day) in FORMAT_SAMPLES.items()), key=lambda load: load[2])
# The days whose sessions and identity links are checked row by row.
CHECKED_ROW_BY_ROW = (FORMAT_SAMPLES["ga4"][1], FORMAT_SAMPLES["rudderstack"][1])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    work = tmp_path_factory.mktemp("event_formats_sessions")
    warehouse = work / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_HOME", str(work))
        con = duckdb.connect(str(warehouse))
        try:
            for fmt, name, day in LOADS:
                landing = work / fmt
                (landing / "events").mkdir(parents=True)
                shutil.copyfile(SAMPLES / fmt / name, landing / "events" / f"events_{day}{Path(name).suffix}")
                (landing / "events" / "format.yml").write_text(f"format: {fmt}\n")
                assert load_day(con, str(landing), "events", day).rows_quarantined == 0
        finally:
            con.close()
    vars_ = json.dumps({"run_date": str(LOADS[-1][2])})
    # cautious: the data tests of these models only, not those that also read a model left out
    args = ["build", "--select", "+fct_sessions", "--indirect-selection", "cautious", "--vars", vars_]
    build = run_dbt(args, warehouse, work)
    assert build.returncode == 0, build.explain()
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute("set timezone = 'UTC'")
    yield con
    con.close()


@pytest.fixture(scope="module")
def sessions(built: duckdb.DuckDBPyConnection) -> list[tuple]:
    return built.execute(
        "select coalesce(customer_id, anonymous_id), is_anonymous, "
        "strftime(session_start_at, '%Y-%m-%d %H:%M:%S.%f'), event_count, product_view_count, "
        "add_to_cart_count, purchase_count, revenue, entry_page "
        "from marts.fct_sessions where session_date in (?, ?) order by session_start_at",
        list(CHECKED_ROW_BY_ROW),
    ).fetchall()


@pytest.mark.parametrize("fmt, day", [(fmt, day) for fmt, _, day in LOADS])
def test_every_event_of_each_formats_sample_is_in_a_session_of_its_day(
    built: duckdb.DuckDBPyConnection, fmt: str, day: date
) -> None:
    # Guards each format's rows as the models read them: an event the stitching or the sessions
    # dropped (a visitor id the models cannot read, a time outside its day) would be missing from
    # the day's sessions; identify calls only link ids and are no events of a session.
    (loaded,) = built.execute(
        "select count(*) from raw.events where _partition_date = ? and event_name <> 'identify'", [day]
    ).fetchone()
    sessions, events = built.execute(
        "select count(*), sum(event_count) from marts.fct_sessions where session_date = ?", [day]
    ).fetchone()
    assert loaded > 0 and sessions > 0
    assert events == loaded


def test_ga4_and_rudderstack_exports_become_sessions_with_their_visitors_stitched_to_the_user(
    sessions: list[tuple],
) -> None:
    # Guards the whole path from a vendor's export to the marts: the anonymous events before a login
    # belong to the user who logged in (GA4's user_pseudo_id, RudderStack's anonymous_id), a 68-minute
    # gap starts a new session, vendor event names count as our page views, product views, carts and
    # purchases, and GA4's microsecond times start the sessions.
    assert sessions == [
        # GA4: visitor 1026454.4271112504 browses, logs in as u-1001 and buys, in one session
        ("u-1001", False, "2021-01-31 09:00:00.123456", 7, 1, 1, 1, 24.0, "https://shop.example.com/"),
        # GA4: visitor 2394110.8934405713 stays anonymous; 68 minutes apart, two sessions
        (
            "2394110.8934405713",
            True,
            "2021-01-31 11:00:00.000000",
            3,
            1,
            0,
            0,
            0.0,
            "https://shop.example.com/sale",
        ),
        (
            "2394110.8934405713",
            True,
            "2021-01-31 12:10:00.000000",
            2,
            0,
            0,
            0,
            0.0,
            "https://shop.example.com/",
        ),
        # RudderStack: a page, a product view, a cart and a purchase (the identify in between is no
        # event of the session); the other visitor's page, stitched to user-6001 by a later identify
        ("user-5150", False, "2022-03-01 10:00:00.125000", 4, 1, 1, 1, 899.0, "/"),
        ("user-6001", False, "2022-03-01 18:30:00.000000", 1, 0, 0, 0, 0.0, "/sale"),
    ]


def test_an_identify_row_links_the_visitor_to_the_user_and_is_no_event_of_any_session(
    built: duckdb.DuckDBPyConnection, sessions: list[tuple]
) -> None:
    # Guards an identify call read as activity: Segment's and RudderStack's identifies rows loaded as
    # events of their own made a session of their own (user-6001's at 20:00, 90 minutes after the
    # page) and counted in event counts; they only link an anonymous id to a user.
    assert built.execute(
        "select anonymous_id, customer_id from intermediate.int_identity_map "
        "where first_linked_partition_date in (?, ?) order by all",
        list(CHECKED_ROW_BY_ROW),
    ).fetchall() == [
        ("1026454.4271112504", "u-1001"),
        ("8d872292-709c-4fe7-a0fd-1f1b0ec65f97", "user-5150"),
        ("e0b8d1f4-3a2c-4d5e-9f60-7a8b9c0d1e2f", "user-6001"),
    ]
    assert [s for s in sessions if s[0] == "user-6001"] == [
        ("user-6001", False, "2022-03-01 18:30:00.000000", 1, 0, 0, 0, 0.0, "/sale")
    ]
    assert built.execute(
        "select count(*) from intermediate.int_events_sessionized where event_name = 'identify'"
    ).fetchone() == (0,)
