"""One dbt command on Spark, then the rows of the views it built, from the same Spark session.

    python -m tests.spark.dbt_on_spark VIEWS_DIR <dbt arguments ...>

Runs dbt as its command line would (dbt's own entry point, in this process), so the Spark
session dbt-spark starts stays up when dbt is done. A view lives only in Spark's metastore and
DuckDB cannot read it, so every view model of the project (the manifest dbt just wrote says
which) is then written to VIEWS_DIR/<schema>.<name>/ as Parquet by that session: the tests
compare those rows with DuckDB's views without starting Spark a second time. Exits as dbt does
(0 success, 1 a node failed, 2 dbt could not run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def view_relations(manifest: Path) -> list[str]:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted(
        f"{node['schema']}.{node['alias']}"
        for node in nodes
        if node["resource_type"] == "model" and node["config"]["materialized"] == "view"
    )


def main(argv: list[str]) -> int:
    views_dir, dbt_args = Path(argv[0]), argv[1:]
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(dbt_args)
    if result.exception is not None:
        return 2
    if not result.success:
        return 1
    target_path = Path(dbt_args[dbt_args.index("--target-path") + 1])
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # dbt-spark's session, still running
    for relation in view_relations(target_path / "manifest.json"):
        spark.table(relation).write.mode("overwrite").parquet(str(views_dir / relation))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
