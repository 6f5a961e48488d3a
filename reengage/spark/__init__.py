"""The Spark warehouse (`REENGAGE_WAREHOUSE_KIND=spark`): its folders, the raw tables it reads, its Parquet.

dbt builds the models on Apache Spark through dbt-spark's `session` method: Spark runs inside the
dbt process (local mode by default) and writes every table as Parquet under one folder, the Spark
home (`spark.home`). That dbt is the one of the environment scripts/spark.sh makes (`spark.dbt`,
chosen in reengage/defs/warehouse/dbt_cli.py). The layout and the environment dbt's profile reads
are in `layout.py`; the raw tables reach Spark as Parquet files by day (`raw_export.py`, through
`day_folders.py`), and the stages' own tables are published the same way after each daily run
(`stage_export.py`); DuckDB reads the
tables Spark wrote (`parquet_tables.py`), and the Python stages read them through views in their
DuckDB file (`views.py`), refreshed around every build (`build.py`, which also discards Spark's
tables after an erasure); one build at a time holds a Spark home (`lock.py`); docs/deployment.md
says what runs where.
"""
