"""Stand-ins for the project's own macros (`reengage.<name>(...)`) when sqlfluff lints without dbt.

Each call renders as one identifier named after the macro, valid wherever the macro's SQL goes (a
column, an expression, a relation, a type), so the SQL around it is parsed and linted as written.
What the macros themselves produce is dbt's to check (`dbt build` compiles and runs every model).
`cte_hint` renders its hint, as DuckDB builds it: a keyword, where an identifier would not parse.
"""


def cte_hint(hint: str) -> str:
    return hint


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return lambda *args, **kwargs: f"reengage_{name}"
