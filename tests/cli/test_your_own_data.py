"""A shop's own exports through the real command line, as README's "Your own data" tells a team:
`reengage init`, the settings file edited, `check-exports`, `backfill` of the history, then `run`
for a closed Sunday and the Monday after. Each friction point a first day meets is one test on the
same small world, which the commands build once (three dbt builds), in processes of their own: a
history from 2011 needs the first day the team's own exports decide, not the suite's.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from cli_world import edit_settings, reengage_in

from reengage_dev.demo.world import generate_world

FIRST, SATURDAY, SUNDAY, MONDAY = date(2011, 11, 30), date(2011, 12, 3), date(2011, 12, 4), date(2011, 12, 5)
CHANGED_DAY = date(2011, 12, 1)
# A negative lifetime value (refunds above orders, or a sign error), and one that is no amount.
NEGATIVE, ABSURD = ("cus_0000004", "-120.50"), ("cus_0000003", "5e12")
BUYER, PRICE, REFUND = "cus_0000005", 40.0, 15.0
UNKNOWN_NAME = "gift_wrap_added"
# A signup the tracker saw on Monday and the CRM has not exported yet.
STRANGER = "cus_9999999"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The shop's folder, and each command's finished process, in the order a team runs them."""
    folder = tmp_path_factory.mktemp("shop")
    done: dict[str, subprocess.CompletedProcess[str] | Path] = {"folder": folder}
    done["init"] = reengage_in(folder, "init")
    # What a closed shop writes: its CRM exports only changed customers and skips the Sunday, and
    # a day without mail events had none; home and landing sit beside the settings file.
    edit_settings(folder / "reengage.toml", "", {"home": '"home"', "landing": '"landing"'})
    edit_settings(folder / "reengage.toml", "sources.customers", {"missing_file": '"no_change"'})
    edit_settings(folder / "reengage.toml", "sources.email_events", {"missing_file": '"no_activity"'})
    edit_settings(folder / "reengage.toml", "sources.products", {"missing_file": '"no_change"'})
    _land_the_shops_exports(folder)
    done["check"] = reengage_in(folder, "check-exports", "landing")
    done["backfill"] = reengage_in(folder, "backfill", "--from", str(FIRST), "--to", str(SATURDAY))
    done["sunday"] = reengage_in(folder, "run", "--date", str(SUNDAY))
    done["monday"] = reengage_in(folder, "run", "--date", str(MONDAY))
    return done


def _land_the_shops_exports(folder: Path) -> None:
    """Six days from Wednesday 2011-11-30 (customers: everyone on the first day, then only those who
    changed), the Sunday without any file, and the rows each friction point needs."""
    generate_world(folder, customers=40, days=6, end_date=MONDAY, seed=3, dirty_share=0.0)
    landing = folder / "landing"
    for path in landing.glob(f"*/*_{SUNDAY}.*"):
        path.unlink()
    customers = landing / "customers" / f"customers_{CHANGED_DAY}.csv"
    changed = pd.read_csv(customers, dtype=str)
    everyone = pd.read_csv(landing / "customers" / f"customers_{FIRST}.csv", dtype=str).set_index(
        "customer_id"
    )
    later = sorted(landing.glob("customers/customers_*.csv"))[1:]
    assert not {NEGATIVE[0], ABSURD[0]} & set().union(*(pd.read_csv(path)["customer_id"] for path in later))
    rows = everyone.loc[[NEGATIVE[0], ABSURD[0]]].reset_index()
    rows["lifetime_value"] = [NEGATIVE[1], ABSURD[1]]
    rows["updated_at"] = f"{CHANGED_DAY}T09:00:00Z"
    pd.concat([changed, rows]).to_csv(customers, index=False)
    _add_events(landing, SATURDAY, [("purchase", PRICE)])
    _add_events(landing, MONDAY, [("refund", REFUND), (UNKNOWN_NAME, None), (UNKNOWN_NAME, None)])
    _add_events(landing, MONDAY, [("page_view", None), ("add_to_cart", None)], user=STRANGER)


def _add_events(landing: Path, day: date, named: list[tuple[str, float | None]], user: str = BUYER) -> None:
    path = landing / "events" / f"events_{day}.parquet"
    events = pd.read_parquet(path)
    rows = pd.DataFrame(
        {
            "event_id": [f"shop-{user}-{day}-{n}" for n in range(len(named))],
            "user_id": user,
            "anonymous_id": f"anon-{user}",
            "event_name": [name for name, _ in named],
            "event_ts": pd.Timestamp(f"{day} 10:00:00", tz="UTC"),
            "value": [value for _, value in named],
        }
    )
    pd.concat([events, rows.astype({c: events[c].dtype for c in rows.columns})]).to_parquet(path)


def _query(shop: dict, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(shop["folder"] / "home" / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.e2e
def test_a_history_from_2011_starts_on_its_earliest_export_and_is_checked_and_backfilled_as_the_settings_say(
    shop,
) -> None:
    # Guards a first day on old exports: run dates started in the suite's or today's year, so a
    # 2011 history could not be backfilled; the settings file reengage init writes is what the
    # commands read from the team's folder (home and landing relative to it).
    assert _ok(shop["init"]).startswith("Wrote reengage.toml")
    check = _ok(shop["check"])
    assert f"Checking {shop['folder'] / 'landing'} (5 days, {FIRST} to {MONDAY})" in check
    assert "would be refused" in check and "All 20 files would load without a refused row." in check
    backfill = _ok(shop["backfill"])
    days = [line.split()[:2] for line in backfill.splitlines() if line.startswith("  2011-")]
    assert days == [[str(day), "ok"] for day in pd.date_range(FIRST, SATURDAY).date.astype(str)]
    assert f"Backfill {FIRST} to {SATURDAY}: 4 days, " in backfill and backfill.count("no failures") == 1
    assert _query(shop, "select min(_partition_date) from raw.customers") == [(FIRST,)]


@pytest.mark.e2e
def test_a_closed_sunday_runs_green_with_a_closed_shops_settings_and_monday_counts_mondays_activity(
    shop,
) -> None:
    # Guards the closed Sunday: with the CRM's changed customers as no_change and mail events as
    # no_activity, a day without any file runs the whole job instead of stopping as late or lost,
    # and Monday's run is as of Monday with nobody lost to the empty day.
    sunday = _ok(shop["sunday"])
    assert "  customers     no file (no change)" in sunday
    assert "  email_events  no file (no activity)" in sunday
    assert f"The daily job for {SUNDAY} succeeded." in sunday
    monday = _ok(shop["monday"])
    assert f"The daily job for {MONDAY} succeeded." in monday
    landed = len(pd.read_parquet(shop["folder"] / "landing" / "events" / f"events_{MONDAY}.parquet"))
    assert _query(shop, "select count(*) from raw.events where _partition_date = ?", [SUNDAY]) == [(0,)]
    assert _query(shop, "select count(*) from raw.events where _partition_date = ?", [MONDAY]) == [(landed,)]
    per_day = dict(
        _query(shop, "select activity_date, count(*) from marts.fct_user_daily_activity group by 1")
    )
    assert SUNDAY not in per_day and per_day[MONDAY] > 0
    assert _query(shop, "select distinct as_of_date from marts.fct_user_features") == [(MONDAY,)]


@pytest.mark.e2e
def test_a_customers_export_of_only_the_changed_customers_keeps_every_other_customer(shop) -> None:
    # Guards a changed-customers CRM export read as the whole customer base: every customer of the
    # first day's full export is still there on Monday, with the newest values of those who changed.
    landing = shop["folder"] / "landing" / "customers"
    files = sorted(landing.glob("customers_*.csv"))
    assert len(pd.read_csv(files[0])) > 5 * max(len(pd.read_csv(path)) for path in files[1:])
    everyone = set().union(*(pd.read_csv(path, dtype=str)["customer_id"] for path in files))
    features = dict(_query(shop, "select customer_id, lifetime_value from marts.fct_user_features"))
    assert set(features) == everyone


@pytest.mark.e2e
def test_a_negative_or_absurd_lifetime_value_is_null_with_a_warning_row_and_the_customer_loaded(shop) -> None:
    # Guards refusing people for a value, and ranking them by one that is no amount: a negative
    # lifetime value and one beyond a billion are each set to null, check-exports says so before
    # anything loads, raw.quarantine keeps a warning row for each, and both customers are in the
    # warehouse with their consent (a negative value once loaded as exported).
    check = shop["check"].stdout
    file_line = f"customers/customers_{CHANGED_DAY}.csv: 3 rows read, 3 would load, 0 would be refused\n"
    assert file_line in check
    notes = check.split(file_line)[1].split("\n")[:2]
    assert sorted(note.split(" (")[-1].split(";")[0] for note in notes) == [
        "above the allowed maximum 1e+09",
        "below the allowed minimum 0",
    ], notes
    assert all(note.startswith("  note: column 'lifetime_value': 1 ") for note in notes), notes
    kept = {
        customer: (value, consent)
        for customer, value, consent in _query(
            shop, "select customer_id, lifetime_value, consent_status from marts.fct_user_features"
        )
    }
    # Loaded, and not held back as unverified: a value set to null is no refused row.
    assert kept[NEGATIVE[0]][0] is None and kept[NEGATIVE[0]][1] != "unverified"
    assert kept[ABSURD[0]][0] is None and kept[ABSURD[0]][1] != "unverified"
    assert _query(
        shop,
        "select row, reason from raw.quarantine where row_kept and \"column\" = 'lifetime_value' order by 1",
    ) == [(2, "below the allowed minimum 0"), (3, "above the allowed maximum 1e+09")]


@pytest.mark.e2e
def test_an_unknown_event_name_is_reported_with_its_rows_by_check_exports_and_by_the_run(shop) -> None:
    # Guards a name the event catalog does not know passing in silence: it loads (the tracker recorded
    # it), and both the check and the day's run name it with its rows, so someone describes it.
    said = f"event_name not in dbt_project/seeds/event_catalog.csv (loaded, counted): {UNKNOWN_NAME} (2)"
    assert said in shop["check"].stdout
    assert said in shop["monday"].stdout
    assert UNKNOWN_NAME not in shop["sunday"].stdout


@pytest.mark.e2e
def test_events_of_a_customer_the_crm_has_not_exported_are_loaded_and_reported_by_the_check_and_the_run(
    shop,
) -> None:
    # Guards events silently orphaned: those of a customer no CRM export holds (a signup the CRM has
    # not caught up with) are loaded as they are, never matched by a guess, and both check-exports and
    # the day's run summary count them, so someone looks at the CRM export.
    checked = (
        f"2 rows with a user_id no customers file checked here (up to {MONDAY}) holds (1 distinct value)"
    )
    assert checked in shop["check"].stdout
    summary = f"2 rows with a user_id no customers export loaded up to {MONDAY} holds (1 distinct value)"
    assert summary in shop["monday"].stdout
    assert "with a user_id no customers" not in shop["sunday"].stdout
    assert _query(shop, "select count(*) from raw.events where user_id = ?", [STRANGER]) == [(2,)]


@pytest.mark.e2e
def test_a_refund_is_not_a_purchase_and_comes_off_revenue(shop) -> None:
    # Guards a refund counted as a purchase (or ignored): the catalog's kind `reversal` makes it no
    # purchase and no action, and its amount comes off every revenue figure (docs/meanings.md).
    landing = shop["folder"] / "landing" / "events"
    events = pd.concat(pd.read_parquet(path) for path in landing.glob("events_*.parquet"))
    bought = events[(events["user_id"] == BUYER) & (events["event_name"] == "purchase")]
    assert _query(
        shop, "select purchases_90d, revenue_90d from marts.fct_user_features where customer_id = ?", [BUYER]
    ) == [(len(bought), pytest.approx(bought["value"].sum() - REFUND))]
    assert _query(
        shop,
        "select purchase_count, active_action_count, revenue from marts.fct_user_daily_activity "
        "where customer_id = ? and activity_date = ?",
        [BUYER, MONDAY],
    ) == [(0, 0, -REFUND)]
