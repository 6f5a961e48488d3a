"""Stand-ins for dbt's cross-database macros (`dbt.<name>(...)`) when sqlfluff lints without dbt.

Each call renders as one identifier named after the macro, valid wherever the macro's SQL goes (a
column, an expression, a type), so the SQL around it is parsed and linted as written. What the
macros themselves produce is dbt's to check (`dbt build` compiles and runs every model).
"""


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    return lambda *args, **kwargs: f"dbt_{name}"
