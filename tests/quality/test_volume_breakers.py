"""Volume and freshness circuit breakers: a missing, empty or far-off day stops everything downstream of the
raw table in the same run (delivery included), with a reason naming the day, the count and the range.

The graphs run the real ingest assets and the real breaker checks against a temporary REENGAGE_HOME
(tests/conftest.py) with landing files; a stand-in consumer plays dbt, scoring and delivery.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from reengage import settings
from reengage.defs.ingest.assets import ingest_asset
from reengage.defs.ingest.loader import load_day
from reengage.defs.quality import breakers
from reengage.defs.quality.breakers import VolumeRule, evaluate_volume
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource

raw_customers = ingest_asset("customers")
raw_events = ingest_asset("events")

D = date(2026, 3, 10)
EVENTS_HEADER = (
    "event_id,user_id,anonymous_id,event_name,event_ts,page,product_id,category,value,device,channel"
)
CUSTOMERS_HEADER = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)


def land_events(day: date, rows: int) -> None:
    path = Path(settings.landing_dir()) / "events" / f"events_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{day}-{n},u{n},,page_view,{day}T08:00:00Z,,,,,web,organic" for n in range(rows)]
    path.write_text("\n".join([EVENTS_HEADER, *lines]) + "\n")


def land_customers(day: date, rows: int, first: int = 0) -> None:
    path = Path(settings.landing_dir()) / "customers" / f"customers_{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"c{n},c{n}@example.com,A,DE,Europe/Berlin,2026-01-01T00:00:00Z,free,1,true,,{day}T08:00:00Z"
        for n in range(first, first + rows)
    ]
    path.write_text("\n".join([CUSTOMERS_HEADER, *lines]) + "\n")


def history(source: str, counts: list[int]) -> None:
    """Land and load the days before D (oldest first), as earlier daily runs would have."""
    land = land_events if source == "events" else land_customers
    with duckdb.connect(str(settings.warehouse_path())) as con:
        for back, rows in zip(range(len(counts), 0, -1), counts, strict=True):
            day = D - timedelta(days=back)
            land(day, rows)
            load_day(con, settings.landing_dir(), source, day)


def run(source: str, day: date = D) -> tuple[dg.ExecuteInProcessResult, list[str]]:
    ran: list[str] = []

    @dg.asset(
        deps=[dg.AssetKey(["raw", source])],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def send_campaigns() -> None:  # stands in for dbt, scoring and delivery
        ran.append("send_campaigns")

    asset = raw_events if source == "events" else raw_customers
    check = getattr(breakers, f"{source}_volume_and_freshness")
    result = dg.materialize(
        [asset, check, send_campaigns],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )
    return result, ran


def evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (found,) = result.get_asset_check_evaluations()
    return found


def test_a_day_near_the_trailing_mean_passes_and_downstream_runs() -> None:
    history("events", [60, 60, 60, 60])
    land_events(D, 50)
    result, ran = run("events")
    check = evaluation(result)
    assert result.success and check.passed and ran == ["send_campaigns"]
    assert check.description == (
        "events for 2026-03-10: 50 rows loaded, within the expected 30-120 (0.5x-2x the mean of 60.0 "
        "rows/day over the 4 loaded days 2026-03-06..2026-03-09)"
    )


@pytest.mark.parametrize(
    "today, expected",
    [
        (
            20,
            "events for 2026-03-10: 20 rows loaded, fewer than the expected 30-120 (0.5x-2x the mean of 60.0 "
            "rows/day over the 4 loaded days 2026-03-06..2026-03-09); a partial or duplicated export is not "
            "decided on",
        ),
        (
            130,
            "events for 2026-03-10: 130 rows loaded, more than the expected 30-120 (0.5x-2x the mean of 60.0 "
            "rows/day over the 4 loaded days 2026-03-06..2026-03-09); a partial or duplicated export is not "
            "decided on",
        ),
    ],
)
def test_a_day_far_from_the_trailing_mean_blocks_downstream(today: int, expected: str) -> None:
    history("events", [60, 60, 60, 60])
    land_events(D, today)
    result, ran = run("events")
    check = evaluation(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
    assert check.description == expected
    assert ran == [] and not result.success
    meta = {k: v.value for k, v in check.metadata.items()}
    assert (meta["rows_loaded"], meta["expected_min_rows"], meta["expected_max_rows"]) == (today, 30.0, 120.0)


def test_an_empty_export_blocks_downstream() -> None:
    history("events", [60, 60, 60])
    land_events(D, 0)
    result, ran = run("events")
    check = evaluation(result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.description == (
        "events for 2026-03-10: the export is empty: 0 rows loaded (0 quarantined); expected at least 1"
    )
    assert ran == []


def test_an_export_whose_every_row_is_quarantined_counts_as_empty() -> None:
    history("events", [60, 60, 60])
    path = Path(settings.landing_dir()) / "events" / f"events_{D}.csv"
    path.write_text(EVENTS_HEADER + "\n" + "e1,,,page_view,2026-03-10T08:00:00Z,,,,,web,organic\n")
    result, ran = run("events")
    assert evaluation(result).description == (
        "events for 2026-03-10: the export is empty: 0 rows loaded (1 quarantined); expected at least 1"
    )
    assert ran == []


def test_a_missing_export_stops_the_run_before_downstream_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REENGAGE_CUSTOMERS_MISSING_FILE", "required")
    history("customers", [5, 5, 5])
    result, ran = run("customers")
    assert not result.success and ran == []
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith(f"No customers export for 2026-03-10 in {settings.landing_dir()}")
    assert "late or lost" in message


def test_the_breaker_names_a_missing_export_when_run_on_its_own() -> None:
    history("events", [60, 60, 60])
    with duckdb.connect(str(settings.warehouse_path())) as con:
        verdict = evaluate_volume(con, settings.landing_dir(), "events", D, VolumeRule(), "required")
    assert not verdict.passed
    assert verdict.reason == (
        "events for 2026-03-10: no export in the landing folder (expected "
        "events_2026-03-10.csv|jsonl|parquet): the export is late or lost, so the day is not decided on "
        "stale data"
    )


def test_customers_use_the_median_so_the_first_full_snapshot_does_not_trip_the_breaker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Day one holds every customer; later snapshots only the day's changes.
    monkeypatch.setenv("REENGAGE_VOLUME_CUSTOMERS_COMPARE", "recent_days")
    history("customers", [2000, 80, 90, 70])
    land_customers(D, 85, first=5000)
    result, ran = run("customers")
    check = evaluation(result)
    assert check.passed, check.description
    assert "the median of 85.0 rows/day" in (check.description or "")
    assert ran == ["send_campaigns"]


def test_thresholds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_VOLUME_MIN_RATIO", "0.9")
    monkeypatch.setenv("REENGAGE_VOLUME_EVENTS_MAX_RATIO", "1.1")
    monkeypatch.setenv("REENGAGE_VOLUME_MIN_BASELINE_ROWS", "1")
    monkeypatch.setenv("REENGAGE_VOLUME_CUSTOMERS_ALLOW_EMPTY", "yes")
    events = VolumeRule.for_source("events")
    customers = VolumeRule.for_source("customers")
    assert (events.min_ratio, events.max_ratio, events.statistic, events.min_baseline_rows) == (
        0.9,
        1.1,
        "mean",
        1,
    )
    assert (customers.max_ratio, customers.statistic, customers.allow_empty) == (4.0, "median", True)
    monkeypatch.setenv("REENGAGE_VOLUME_STATISTIC", "mode")
    with pytest.raises(ValueError, match="REENGAGE_VOLUME_STATISTIC='mode' is not one of mean, median"):
        VolumeRule.for_source("events")


def test_small_baselines_and_short_histories_only_judge_emptiness() -> None:
    with duckdb.connect(str(settings.warehouse_path())) as con:
        history("events", [10, 10, 10])
        land_events(D, 1)
        load_day(con, settings.landing_dir(), "events", D)
        small = evaluate_volume(con, settings.landing_dir(), "events", D, VolumeRule())
        short = evaluate_volume(con, settings.landing_dir(), "events", D, VolumeRule(min_history_days=4))
    assert small.passed and "below 50, so only emptiness is judged" in small.reason
    assert short.passed and "only 3 earlier loaded day(s) (need 4)" in short.reason


def test_the_breakers_are_blocking_checks_on_raw_events_and_customers() -> None:
    specs = [
        spec
        for check in (breakers.events_volume_and_freshness, breakers.customers_volume_and_freshness)
        for spec in check.check_specs
    ]
    assert {s.asset_key for s in specs} == {dg.AssetKey(["raw", "events"]), dg.AssetKey(["raw", "customers"])}
    assert all(s.blocking for s in specs)


SUNDAY = date(2026, 3, 8)


def weeks_of_customers(weekday_rows: int, sunday_rows: int, weeks: int = 4) -> None:
    """Land and load `weeks` weeks of change-only CRM exports before SUNDAY: few changes on Sundays."""
    with duckdb.connect(str(settings.warehouse_path())) as con:
        for back in range(7 * weeks, 0, -1):
            day = SUNDAY - timedelta(days=back)
            land_customers(day, sunday_rows if day.weekday() == 6 else weekday_rows, first=back * 1000)
            load_day(con, settings.landing_dir(), "customers", day)


def test_a_small_sunday_crm_export_passes_when_compared_with_past_sundays() -> None:
    # Guards the breaker: a changes-only CRM export swings with the weekday and tripped on Sundays.
    weeks_of_customers(weekday_rows=400, sunday_rows=60)
    land_customers(SUNDAY, 55, first=0)
    result, ran = run("customers", SUNDAY)
    check = evaluation(result)
    assert check.passed and ran == ["send_campaigns"], check.description
    assert check.description == (
        "customers for 2026-03-08: 55 rows loaded, within the expected 30-240 (0.5x-4x the median of 60.0 "
        "rows/day over the 4 earlier Sundays 2026-02-08..2026-03-01)"
    )
    assert {k: v.value for k, v in check.metadata.items()}["rule"] == (
        "0.5x-4x median of 4 same weekdays (min history 3, min baseline 50, empty blocks)"
    )


def test_a_real_drop_on_a_sunday_still_trips_the_weekday_breaker() -> None:
    weeks_of_customers(weekday_rows=400, sunday_rows=60)
    land_customers(SUNDAY, 20, first=0)
    result, ran = run("customers", SUNDAY)
    check = evaluation(result)
    assert not check.passed and ran == []
    assert check.description.startswith(
        "customers for 2026-03-08: 20 rows loaded, fewer than the expected 30-240 (0.5x-4x the median of 60.0"
    )


def test_the_day_after_a_large_campaign_day_passes_and_a_full_snapshot_still_trips() -> None:
    # Guards the CRM breaker against the pipeline's own mail: the purchases and opt-outs a large
    # campaign day brings double the next changes-only export, which must not stop the daily job;
    # a full snapshot where changes were expected (tens of times the usual) still does.
    weeks_of_customers(weekday_rows=400, sunday_rows=60)
    land_customers(SUNDAY, 130, first=0)
    result, ran = run("customers", SUNDAY)
    assert evaluation(result).passed and ran == ["send_campaigns"]
    land_customers(SUNDAY, 2_000, first=0)
    result, ran = run("customers", SUNDAY)
    check = evaluation(result)
    assert not check.passed and ran == [], check.description


def test_days_without_a_file_count_as_zero_only_where_no_file_means_no_activity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Guards a closed day's zero being left out of the events baseline (no activity) and a CRM day
    # without changes being counted as a zero (no change): either would move the expected range.
    monkeypatch.setenv("REENGAGE_VOLUME_COMPARE", "recent_days")
    monkeypatch.setenv("REENGAGE_VOLUME_STATISTIC", "mean")
    history("events", [100, 100, 100, 100])  # D-4 .. D-1
    history("customers", [100, 100, 100, 100])
    for source in ("events", "customers"):  # D-3 had no file
        (Path(settings.landing_dir()) / source / f"{source}_{D - timedelta(days=3)}.csv").unlink()
    with duckdb.connect(str(settings.warehouse_path())) as con:
        for source in ("events", "customers"):
            con.execute(f"delete from raw.{source} where _partition_date = ?", [D - timedelta(days=3)])
    land_events(D, 70)
    land_customers(D, 70)
    with duckdb.connect(str(settings.warehouse_path())) as con:
        for source in ("events", "customers"):
            load_day(con, settings.landing_dir(), source, D)
        events = evaluate_volume(con, settings.landing_dir(), "events", D, VolumeRule.for_source("events"))
        crm = evaluate_volume(con, settings.landing_dir(), "customers", D, VolumeRule.for_source("customers"))
    assert events.baseline == 75.0 and events.passed
    assert "over the 4 loaded days 2026-03-06..2026-03-09, 1 without a file counted as 0" in events.reason
    assert crm.baseline == 100.0 and crm.passed
    assert [d for d, _ in crm.history] == [D - timedelta(days=n) for n in (1, 2, 4)]


def test_a_day_of_one_row_reads_one_row_loaded() -> None:
    # Guards the counts in words ("1 rows loaded" read as a typo in every run's check description).
    history("events", [1, 1, 1, 1])
    land_events(D, 1)
    result, _ = run("events")
    assert evaluation(result).description.startswith("events for 2026-03-10: 1 row loaded; the baseline")
