"""Runs started from the command line: a persistent instance, quiet logs, one line per step as it ends.

A command-line run is the job the schedule starts, in this process (`execute_in_process`), with
Dagster's own console log silenced: each step prints one line when it ends, and the run stays in
the instance the UI reads, with every log line, for whoever wants the detail.

Retries: a command-line run tries each step once (`runs.run_once`): a person at a terminal gets
the failure at once, where a scheduled run would wait out the steps' retry policies
(defs/operations/retries.py) and usually fail the same way. What a terminal meets most, a
warehouse another process holds and a missing export, is checked before the run starts and
told in one line.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.events.log import EventLogEntry
from dagster._core.utils import make_new_run_id

from reengage import settings
from reengage.commands.common import CommandError, ui_url
from reengage.defs.ingest.contracts import required_sources
from reengage.defs.operations.landed_exports import scan_day
from reengage.local_instance import local_dagster_home
from reengage.warehouse import connect, describe

# Run config of every command-line run (merged with the job's own).
COMMAND_LINE_RUN_CONFIG = {
    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
}
HELD_BY = re.compile(r"\(PID (\d+)\)")


def instance() -> dg.DagsterInstance:
    """The Dagster instance the UI reads (`reengage ui`, the demo): DAGSTER_HOME's, else the
    product home's `dagster_home`."""
    return dg.DagsterInstance.from_config(str(local_dagster_home()))


def run_config(extra: dict | None = None) -> dict:
    return {**COMMAND_LINE_RUN_CONFIG, **(extra or {})}


def warehouse_free() -> None:
    """CommandError when another process holds the warehouse file (DuckDB has one writer)."""
    try:
        with connect():
            pass
    except duckdb.IOException as err:
        if "lock" not in str(err).lower():
            raise
        held = HELD_BY.search(str(err))
        raise CommandError(
            f"the warehouse {describe()} is in use by another process"
            + (f" (PID {held.group(1)})" if held else "")
            + ": wait for it to finish (a run in the UI, the demo, another command) and run this again"
        ) from None


def required_exports(landing: str, day: date) -> None:
    """CommandError naming the day's required exports that are missing or ambiguous."""
    exports = scan_day(landing, day)
    missing = exports.missing(required_sources())
    if exports.problems:
        raise CommandError(f"{exports.problems[0]} in {landing}")
    if missing:
        names = ", ".join(f"{s}/{s}_{day}.csv|jsonl|parquet" for s in missing)
        raise CommandError(
            f"no {' or '.join(missing)} export for {day} in {landing} (expected {names}): the settings make "
            'it required (missing_file = "required"), so the daily job needs it; land it, or check the date'
        )


class StepLines:
    """Prints a line as each step of a run ends: its stage, how it ended, how long it took."""

    def __init__(self, stages: dict[str, str], say: Callable[[str], None]) -> None:
        self._stages = stages  # op name -> stage (asset group)
        self._say = say
        self._started: dict[str, float] = {}

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        step = event.step_key
        if event.event_type_value == "STEP_START":
            self._started[step] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            seconds = entry.timestamp - self._started.get(step, entry.timestamp)
            ended = "ok" if event.event_type_value == "STEP_SUCCESS" else "FAILED"
            self._say(f"  {self._stages.get(step, 'checks'):<14}{ended:<8}{seconds:7.1f} s  {step}")


def say() -> Callable[[str], None]:
    """Print a line to this moment's stdout, even while `watched` sends the steps' own output away."""
    out = sys.stdout
    return lambda line: print(line, file=out, flush=True)


def stages_of(job: dg.JobDefinition) -> dict[str, str]:
    """Each op of the job -> the group (stage) of the assets it materializes or checks."""
    stages: dict[str, str] = {}
    graph = job.asset_layer.asset_graph
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        groups = set(assets_def.group_names_by_key.values()) or {
            graph.get(key.asset_key).group_name for key in assets_def.check_keys if graph.has(key.asset_key)
        }
        if groups:
            stages[assets_def.node_def.name] = sorted(groups)[0]
    return stages


@contextmanager
def watched(
    instance: dg.DagsterInstance, job: dg.JobDefinition, log: Path, say: Callable[[str], None]
) -> Iterator[str]:
    """A new run id whose steps print their lines through `say` while the run goes; what the steps
    print themselves (dbt's output, through dagster-dbt) goes to the file `log`."""
    run_id = make_new_run_id()
    instance.add_event_listener(run_id, StepLines(stages_of(job), say))
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "a", encoding="utf-8") as output, redirect_stdout(output), redirect_stderr(output):
        yield run_id
    say(f"  ({time.perf_counter() - started:.1f} s; dbt's and the steps' own output: {log})")


def log_path(command: str, label: str) -> Path:
    """Where a command's run keeps what its steps print (dbt's output), under the product home."""
    return settings.home() / "logs" / f"{command}-{label}.log"


def where_to_look(run_ids: list[str]) -> list[str]:
    """Where the runs are in the UI, and how to start it."""
    url = ui_url()
    lines = [f"In the Dagster UI: {url}/runs/{run_id}" for run_id in run_ids[-1:]]
    lines.append(
        f"  (runs are kept in {settings.dagster_home()}; start the UI with `reengage ui` from this folder)"
    )
    return lines
