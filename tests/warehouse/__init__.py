"""Tests of the dbt project (dbt_project/) against a temporary DuckDB warehouse."""
