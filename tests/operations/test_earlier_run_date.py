"""Re-running an earlier day after a later one was built: refused up front, and the two ways that work.

Regression guarded: `daily_reengagement` for D-1 after D was built reloaded D-1's exports and then
failed in dbt (`assert_nothing_after_the_run_date_is_counted`, 1,711 rows), while
docs/operations.md said backfilling the daily job works.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from reengage import settings
from reengage.definitions import build_definitions
from reengage.defs.warehouse import build_state
from reengage.runs import failures, load_history, run_day
from reengage_dev.demo.world import generate_world

pytestmark = pytest.mark.e2e

END = datetime.now(UTC).date() - timedelta(days=3)
DAYS = 5
WAREHOUSE_SINGLE_RUN_GROUPS = ("raw", "staging", "intermediate", "marts")


def _features_as_of() -> set[date]:
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        return {
            d for (d,) in con.execute("select distinct as_of_date from marts.fct_user_features").fetchall()
        }


def _loaded_at(day: date) -> set[datetime]:
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        rows = con.execute("select distinct _loaded_at from raw.events where _partition_date = ?", [day])
        return {at for (at,) in rows.fetchall()}


def _built_as_of() -> date | None:
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        return build_state.built_as_of(con)


def _ingest_and_dbt(first: date, last: date, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """The one run the backfill daemon starts over a range for the single-run assets (ingest and dbt)."""
    job = build_definitions().resolve_job_def("reengagement_backfill")
    keys = {k for k in job.asset_layer.executable_asset_keys if k.path[0] in WAREHOUSE_SINGLE_RUN_GROUPS}
    return job.get_subset(asset_selection=keys).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        raise_on_error=False,
    )


def test_an_earlier_day_is_refused_before_loading_and_the_documented_alternatives_work(isolated_home) -> None:
    generate_world(isolated_home, customers=150, days=DAYS, end_date=END, seed=11)
    first = END - timedelta(days=DAYS - 1)
    assert load_history(first, END, checks=False).success
    built = run_day(END)
    assert built.success, failures(built)
    assert _built_as_of() == END
    yesterday = END - timedelta(days=1)
    loaded_before = _loaded_at(yesterday)

    rerun = run_day(yesterday)

    assert not rerun.success
    message = " ".join(failures(rerun))
    assert f"built as of {END}" in message
    assert f"backfill {yesterday} to {END} in one run" in message and "full_refresh" in message
    assert "assert_nothing_after_the_run_date_is_counted" not in message
    assert _loaded_at(yesterday) == loaded_before, "nothing is loaded before the refusal"
    assert _features_as_of() == {END}, "the warehouse still stands as of the day it was built for"

    # The first alternative: one run from the earlier day to the built day, as of the built day.
    backfill = _ingest_and_dbt(yesterday, END)
    assert backfill.success, failures(backfill)
    assert _loaded_at(yesterday) != loaded_before, "the earlier day's exports were reloaded"
    assert _features_as_of() == {END} and _built_as_of() == END

    # The second: a full refresh as of the earlier day, after which the later day runs again.
    refresh = _ingest_and_dbt(
        yesterday, yesterday, {"ops": {"warehouse_models": {"config": {"full_refresh": True}}}}
    )
    assert refresh.success, failures(refresh)
    assert _features_as_of() == {yesterday} and _built_as_of() == yesterday
    again = _ingest_and_dbt(END, END)
    assert again.success, failures(again)
    assert _features_as_of() == {END} and _built_as_of() == END


def test_a_build_that_stopped_half_way_still_counts_as_built(tmp_path) -> None:
    """A build records its date before dbt starts: one that failed may already have written that date."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        day = date(2026, 12, 5)
        build_state.record_start(con, "a", day, day, full_refresh=False)
        build_state.record_completion(con, "a")
        build_state.record_start(con, "b", day + timedelta(days=1), day + timedelta(days=1), False)
        assert build_state.built_as_of(con) == day + timedelta(days=1)
        with pytest.raises(build_state.EarlierRunDateRefused, match="built as of 2026-12-06"):
            build_state.check_run_dates(con, day, day, full_refresh=False)
        # A full refresh that completed starts the count again from its own date.
        build_state.record_start(con, "c", day, day, full_refresh=True)
        assert build_state.built_as_of(con) == day + timedelta(days=1), "not before it completes"
        build_state.record_completion(con, "c")
        assert build_state.built_as_of(con) == day
        build_state.check_run_dates(con, day, day, full_refresh=False)
