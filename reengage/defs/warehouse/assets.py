"""The dbt project as Dagster assets: staging, intermediate and marts, one run date per partition."""

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets, get_asset_key_for_model

from reengage import settings
from reengage.defs.operations.retries import DBT_BUILD_RETRY
from reengage.defs.warehouse import build_state, meanings, parse_state
from reengage.defs.warehouse.check_descriptions import describe_dbt_test
from reengage.defs.warehouse.dbt_cli import DbtRuntimeMissing, dbt_environment
from reengage.defs.warehouse.project import WAREHOUSE_ENV, dbt_project, ensure_manifest
from reengage.defs.warehouse.row_counts import with_row_counts
from reengage.partitions import daily_partitions
from reengage.spark import build as spark_build
from reengage.warehouse import WarehouseResource

# What dbt reads from the environment: the warehouse path (dbt_project/profiles.yml), the run date
# and a range's first day, which the macros read only when nodes run (macros/as_of.sql), and what the
# warehouse kind's profile output needs (dbt_cli.dbt_environment).
RUN_DATE_ENV = "REENGAGE_RUN_DATE"
START_DATE_ENV = "REENGAGE_START_DATE"


@contextmanager
def dbt_env(warehouse_path: Path, first_day: str, last_day: str) -> Iterator[None]:
    """The warehouse path, the run dates and the kind's own variables (on Spark, its settings) in the
    environment, only while a dbt process starts.

    The dbt process copies the environment when it starts. Left set, the warehouse path would point
    every later stage and run in this process at this run's warehouse, whatever their own
    REENGAGE_HOME says, and a date would reach whatever starts dbt next. The dates are not `--vars`:
    dbt parses the whole project again whenever a command's vars change, so a run date passed as a
    var cost every daily build a full parse. On Spark a missing Java stops here, before dbt starts.
    """
    values = {
        WAREHOUSE_ENV: str(warehouse_path),
        RUN_DATE_ENV: last_day,
        START_DATE_ENV: first_day if first_day != last_day else None,
        **dbt_environment(runs_models=True),
    }
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class WarehouseTranslator(DagsterDbtTranslator):
    """Every dbt model lands in the `warehouse` group; sources keep their `raw/<table>` keys.

    Except the incremental state (dbt_project/models/incremental_state): its `meta: {dagster:
    {group: warehouse_internals}}` puts it in a group of its own, so the `warehouse` group's lineage
    is the business lineage, staging -> intermediate -> marts.

    Owners come from a model's `meta: {dagster: {owners: [...]}}` or else from the group
    (reengage/definitions.py); every dbt test's check gets a readable description.
    """

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if unique_id.startswith("source."):
            return spec
        declared = manifest["nodes"][unique_id]["config"].get("meta", {}).get("dagster", {}).get("group")
        return spec.replace_attributes(
            group_name=declared or "warehouse", kinds={"dbt", _warehouse_kind(spec)}
        )

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_dbt_test(manifest["nodes"][unique_id]))


def _warehouse_kind(spec: dg.AssetSpec) -> str:
    """Where the models build (the settings), not the adapter of whichever target parsed the manifest last."""
    try:
        return settings.warehouse_kind()
    except ValueError:  # a misconfiguration is reported when a run starts, not when the UI loads
        return next(iter(spec.kinds - {"dbt"}), "duckdb")


class WarehouseBuildConfig(dg.Config):
    """Run config of the dbt build, set in the launchpad when a run needs it."""

    # Rebuilds every incremental model from all raw data: needed once after a model gains a column
    # (they are on_schema_change='fail') or after the changes listed in dbt_project/README.md.
    full_refresh: bool = False


@dbt_assets(
    manifest=ensure_manifest(dbt_project),
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=DBT_BUILD_RETRY,
)
def warehouse_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: WarehouseBuildConfig,
) -> Iterator[Any]:
    """Build and test the dbt models as of the partition's run date."""
    # A one-run backfill covers a range: the incremental models take in from its first day.
    window = context.partition_key_range
    first_day, last_day = date.fromisoformat(window.start), date.fromisoformat(window.end)
    build_id = f"{context.run.run_id}:{context.retry_number}"
    settings_of_history = meanings.current_meanings()
    with warehouse.connect() as con:
        try:
            build_state.check_run_dates(con, first_day, last_day, config.full_refresh)
            meanings.check(con, settings_of_history, config.full_refresh)
        except (build_state.EarlierRunDateRefused, meanings.MeaningChanged) as refused:
            raise dg.Failure(description=str(refused), allow_retries=False) from refused
        build_state.record_start(con, build_id, first_day, last_day, config.full_refresh)
    # dbt unit tests check the SQL's logic, not the day's data: they run in the test suite, not daily.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    on_spark = warehouse.resolved_kind() == "spark"
    # On Spark, one build at a time per Spark home: from its raw export to its views.
    building = (
        spark_build.one_build_at_a_time(f"run {context.run.run_id}", context.log.info)
        if on_spark
        else nullcontext()
    )
    with building:
        if on_spark:
            # Spark reads the raw rows as Parquet files: ingest wrote them to the stages' DuckDB file.
            with warehouse.connect(read_only=True) as con:
                context.log.info(spark_build.publish_raw(con))
        target = parse_state.new_target(f"{context.run.run_id}-{context.retry_number}")
        try:
            with dbt_env(warehouse.resolved_path(), window.start, window.end):
                invocation = dbt.cli(args, context=context, target_path=target)
        except DbtRuntimeMissing as missing:  # a setup step, not a passing fault: a retry would fail the same
            raise dg.Failure(description=str(missing), allow_retries=False) from missing

        def refresh_views() -> None:
            with warehouse.connect() as con:
                spark_build.refresh_stage_views(con, invocation.manifest)

        try:
            # Row counts for the UI, counted once dbt has exited (row_counts.py: why not fetch_row_counts).
            yield from with_row_counts(
                invocation.stream(), invocation.manifest, warehouse, refresh_views if on_spark else None
            )
        except BaseException:
            stop_dbt(invocation.process)
            raise
        finally:
            parse_state.keep(target)
    with warehouse.connect() as con:
        build_state.record_completion(con, build_id)
        meanings.record(con, settings_of_history, build_id)


def stop_dbt(process: subprocess.Popen, grace_seconds: float = 60) -> None:
    """End a dbt process whose events could not be read, before a retry starts another.

    When reading the events fails, dbt runs on: it holds the DuckDB file's lock, or Spark's
    metastore (one process at a time), and the retry's dbt would find them taken.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model, for other stages' deps (keys follow dagster-dbt, never hard-coded)."""
    return get_asset_key_for_model([warehouse_models], model_name)
