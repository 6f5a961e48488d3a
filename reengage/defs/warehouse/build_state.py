"""The run date the warehouse is built as of, so no run rebuilds an earlier day on top of later data.

The incremental dbt models keep every row up to the last run date they were built for. A run
for an earlier date re-examines only its own window and leaves the later rows where they are,
so its marts would count days after its run date (dbt's
`assert_nothing_after_the_run_date_is_counted` then fails the build, after ingest has already
reloaded the day). Such a run is refused before it loads or builds anything, with the reason and
the two ways that do work: a one-run backfill from the earlier day up to the built date, or a
full refresh as of the earlier day.

Each dbt build is recorded in `operations.warehouse_builds` *before* dbt starts: a build that
stops half-way may already have written its date's rows, so it counts as built. A completed
full refresh rebuilds every table from the raw data as of its own date, so builds before it no
longer count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from reengage.schema.declared import WAREHOUSE_BUILDS
from reengage.schema.migrations import migrate, require

TABLE = WAREHOUSE_BUILDS.name


class EarlierRunDateRefused(RuntimeError):
    """A run would rebuild the warehouse as of a date before the one it is built as of."""


def built_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The latest run date whose rows the warehouse's incremental tables may hold (None: never built)."""
    require(con, WAREHOUSE_BUILDS)
    (built,) = con.execute(f"""
        with last_full_refresh as (
            select max(started_at) as started_at
            from {TABLE}
            where full_refresh and completed_at is not null
        )
        select max(b.run_date)
        from {TABLE} as b, last_full_refresh as f
        where f.started_at is null or b.started_at >= f.started_at""").fetchone()
    return built


def check_run_dates(
    con: duckdb.DuckDBPyConnection, first_day: date, last_day: date, full_refresh: bool
) -> None:
    """Raise EarlierRunDateRefused when building `first_day`..`last_day` would mix in later data."""
    built = built_as_of(con)
    if built is None or full_refresh or last_day >= built:
        return
    days = f"{first_day}" if first_day == last_day else f"{first_day} to {last_day}"
    raise EarlierRunDateRefused(
        f"The warehouse is built as of {built}, so a run for {days} would count days after "
        f"{last_day}; nothing was loaded or built. To take in corrected exports for {first_day}, "
        f"backfill {first_day} to {built} in one run (job reengagement_backfill): that reloads and "
        f"rebuilds those days and leaves the warehouse as of {built}. To rebuild the warehouse as it "
        f"was on {last_day}, run with the warehouse_models config full_refresh: true, then run the "
        "later days again (docs/operations.md, Backfills)."
    )


def record_start(
    con: duckdb.DuckDBPyConnection, build_id: str, first_day: date, last_day: date, full_refresh: bool
) -> None:
    migrate(con)
    con.execute(
        WAREHOUSE_BUILDS.insert_values(["build_id", "run_date", "start_date", "full_refresh", "started_at"]),
        [build_id, last_day, first_day, full_refresh, datetime.now(UTC)],
    )


def record_completion(con: duckdb.DuckDBPyConnection, build_id: str) -> None:
    con.execute(f"update {TABLE} set completed_at = ? where build_id = ?", [datetime.now(UTC), build_id])
