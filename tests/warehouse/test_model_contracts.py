"""The marts Python reads declare their columns once, in dbt, and dbt holds the SQL to it."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from orchestration.defs.interventions.schema import FEATURE_COLUMNS, FEATURES_MODEL
from orchestration.defs.warehouse import manifest
from orchestration.settings import DBT_PROJECT_DIR

from .conftest import BuiltWarehouse, run_dbt
from .raw_world import RUN_DATE

FEATURES_SQL = Path("models") / "marts" / f"{FEATURES_MODEL}.sql"


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


def test_a_column_renamed_in_the_sql_alone_fails_the_build_naming_it(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    # Guards the day-of-send failure: a column renamed in dbt used to pass both suites and break
    # only when the policy read the mart. Now dbt refuses the build that drifts from the contract.
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    sql = project / FEATURES_SQL
    assert "end as segment" in sql.read_text()
    sql.write_text(sql.read_text().replace("end as segment", "end as primary_segment"))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.path, warehouse)
    result = run_dbt(
        ["run", "--select", FEATURES_MODEL, "--vars", f'{{"run_date": "{RUN_DATE}"}}'],
        warehouse,
        tmp_path / "work",
        project_dir=project,
    )
    assert result.returncode != 0
    output = "\n".join(result.messages)
    assert 'Column "segment"' in output, output[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the mart stays as it was
        columns = [r[0] for r in con.execute(f"describe marts.{FEATURES_MODEL}").fetchall()]
    assert "segment" in columns and "primary_segment" not in columns
