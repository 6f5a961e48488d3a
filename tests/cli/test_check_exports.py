"""`reengage check-exports`: every export judged by ingest's own rules, nothing loaded or written."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from cli_world import DAY, file_digests, reengage, world


def test_good_exports_pass_with_rows_read_per_file_and_exit_zero(isolated_home, capsys) -> None:
    # Guards the command itself: a user checks a landing folder before the first backfill.
    landing = world(isolated_home)
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 0, out
    assert "3 days, 2026-03-08 to 2026-03-10" in out
    for source, ext in (
        ("customers", "csv"),
        ("events", "parquet"),
        ("email_events", "jsonl"),
        ("products", "csv"),
    ):
        assert f"{source}/{source}_{DAY}.{ext}: " in out
    customers = len(pd.read_csv(landing / "customers" / "customers_2026-03-08.csv"))
    assert (
        f"customers/customers_2026-03-08.csv: {customers} rows read, {customers} would load, 0 would be"
        in out
    )
    assert "All 12 files would load without a refused row." in out


def test_a_damaged_file_is_named_with_row_and_column_exits_one_and_nothing_is_written(
    isolated_home, capsys
) -> None:
    # Guards the promise that a check writes nothing: ingest stages a file's rows under the home
    # (ingest_staging/) and would create the warehouse; a check must leave the home byte-identical.
    landing = world(isolated_home)
    path = landing / "customers" / f"customers_{DAY}.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "email"] = "not-an-address-kept-private"
    path.write_text(frame.to_csv(index=False))
    before = file_digests(isolated_home)
    code, out, _ = reengage(capsys, "check-exports", str(landing), "--date", DAY.isoformat())
    assert code == 1
    read = "1 row" if len(frame) == 1 else f"{len(frame)} rows"
    assert f"customers/customers_{DAY}.csv: {read} read, {len(frame) - 1} would load, 1 would be" in out
    assert "  row 1, column email: " in out
    assert "not-an-address-kept-private" not in out, "a refusal names row and column, never the value"
    assert file_digests(isolated_home) == before
    assert not (isolated_home / "warehouse.duckdb").exists()


def test_a_file_refused_as_a_whole_is_named_with_its_reason(isolated_home, capsys) -> None:
    # Guards a whole-file refusal (here a semicolon-separated CSV) showing as one line, not a trace.
    landing = world(isolated_home)
    path = landing / "customers" / f"customers_{DAY}.csv"
    path.write_text(pd.read_csv(path, dtype=str).to_csv(index=False, sep=";"))
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 1
    assert f"customers/customers_{DAY}.csv: REFUSED whole: line 1: the header is semicolon-separated" in out


def test_event_names_outside_the_catalog_are_counted_per_name(isolated_home, capsys) -> None:
    # Guards the "unknown event names are reported with counts": they load, but nobody
    # has said whether they are actions, so a user should hear of them before the first run.
    landing = world(isolated_home)
    path = landing / "events" / f"events_{DAY}.parquet"
    events = pd.read_parquet(path)
    events.loc[events.index[:3], "event_name"] = "checkout_v2"
    events.loc[events.index[3], "event_name"] = "ann@example.com"  # shown only as a count
    events.to_parquet(path)
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 0, "unknown names are loaded, not refused"
    assert (
        "event_name not in dbt_project/seeds/event_catalog.csv (loaded, counted): checkout_v2 (3), "
        "1 more not shown (1)" in out
    )
    assert "ann@example.com" not in out


def test_events_of_customers_no_crm_file_holds_are_counted(isolated_home, capsys) -> None:
    # Guards the reference check beside the CRM files: such events reach no customer downstream.
    landing = world(isolated_home)
    path = landing / "events" / f"events_{DAY}.parquet"
    events = pd.read_parquet(path)
    events.loc[events.index[:2], "user_id"] = "cus_nobody"
    events.to_parquet(path)
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 0
    assert (
        f"2 rows with a user_id no customers file checked here (up to {DAY}) holds (1 distinct value); "
        "loaded, counted"
    ) in out


def test_a_file_of_one_row_is_counted_in_the_singular(isolated_home, capsys) -> None:
    # Guards the wording of counts: a one-row export read "1 rows read" and "All 1 files would load".
    landing = world(isolated_home)
    path = landing / "customers" / f"customers_{DAY}.csv"
    pd.read_csv(path, dtype=str).head(1).to_csv(path, index=False)
    code, out, _ = reengage(capsys, "check-exports", str(path))
    assert code == 0, out
    assert f"customers/customers_{DAY}.csv: 1 row read, 1 would load, 0 would be refused" in out
    assert "The file would load without a refused row." in out


def test_one_file_is_checked_alone_and_a_missing_required_export_fails_the_day(isolated_home, capsys) -> None:
    # Guards PATH as one file, and a day without its required CRM export (the run would stop).
    landing = world(isolated_home)
    events = landing / "events" / f"events_{DAY}.parquet"
    code, out, _ = reengage(capsys, "check-exports", str(events))
    assert code == 0
    assert f"events/events_{DAY}.parquet: " in out and "customers/" not in out
    (landing / "customers" / f"customers_{DAY}.csv").unlink()
    code, out, _ = reengage(capsys, "check-exports", str(landing), "--date", DAY.isoformat())
    assert code == 1
    assert f"customers/customers_{DAY}.csv|jsonl|parquet: MISSING" in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--date", "2026-02-30"], "argument --date: '2026-02-30' is not a date (write it YYYY-MM-DD)"),
        (["--date"], "argument --date: expected one argument"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_two(isolated_home, capsys, argv, said) -> None:
    # Guards argparse's usage block: the user gets one line saying what is wrong.
    with pytest.raises(SystemExit) as exit_:
        reengage(capsys, "check-exports", str(isolated_home), *argv)
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert err.strip().splitlines() == [f"reengage check-exports: {said} (see reengage check-exports --help)"]


def test_sms_events_are_required_on_each_day_once_the_checked_folder_holds_one(isolated_home, capsys) -> None:
    # Guards check-exports against the configured landing: whether sms_events is absent (a team without
    # SMS) or required is the checked folder's own, so a folder with one SMS export names the days
    # missing theirs, and one without any needs none.
    configured = world(isolated_home)  # the settings' landing folder: no SMS export there
    landing = isolated_home / "elsewhere"
    shutil.copytree(configured, landing)
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 0 and "sms_events" not in out, out
    texts = landing / "sms_events" / f"sms_events_{DAY}.jsonl"
    texts.parent.mkdir()
    texts.write_text(
        '{"EventId": "e1", "Timestamp": "2026-03-10T09:00:00Z", "MessageSid": "SM1", '
        '"MessageStatus": "delivered", "To": "+14155550100"}\n'
    )
    code, out, _ = reengage(capsys, "check-exports", str(landing))
    assert code == 1
    assert "sms_events/sms_events_2026-03-08.csv|jsonl|parquet" in out
    assert "sms_events/sms_events_2026-03-09.csv|jsonl|parquet" in out
