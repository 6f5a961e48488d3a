"""What Spark itself reads from folders of Parquet by day, as JSON, for the tests.

    <Spark environment's python> tests/spark/spark_reads.py OUT.json FOLDER ...

Per folder: the columns and types Spark infers (the day column from the folder names) and its
rows by day, read by SQL as a dbt model on Spark would (`parquet.` and the folder's path). Run by
the Spark environment's python (pyspark is never in the product's).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path, folders: list[str]) -> int:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[1]").getOrCreate()
    read = {}
    for folder in folders:
        frame = spark.sql(f"select * from parquet.`{folder}`")
        day_column = frame.columns[-1]  # a partition column comes last
        days = frame.groupBy(day_column).count().collect()
        read[folder] = {
            "columns": [[field.name, field.dataType.simpleString()] for field in frame.schema.fields],
            "days": {str(row[0]): row[1] for row in days},
        }
    out.write_text(json.dumps(read))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
