"""Vendor exports all the way into sessions: the GA4 and RudderStack samples
(tests/fixtures/formats/) loaded by the real loader, then a real `dbt build` of the models
that make `marts.fct_sessions`."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.loader import load_day

from .conftest import run_dbt

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"
LOADS = [
    ("ga4", "events_20210131.jsonl", date(2021, 1, 31)),
    ("rudderstack", "tracks_pages_identifies_2022-03-01.csv", date(2022, 3, 1)),
]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
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
    try:
        con.execute("set timezone = 'UTC'")
        return con.execute(
            "select coalesce(customer_id, anonymous_id), is_anonymous, "
            "strftime(session_start_at, '%Y-%m-%d %H:%M:%S.%f'), event_count, product_view_count, "
            "add_to_cart_count, purchase_count, revenue, entry_page "
            "from marts.fct_sessions order by session_start_at"
        ).fetchall()
    finally:
        con.close()


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
        # RudderStack: a page, a product view, a cart, an identify (user-5150) and a purchase
        ("user-5150", False, "2022-03-01 10:00:00.125000", 5, 1, 1, 1, 899.0, "/"),
        (
            "e0b8d1f4-3a2c-4d5e-9f60-7a8b9c0d1e2f",
            True,
            "2022-03-01 18:30:00.000000",
            1,
            0,
            0,
            0,
            0.0,
            "/sale",
        ),
    ]
