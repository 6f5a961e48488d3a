"""A closed Sunday (no events, no CRM file, no email events) runs the real daily job green, and Monday
after it is right: real ingest, dbt, Great Expectations, the volume breakers, policy and delivery to the
local sink.

Events may lack a day by default (no activity); the CRM and email events exports carry consent and opt-outs
and are required by default, so this shop says in its settings that a day without a CRM export changed
nobody and a day without email events had none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from daily_world import query

from reengage.runs import failures, load_history, run_day
from reengage.summary import run_summary
from reengage_dev.demo.loop import clock_at
from reengage_dev.demo.world import generate_world
from reengage_dev.sink import serving_local_sink
from reengage_dev.twilio_sink import serving_local_twilio_sink

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday())  # this week's Monday (today, or earlier this week)
SUNDAY = MONDAY - timedelta(days=1)
DAYS = 22  # three weeks of history before the Sunday: no churn model (it needs 49 days), rules rank
SOURCES = ("customers", "events", "email_events")


@pytest.fixture(scope="module")
def closed_sunday(tmp_path_factory: pytest.TempPathFactory):
    """The world's history to Saturday loaded; Sunday's exports removed; Sunday's run, then Monday's."""
    home = tmp_path_factory.mktemp("closed_sunday")
    with (
        pytest.MonkeyPatch.context() as patch,
        serving_local_sink(home / "sink.sqlite"),
        serving_local_twilio_sink(home / "twilio_sink.sqlite"),  # an example campaign texts
    ):
        patch.setenv("REENGAGE_HOME", str(home))
        patch.setenv("REENGAGE_CUSTOMERS_MISSING_FILE", "no_change")
        patch.setenv("REENGAGE_EMAIL_EVENTS_MISSING_FILE", "no_activity")
        generate_world(home, customers=400, days=DAYS, end_date=MONDAY, seed=17)
        close_sunday(home / "landing")
        instance = dg.DagsterInstance.ephemeral()
        history = load_history(
            MONDAY - timedelta(days=DAYS - 1), SUNDAY - timedelta(days=1), instance, checks=False
        )
        assert history.success, failures(history)
        with clock_at(SUNDAY):
            sunday = run_day(SUNDAY, instance)
        customers_after_sunday = _customers(home)
        with clock_at(MONDAY):
            monday = run_day(MONDAY, instance)
        yield home, sunday, monday, customers_after_sunday


def close_sunday(landing: Path) -> None:
    """Nobody came on Sunday and no export was written; the CRM's Sunday changes (sign-ups the world
    made that day) reach Monday's export, as a CRM that exports changes since its last export would."""
    sunday_crm = pd.read_csv(
        landing / "customers" / f"customers_{SUNDAY}.csv", dtype=str, keep_default_na=False
    )
    monday_path = landing / "customers" / f"customers_{MONDAY}.csv"
    monday_crm = pd.read_csv(monday_path, dtype=str, keep_default_na=False)
    carried = sunday_crm[~sunday_crm["customer_id"].isin(monday_crm["customer_id"])]
    pd.concat([monday_crm, carried]).to_csv(monday_path, index=False)
    for source in SOURCES:
        for path in (landing / source).glob(f"{source}_{SUNDAY}.*"):
            path.unlink()


def _customers(home: Path) -> dict[str, tuple]:
    rows = query(
        home,
        "select customer_id, email, plan, lifetime_value, marketing_consent, updated_at "
        "from staging.stg_crm__customers",
    )
    return {row[0]: row[1:] for row in rows}


def _evaluations(result: dg.ExecuteInProcessResult) -> list:
    return [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]


def _failed(checks: list) -> list[str]:
    """The checks that failed, less the amber "no churn model promoted yet" of a world too young to
    train one (every_customer_scored says so each day until one is; it has nothing to do with files)."""
    young = [
        c
        for c in checks
        if c.check_name == "every_customer_scored"
        and c.severity == dg.AssetCheckSeverity.WARN
        and "no churn model promoted yet" in (c.description or "")
    ]
    return [c.check_name for c in checks if not c.passed and c not in young]


def _ingest_metadata(result: dg.ExecuteInProcessResult, source: str) -> dict:
    (materialization,) = [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
        if e.step_materialization_data.materialization.asset_key == dg.AssetKey(["raw", source])
    ]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_a_closed_sunday_runs_the_daily_job_green_and_says_which_sources_had_no_file(
    closed_sunday, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards "14 missing Sundays failed the run": a day without files was "late or lost" for every source.
    home, sunday, _, _ = closed_sunday
    assert sunday.success, failures(sunday)
    for source, meaning in (
        ("customers", "no change"),
        ("events", "no activity"),
        ("email_events", "no activity"),
    ):
        metadata = _ingest_metadata(sunday, source)
        assert metadata["days_without_file"] == SUNDAY.isoformat(), source
        assert metadata["without_file_meaning"] == f"{meaning}: the day was loaded as empty"
    checks = _evaluations(sunday)
    raw_checks = {(tuple(c.asset_key.path), c.check_name) for c in checks if c.asset_key.path[0] == "raw"}
    assert {("raw", "events"), ("raw", "customers")} <= {key for key, _ in raw_checks}
    assert _failed(checks) == []
    assert query(home, "select count(*) from raw.events where _partition_date = ?", [SUNDAY]) == [(0,)]
    assert query(home, "select count(*) from interventions.decisions where run_date = ?", [SUNDAY])[0][0] > 0
    monkeypatch.setenv("REENGAGE_HOME", str(home))  # the run summary reads the world's home
    summary = run_summary(SUNDAY).splitlines()
    assert summary[:4] == [
        f"Exports for {SUNDAY}",
        "  customers     no file (no change)",
        "  events        no file (no activity)",
        "  email_events  no file (no activity)",
    ]


def test_the_monday_after_a_closed_sunday_counts_mondays_activity_and_no_sunday(closed_sunday) -> None:
    home, _, monday, _ = closed_sunday
    assert monday.success, failures(monday)
    assert _failed(_evaluations(monday)) == []
    days = dict(
        query(
            home,
            "select activity_date, count(*) from marts.fct_user_daily_activity "
            "where activity_date >= ? group by 1",
            [SUNDAY - timedelta(days=1)],
        )
    )
    assert days.get(SUNDAY) is None and days[MONDAY] > 0 and days[SUNDAY - timedelta(days=1)] > 0
    events_monday = query(home, "select count(*) from raw.events where _partition_date = ?", [MONDAY])[0][0]
    assert events_monday > 0


def test_a_customers_export_of_only_the_changed_customers_keeps_the_others_as_they_were(
    closed_sunday,
) -> None:
    # Guards a changes-only CRM export being read as the whole customer base: nobody may be lost or reset.
    home, _, _, before = closed_sunday
    after = _customers(home)
    changed = {
        row[0]
        for row in query(home, "select customer_id from raw.customers where _partition_date = ?", [MONDAY])
    }
    assert changed and len(changed) < len(before), "Monday's CRM export carries only the changed customers"
    assert set(after) >= set(before)
    unchanged = set(before) - changed
    assert {c: after[c] for c in unchanged} == {c: before[c] for c in unchanged}
    assert any(after[c] != before.get(c) for c in changed)


def test_a_required_sources_missing_file_still_fails_the_run(tmp_path: Path, monkeypatch) -> None:
    # Guards today's strictness for whoever asks for it: missing_file = "required" stops the day.
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    monkeypatch.setenv("REENGAGE_EVENTS_MISSING_FILE", "required")
    day = date(2026, 3, 10)
    generate_world(tmp_path, customers=50, days=2, end_date=day, seed=4)
    for path in (tmp_path / "landing" / "events").glob(f"events_{day}.*"):
        path.unlink()
    result = load_history(day, day, dg.DagsterInstance.ephemeral(), checks=False)
    assert not result.success
    (refusal,) = [line for line in failures(result) if "No events export for 2026-03-10" in line]
    assert "late or lost" in refusal and "missing_file rule is required" in refusal


@pytest.mark.parametrize("source", ["customers", "email_events"])
def test_by_default_a_day_without_an_export_that_carries_consent_or_opt_outs_fails(
    tmp_path: Path, monkeypatch, source: str
) -> None:
    # Guards deciding on yesterday's consent: the CRM export carries withdrawals and the email events
    # carry unsubscribes, so unless the settings say otherwise a day without either is late or lost.
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    for rule in ("REENGAGE_CUSTOMERS_MISSING_FILE", "REENGAGE_EMAIL_EVENTS_MISSING_FILE"):
        monkeypatch.delenv(rule, raising=False)  # the closed shop's settings above stay for its module
    day = date(2026, 3, 10)
    generate_world(tmp_path, customers=50, days=2, end_date=day, seed=4)
    for path in (tmp_path / "landing" / source).glob(f"{source}_{day}.*"):
        path.unlink()
    result = load_history(day, day, dg.DagsterInstance.ephemeral(), checks=False)
    assert not result.success
    assert any(
        f"export for {day}" in line and "missing_file rule is required" in line for line in failures(result)
    )
