"""`reengage run --date D`: the daily job on the configured landing folder, from the command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
from cli_world import DAY, reengage, world

from reengage import settings
from reengage.privacy.forget_list import add_keys
from reengage.warehouse import connect

ROOT = settings.REPO_ROOT


@pytest.mark.e2e
def test_run_runs_the_daily_job_prints_each_step_and_the_summary_and_keeps_the_run_for_the_ui(
    isolated_home, local_sink, capsys
) -> None:
    # Guards the issue: no command ran the daily job on your own exports; runs.py needed a wrapper.
    world(isolated_home)
    code, out, err = reengage(capsys, "run", "--date", DAY.isoformat())
    assert code == 0, out + err
    assert f"Daily job for {DAY} on {isolated_home / 'landing'}" in out
    assert "  ingest        ok" in out and "raw__events" in out and "warehouse_models" in out
    assert "Rows per stage" in out and "Deliveries by state" in out
    assert f"The daily job for {DAY} succeeded." in out
    run_id = out.split("In the Dagster UI: http://127.0.0.1:3000/runs/", 1)[1].split()[0]
    instance = dg.DagsterInstance.from_config(str(isolated_home / "dagster_home"))
    assert instance.get_run_by_id(run_id).is_success, "the run is in the instance the UI reads"
    assert "PASS" not in out, "dbt's own output goes to the log file, not the terminal"
    with duckdb.connect(str(isolated_home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.events where _partition_date = ?", [DAY]).fetchone()[0]


def test_a_failing_step_is_one_line_with_its_reason_and_exit_one(isolated_home, monkeypatch, capsys) -> None:
    # Guards runs.failures printing Dagster's wrapper ("RetryRequested but retries are disabled",
    # "Error occurred while executing op") instead of the step's reason: a forget list with keys
    # and no pepper stops every ingest step, each saying which setting to set.
    world(isolated_home, days=1)
    with connect() as con:
        add_keys(con, [("customer_id", "0" * 64)], "req-1", datetime.now(UTC))
    monkeypatch.delenv("REENGAGE_PRIVACY_PEPPER")
    code, out, err = reengage(capsys, "run", "--date", DAY.isoformat())
    assert code == 1
    failed = out.split(f"The daily job for {DAY} FAILED:\n", 1)[1].split("In the Dagster UI")[0]
    lines = failed.strip("\n").splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "  raw__customers",
        "  raw__email_events",
        "  raw__events",
        "  raw__products",
    ]
    assert all("REENGAGE_PRIVACY_PEPPER" in line for line in lines)
    assert "Traceback" not in out + err


def test_a_step_that_fails_is_tried_once_not_retried_after_its_policys_wait(isolated_home, capsys) -> None:
    # Guards a command-line run sitting through the dbt step's retry policy (a minute's wait, then
    # the same failure): execute_in_process retries whatever the run config says. A dbt target the
    # profile does not have fails the warehouse build the same way every time.
    world(isolated_home, days=1)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("REENGAGE_DBT_TARGET", "no_such_target")
        code, out, _ = reengage(capsys, "run", "--date", DAY.isoformat())
    assert code == 1
    failed = out.split(f"The daily job for {DAY} FAILED:\n", 1)[1].split("In the Dagster UI")[0]
    assert failed.strip().startswith("warehouse_models:"), failed
    run_id = out.split("In the Dagster UI: http://127.0.0.1:3000/runs/", 1)[1].split()[0]
    instance = dg.DagsterInstance.from_config(str(isolated_home / "dagster_home"))
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.dagster_event]
    assert "STEP_UP_FOR_RETRY" not in kinds and "STEP_RESTARTED" not in kinds
    assert kinds.count("STEP_FAILURE") == 1


def test_a_missing_required_export_stops_before_any_run_in_one_line(
    isolated_home, monkeypatch, capsys
) -> None:
    # Guards a run failing deep in ingest for a file that is simply not there (the customers export is
    # required by default; the setting is spelt out so the test says what it relies on).
    landing = world(isolated_home, days=1)
    (landing / "customers" / f"customers_{DAY}.csv").unlink()
    monkeypatch.setenv("REENGAGE_CUSTOMERS_MISSING_FILE", "required")
    code, out, err = reengage(capsys, "run", "--date", DAY.isoformat())
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"reengage run: no customers export for {DAY} in {landing} (expected "
        f"customers/customers_{DAY}.csv|jsonl|parquet): the settings make it required (missing_file = "
        '"required"), so the daily job needs it; land it, or check the date'
    ]


def test_a_warehouse_held_by_another_process_is_one_line_naming_it(isolated_home, capsys) -> None:
    # Guards the DuckDB lock showing as a retried ingest step and a stack trace.
    world(isolated_home, days=1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(60)",
            str(settings.warehouse_path()),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, _, err = reengage(capsys, "run", "--date", DAY.isoformat())
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert err.strip().splitlines() == [
        f"reengage run: the warehouse {settings.warehouse_path()} is in use by another process "
        f"(PID {holder.pid}): wait for it to finish (a run in the UI, the demo, another command) and run "
        "this again"
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["run", "--date", "10/03/2026"],
            "reengage run: argument --date: '10/03/2026' is not a date (write it YYYY-MM-DD) "
            "(see reengage run --help)",
        ),
        (
            ["run", "--date", "2026-03-10"],
            "reengage run: no landing folder at {landing} (REENGAGE_LANDING): put the exports in",
        ),
    ],
)
def test_a_bad_date_or_a_missing_landing_folder_is_one_line_and_exit_two_from_the_installed_command(
    isolated_home, argv, said
) -> None:
    # Guards the console script (`python -m reengage.cli`, what `reengage` runs) printing a
    # usage block or a traceback for a mistake the user fixes in a second.
    landing = isolated_home / "landing"
    done = subprocess.run(
        [sys.executable, "-m", "reengage.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said.format(landing=landing)), done.stderr
