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
    """Rows refused at ingest for the day, by source, column and reason (the rows are in raw.quarantine)."""
    day = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            'select source, "column", reason, count(*) as n_rows, count(distinct file) as files '
            "from raw.quarantine where _partition_date = ? group by all order by n_rows desc",
            [day],
        ).fetchall()
        loaded = {
            source: con.execute(
                f"select count(*) from raw.{source} where _partition_date = ?", [day]
            ).fetchall()[0][0]
            for source in SOURCES
        }
    table = "\n".join(f"| {s} | {c} | {r} | {n} |" for s, c, r, n, _ in rows)
    quarantined = sum(row[3] for row in rows)
    share = quarantined / max(1, quarantined + sum(loaded.values()))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": quarantined,
            "quarantined_share": round(share, 6),
            **{f"loaded/{source}": n for source, n in loaded.items()},
            "by_reason": dg.MetadataValue.md(
                "| source | column | reason | rows |\n|---|---|---|---|\n" + table
                if rows
                else "Nothing quarantined."
            ),
            "inspect": dg.MetadataValue.md(
                f"`select * from raw.quarantine where _partition_date = '{day}' order by source, file, row`"
            ),
        }
    )
