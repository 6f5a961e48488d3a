"""dbt's `adapter.quote(name)` when sqlfluff lints without dbt: the identifier in DuckDB's quotes."""


def quote(name: str) -> str:
    return f'"{name}"'
