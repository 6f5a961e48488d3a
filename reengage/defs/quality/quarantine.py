"""The day's quarantined rows, and the rows naming what no export holds, summarised where the
people who fix exports will look."""

from datetime import date

import dagster as dg
import duckdb

from reengage.defs.ingest.contracts import CONTRACTS, SOURCES
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource


@dg.asset(
    partitions_def=daily_partitions,
    group_name="quality",
    kinds={"duckdb"},
    deps=[dg.AssetKey(["raw", source]) for source in SOURCES],
    owners=["team:data-engineering"],
)
def quarantine_summary(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Rows refused at ingest for the day, and values set to null in the rows it loaded, by source,
    column and reason (the rows are in raw.quarantine); and the day's events of customers the CRM
    has not exported."""
    day = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            'select source, "column", reason, row_kept, count(*) as n_rows from raw.quarantine '
            'where _partition_date = ? group by all order by n_rows desc, source, "column", reason',
            [day],
        ).fetchall()
        loaded = {
            source: con.execute(
                f"select count(*) from raw.{source} where _partition_date = ?", [day]
            ).fetchall()[0][0]
            for source in SOURCES
        }
        references = unknown_references(con, day)
    table = "\n".join(
        f"| {s} | {c} | {r} | {'value set to null, row kept' if kept else 'row refused'} | {n} |"
        for s, c, r, kept, n in rows
    )
    refused = sum(n for *_, kept, n in rows if not kept)
    share = refused / max(1, refused + sum(loaded.values()))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": refused,
            "quarantined_share": round(share, 6),
            "values_set_to_null": sum(n for *_, kept, n in rows if kept),
            **{f"loaded/{source}": n for source, n in loaded.items()},
            "by_reason": dg.MetadataValue.md(
                "| source | column | reason | outcome | rows |\n|---|---|---|---|---|\n" + table
                if rows
                else "Nothing quarantined."
            ),
            **{
                f"{source}_naming_unknown_{target.split('.')[0]}": n for source, _, target, n, _ in references
            },
            "unknown_references": dg.MetadataValue.md(
                "| rows of | column | names a | rows | distinct values |\n|---|---|---|---|---|\n"
                + "\n".join(f"| {s} | {c} | {t} | {n} | {v} |" for s, c, t, n, v in references)
            ),
            "inspect": dg.MetadataValue.md(
                f"`select * from raw.quarantine where _partition_date = '{day}' order by source, file, row`"
            ),
        }
    )


def unknown_references(con: duckdb.DuckDBPyConnection, day: date) -> list[tuple[str, str, str, int, int]]:
    """Per column naming another export's rows (contracts.py, `references`): the day's loaded rows
    whose value no row of that export loaded up to the day holds, and how many distinct values.

    Such rows are kept and counted, never matched by a guess: an event of a customer the CRM has not
    exported (yet, or whose every row was refused) belongs to nobody downstream.
    """
    found = []
    for contract in CONTRACTS.values():
        for column in (c for c in contract.columns if c.references):
            target, key = column.references.split(".")
            rows, values = con.execute(
                f'select count(*), count(distinct r."{column.name}") from raw.{contract.source} as r '
                f'where r._partition_date = ? and r."{column.name}" is not null and not exists ('
                f'select 1 from raw.{target} as t where t."{key}" = r."{column.name}" '
                "and t._partition_date <= ?)",
                [day, day],
            ).fetchone()
            found.append((contract.source, column.name, column.references, int(rows), int(values)))
    return found
