"""Where the Spark warehouse keeps its files, and the environment dbt's `spark` profile reads.

One folder, the Spark home (the `spark.home` setting), holds everything:

    <spark home>/warehouse/<schema>.db/<table>/   the tables dbt builds (Parquet; a table stored by day
                                                 has a folder per day, <column>=YYYY-MM-DD/)
    <spark home>/metastore/                       the embedded Derby metastore naming the tables: one
                                                 Spark process may open it at a time
    <spark home>/derby/                           Derby's log
    <spark home>/raw/<table>/                     the raw tables Spark reads (Parquet files, registered
                                                 as external tables before every dbt run)
    <spark home>/stages/<schema>/<table>/         the Python stages' tables, published after each daily
                                                 run for Spark's readers (Parquet by run date)

dbt_project/profiles.yml builds these paths from REENGAGE_SPARK_HOME, so the folder names here and
there must agree (tests/spark checks both against a real build).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from reengage import settings


@dataclass(frozen=True)
class SparkLayout:
    home: Path

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def metastore(self) -> Path:
        return self.home / "metastore"

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def stages(self) -> Path:
        return self.home / "stages"

    def table_dir(self, schema: str, name: str) -> Path:
        """The folder of a table dbt built (Spark's managed-table location)."""
        return self.warehouse / f"{schema}.db" / name


def sql_path(path: Path) -> str:
    """A path as the text of a SQL string literal (single quotes doubled), as DuckDB reads files."""
    return path.as_posix().replace("'", "''")


def spark_layout() -> SparkLayout:
    return SparkLayout(settings.spark_home())


def dbt_environment() -> dict[str, str]:
    """The variables the `spark` output of dbt_project/profiles.yml reads, from the settings."""
    return {
        settings.BY_KEY["spark.home"].env: str(settings.spark_home()),
        settings.BY_KEY["spark.master"].env: settings.spark_master(),
        settings.BY_KEY["spark.driver_memory"].env: settings.spark_driver_memory(),
        settings.BY_KEY["spark.threads"].env: str(settings.spark_threads()),
    }


def main(argv: list[str]) -> int:
    """`python -m reengage.spark.layout env`: the profile's variables as `export` lines for a shell."""
    if argv != ["env"]:
        print("usage: python -m reengage.spark.layout env", file=sys.stderr)
        return 2
    for name, value in dbt_environment().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
