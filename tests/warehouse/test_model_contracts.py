"""The marts Python reads declare their columns once, in dbt, and dbt holds the SQL to it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from reengage.defs.interventions.schema import FEATURE_COLUMNS, FEATURES_MODEL
from reengage.defs.warehouse import manifest
from reengage.settings import DBT_PROJECT_DIR

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE


def test_the_features_mart_has_exactly_the_columns_and_types_python_reads(
    built_warehouse: BuiltWarehouse,
) -> None:
    # Guards the copy Python kept by hand, which had drifted: signup_at declared timestamptz
    # while the mart built a naive timestamp, counts declared integer while it built bigints.
    built = built_warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position",
        [FEATURES_MODEL],
    )
    with duckdb.connect() as con:
        declared = [
            (name, str(con.sql(f"select cast(null as {kind})").types[0]))
            for name, kind in FEATURE_COLUMNS.items()
        ]
    assert built == declared


def test_the_campaign_vocabulary_is_read_from_the_marts_own_declaration() -> None:
    segments = manifest.accepted_values(FEATURES_MODEL, "segment")
    assert set(segments) == {"new", "engaged", "high_value", "at_risk", "dormant", "lapsed"}
    flags = manifest.columns_marked(FEATURES_MODEL, "campaign_flag")
    assert {"cart_abandoned", "is_at_risk", "is_high_value"} <= set(flags)
    assert all(FEATURE_COLUMNS[flag] == "boolean" for flag in flags)


# Every model Python reads by column name, with a column its SQL names: (SQL file, schema, the SQL that
# names the column, the column).
CONTRACTED_RENAMES = [
    ("marts/fct_user_features", "marts", "end as segment", "segment"),
    ("marts/fct_user_responses", "marts", " as responded_at", "responded_at"),
    ("marts/fct_email_suppressions", "marts", "event as suppression_reason", "suppression_reason"),
    ("marts/fct_user_daily_activity", "marts", " as active_action_count", "active_action_count"),
    (
        "intermediate/int_customer_quarter_hours",
        "intermediate",
        " as quarter_hour_start",
        "quarter_hour_start",
    ),
    ("intermediate/int_events_stitched", "intermediate", "end as identity_source", "identity_source"),
    ("staging/sendgrid/stg_sendgrid__email_events", "staging", " as event_at", "event_at"),
    ("staging/crm/stg_crm__customers", "staging", " as signup_at", "signup_at"),
]


@pytest.mark.parametrize(
    ("sql_path", "schema", "names_it", "column"), CONTRACTED_RENAMES, ids=[r[0] for r in CONTRACTED_RENAMES]
)
def test_a_column_renamed_in_the_sql_alone_fails_the_build_naming_it(
    built_warehouse: BuiltWarehouse, tmp_path: Path, sql_path: str, schema: str, names_it: str, column: str
) -> None:
    # Guards the day-of-send failure: a column renamed in dbt used to pass both suites and break
    # only when Python read the table (the policy, scoring, measurement). Now dbt refuses the build
    # that drifts from the contract.
    model = Path(sql_path).name
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    sql = project / "models" / f"{sql_path}.sql"
    assert names_it in sql.read_text()
    sql.write_text(sql.read_text().replace(names_it, names_it.replace(column, f"renamed_{column}")))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    result = run_dbt(
        # --full-refresh: an incremental model's daily run already stops at a changed column
        # (on_schema_change='fail'); a rebuild from scratch is where only the contract catches it
        ["run", "--select", model, "--full-refresh", "--vars", f'{{"run_date": "{RUN_DATE}"}}'],
        warehouse,
        tmp_path / "work",
        project_dir=project,
    )
    assert result.returncode != 0
    output = "\n".join(result.messages)
    # DuckDB names it: 'Column "x" ...', 'Referenced column "x" not found', 'does not have a column named "x"'
    assert re.search(rf'column (named )?"{column}"', output, re.IGNORECASE), output[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the table stays as it was
        columns = [r[0] for r in con.execute(f"describe {schema}.{model}").fetchall()]
    assert column in columns and f"renamed_{column}" not in columns


def test_every_model_python_reads_by_column_name_has_an_enforced_contract() -> None:
    # Guards a reader added without a contract: Python would again keep its own copy of the columns.
    for sql_path, *_ in CONTRACTED_RENAMES:
        assert manifest.contract_columns(Path(sql_path).name)


def test_every_table_the_build_writes_has_an_enforced_contract() -> None:
    # Guards a table model added (or left) without one: its not_null checks would go back to data
    # tests that rescan it every day, and its column types would differ between DuckDB and
    # PostgreSQL. Views cannot enforce a constraint; they keep their tests.
    uncontracted = sorted(
        node["name"]
        for node in manifest.load_manifest()["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") in ("table", "incremental")
        and not node["config"].get("contract", {}).get("enforced")
    )
    assert not uncontracted


def _not_null_constraints(
    manifest_: dict, materialized: tuple[str, ...] = ("table", "incremental")
) -> dict[tuple[str, str], set[str]]:
    """(schema, table) -> the columns an enforced contract of a table model declares not null."""
    constrained: dict[tuple[str, str], set[str]] = {}
    for node in manifest_["nodes"].values():
        config = node.get("config", {})
        if node["resource_type"] != "model" or not config.get("contract", {}).get("enforced"):
            continue
        if config.get("materialized") not in materialized:
            continue
        columns = {
            name
            for name, column in node["columns"].items()
            if any(constraint["type"] == "not_null" for constraint in column.get("constraints", []))
        }
        if columns:
            constrained[(node["schema"], node["alias"])] = columns
    return constrained


def _unenforced(warehouse: Path, constrained: dict[tuple[str, str], set[str]]) -> list[str]:
    """The declared not_null constraints the warehouse's tables do not enforce, as schema.table.column."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        enforced = set(
            con.execute(
                "select schema_name, table_name, unnest(constraint_column_names) from duckdb_constraints() "
                "where constraint_type = 'NOT NULL'"
            ).fetchall()
        )
    return sorted(
        f"{schema}.{table}.{column}"
        for (schema, table), columns in constrained.items()
        for column in columns
        if (schema, table, column) not in enforced
    )


def test_every_not_null_constraint_is_enforced_by_the_built_table(built_warehouse: BuiltWarehouse) -> None:
    # The constraints replace not_null data tests (which read whole tables every day): they must
    # hold in the warehouse itself, so a null is refused by the insert that would write it.
    constrained = _not_null_constraints(manifest.load_manifest())
    assert constrained, "no enforced not_null constraints found in the manifest"
    assert not _unenforced(built_warehouse.path, constrained)


def _drop_not_null(warehouse: Path, constrained: dict[tuple[str, str], set[str]]) -> None:
    """Make the tables look as a version before their contracts created them: no not_null constraints."""
    with duckdb.connect(str(warehouse)) as con:
        for (schema, table), columns in constrained.items():
            for column in columns:
                con.execute(f"alter table {schema}.{table} alter column {column} drop not null")


def test_an_incremental_table_created_without_its_not_null_constraints_gains_them_on_its_next_run(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    # Guards a warehouse built by an earlier version: dbt writes a contract's constraints only when
    # it creates a table, and incremental runs append to the stored one, so without the pre-hook
    # nulls went unchecked there (the not_null tests being gone) until a full refresh.
    constrained = _not_null_constraints(manifest.load_manifest(), materialized=("incremental",))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    _drop_not_null(warehouse, constrained)
    assert _unenforced(warehouse, constrained)
    result = run_dbt(
        ["run", "--select", "config.materialized:incremental"],
        warehouse,
        tmp_path / "work",
        extra_env={"REENGAGE_RUN_DATE": RUN_DATE},
    )
    assert result.returncode == 0, result.explain()
    assert not _unenforced(warehouse, constrained)


def test_a_null_stored_before_the_constraint_fails_the_run_naming_the_column_and_writes_nothing(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    # Guards the same upgrade when the stored table already holds a null: the run must stop and say
    # where, not add rows beside it or drop the row.
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    _drop_not_null(warehouse, {("marts", "fct_sessions"): {"session_owner"}})
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update marts.fct_sessions set session_owner = null "
            "where session_id = (select min(session_id) from marts.fct_sessions)"
        )
        stored = sorted(con.execute("select * from marts.fct_sessions").fetchall(), key=repr)
    result = run_dbt(
        ["run", "--select", "fct_sessions"],
        warehouse,
        tmp_path / "work",
        extra_env={"REENGAGE_RUN_DATE": RUN_DATE},
    )
    assert result.returncode != 0
    output = "\n".join(result.messages)
    assert "fct_sessions.session_owner" in output, output[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert sorted(con.execute("select * from marts.fct_sessions").fetchall(), key=repr) == stored


def test_no_column_is_checked_for_nulls_twice() -> None:
    # A not_null data test on a column whose constraint the table enforces costs a scan a day
    # and checks nothing more.
    manifest_ = manifest.load_manifest()
    constrained = _not_null_constraints(manifest_)
    by_node = {
        node["unique_id"]: (node["schema"], node["alias"])
        for node in manifest_["nodes"].values()
        if node["resource_type"] == "model"
    }
    twice = sorted(
        f"{test['attached_node']}.{test['column_name']}"
        for test in manifest_["nodes"].values()
        if test["resource_type"] == "test"
        and test.get("test_metadata", {}).get("name") == "not_null"
        and test.get("column_name") in constrained.get(by_node.get(test.get("attached_node")), set())
    )
    assert not twice
