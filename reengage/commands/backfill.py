"""`reengage backfill --from A --to B`: past days through the backfill job, which never delivers.

Run as Dagster's asset backfill plans the job (defs/operations/backfill.py): one run over the
whole range for ingest and dbt (their single-run backfill policies; a run per day would rebuild
the dbt project once a day, about a minute each), then one run per day for the per-day assets:
the quarantine summary, and measurement once the warehouse holds deliveries to measure (before
the first daily run there are none, and the measurement assets would have no table to read).
Each day then prints its line: rows loaded per source and rows refused.

Running the same range again is safe: each day's partition is replaced by its files' rows (a day
already loaded is loaded again, not doubled) and dbt rebuilds the range. A range that ends
before the date the warehouse is built as of is refused before anything loads, with the two
ways that work (defs/warehouse/build_state.py).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from reengage import runs
from reengage.commands import progress
from reengage.commands.common import FAILED, CommandError, configured_landing, run_date
from reengage.defs.ingest.contracts import SOURCES
from reengage.schema.declared import CAMPAIGN_SENDS
from reengage.tables import relation_exists
from reengage.warehouse import connect

SINGLE_RUN_GROUPS = ("ingest", "warehouse", "warehouse_internals")


@dataclass
class DayCounts:
    day: date
    loaded: dict[str, int]
    refused: int

    def line(self, outcome: str) -> str:
        rows = ", ".join(f"{source} {n:,}" for source, n in self.loaded.items())
        return f"  {self.day}  {outcome:<8}loaded {rows}; refused {self.refused:,}"


def add_backfill_parser(commands: argparse._SubParsersAction) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="load past days and build the warehouse for them (never delivers)",
        description="Ingest, dbt, the quality gates and measurement for every day from --from to --to, "
        "without delivery; exit 1 when any day fails. Running the same range again is safe.",
    )
    backfill.add_argument("--from", dest="first", type=run_date, required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", type=run_date, required=True, help="last day, YYYY-MM-DD")


def run_backfill(args: argparse.Namespace) -> int:
    first, last = args.first, args.last
    if first > last:
        raise CommandError(f"--from {first} is after --to {last}")
    landing = configured_landing()
    progress.warehouse_free()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    job = runs.backfill_job()
    recon = dg.reconstructable(runs.backfill_job)
    instance = progress.instance()
    say = progress.say()
    say(f"Backfill of {len(days)} days, {first} to {last}, from {landing} (no delivery)")
    log = progress.log_path("backfill", f"{first}_{last}")
    ranged_keys = _keys(job, lambda group: group in SINGLE_RUN_GROUPS)
    with progress.watched(instance, job.get_subset(asset_selection=ranged_keys), log, say) as run_id:
        ranged = runs.run_once(
            recon.get_subset(asset_selection=frozenset(ranged_keys)),
            instance,
            {
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
            progress.run_config(),
            run_id,
        )
    run_ids, failed = [run_id], [f"{first} to {last}: {line}" for line in runs.failures(ranged)]
    counts = _counts(days)
    say("Days:")
    if ranged.success:
        per_day_keys = _keys(job, _per_day_groups())
        per_day_job = recon.get_subset(asset_selection=frozenset(per_day_keys))
        for day in days:
            started = time.perf_counter()
            with progress.watched(
                instance, job.get_subset(asset_selection=per_day_keys), log, lambda _: None
            ) as day_run:
                result = runs.run_once(
                    per_day_job,
                    instance,
                    {"dagster/partition": day.isoformat()},
                    progress.run_config(),
                    day_run,
                )
            run_ids.append(day_run)
            failed += [f"{day}: {line}" for line in runs.failures(result)]
            outcome = "ok" if result.success else "FAILED"
            say(counts[day].line(outcome) + f"  ({time.perf_counter() - started:.1f} s)")
    else:
        for day in days:
            say(counts[day].line("-"))
    say("")
    loaded = sum(n for c in counts.values() for n in c.loaded.values())
    say(
        f"Backfill {first} to {last}: {len(days)} days, {loaded:,} rows loaded, "
        f"{sum(c.refused for c in counts.values()):,} rows refused (raw.quarantine), "
        + (f"{len(failed)} failures; the first: {failed[0]}" if failed else "no failures")
    )
    say("\n".join(progress.where_to_look(run_ids[:1])))
    return FAILED if failed else 0


def _keys(job: dg.JobDefinition, wanted) -> set[dg.AssetKey]:
    graph = job.asset_layer.asset_graph
    return {key for key in job.asset_layer.executable_asset_keys if wanted(graph.get(key).group_name)}


def _per_day_groups():
    """The per-day assets: the quality summary, and measurement once there is something to measure."""
    with connect(read_only=True) as con:
        delivered = relation_exists(con, CAMPAIGN_SENDS.name)
    return lambda group: group == "quality" or (delivered and group == "measurement")


def _counts(days: list[date]) -> dict[date, DayCounts]:
    """Rows each day holds in the raw tables now, and rows refused (not values set to null)."""
    with connect(read_only=True) as con:
        loaded = {
            source: dict(
                con.execute(
                    f"select _partition_date, count(*) from raw.{source} "
                    "where _partition_date between ? and ? group by 1",
                    [days[0], days[-1]],
                ).fetchall()
            )
            for source in SOURCES
        }
        refused = dict(
            con.execute(
                "select _partition_date, count(*) from raw.quarantine where not row_kept "
                "and _partition_date between ? and ? group by 1",
                [days[0], days[-1]],
            ).fetchall()
        )
    return {
        day: DayCounts(day, {s: int(loaded[s].get(day, 0)) for s in SOURCES}, int(refused.get(day, 0)))
        for day in days
    }
