"""The day's quarantined rows, summarised where the people who fix exports will look."""

from datetime import date

import dagster as dg

from orchestration.defs.ingest.contracts import SOURCES
from orchestration.partitions import daily_partitions
from orchestration.warehouse import WarehouseResource


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
    column and reason (the rows are in raw.quarantine)."""
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
            "inspect": dg.MetadataValue.md(
                f"`select * from raw.quarantine where _partition_date = '{day}' order by source, file, row`"
            ),
        }
    )
