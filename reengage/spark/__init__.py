"""The Spark warehouse (`REENGAGE_WAREHOUSE_KIND=spark`): its folders, the raw tables it reads, its Parquet.

dbt builds the models on Apache Spark through dbt-spark's `session` method: Spark runs inside the
dbt process (local mode by default) and writes every table as Parquet under one folder, the Spark
home (`spark.home`). That dbt is the one of the environment scripts/spark.sh makes (`spark.dbt`,
chosen in reengage/defs/warehouse/dbt_cli.py). The layout and the environment dbt's profile reads
are in `layout.py`; the raw tables reach Spark as Parquet files (`raw_export.py`); DuckDB reads the
tables Spark wrote (`parquet_tables.py`). The Python stages do not read a Spark warehouse yet
(reengage/warehouse.py refuses the kind); docs/deployment.md says what runs where.
"""
