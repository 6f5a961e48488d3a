"""Erasure requests dropped in the landing folder, carried out at the start of every daily run.

The raw ingest assets depend on this one, so a request that lands before a run
is honoured before that day's exports load, and so before anything is decided
or sent. Request files stay where they are (they are the requester's); each
line is acted on once, recognised later by its request id in the audit table.
"""

import dagster as dg

from reengage import settings
from reengage.partitions import daily_partitions
from reengage.privacy.erasure import carry_out
from reengage.privacy.keys import PepperError
from reengage.privacy.requests import ErasureRequest, read_request_file, request_files
from reengage.privacy.warehouse_file import RewriteError
from reengage.warehouse import WarehouseResource

ERASURE_REQUESTS_KEY = dg.AssetKey(["privacy", "erasure_requests"])


@dg.asset(
    key=ERASURE_REQUESTS_KEY,
    partitions_def=daily_partitions,
    group_name="privacy",
    kinds={"duckdb", "sqlite", "python"},
    owners=["team:data-engineering"],
    tags={"domain": "privacy"},
)
def erasure_requests(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """People who asked to be erased: gone from every table, the ledger and other stores, never reloaded."""
    landing = settings.landing_dir()
    files = request_files(landing)
    requests: list[ErasureRequest] = []
    problems: list[str] = []
    requested_by = f"request file (run {context.run.run_id[:8]})"
    try:
        for path in files:
            found, bad = read_request_file(path, default_requested_by=requested_by)
            requests += found
            problems += bad
        run = carry_out(
            requests,
            warehouse_path=warehouse.resolved_path(),
            warehouse_kind=warehouse.resolved_kind(),
            ledger_path=settings.ledger_path(),
            skip_done=True,
        )
    except (PepperError, RewriteError) as err:
        # Neither goes away on a retry; a person sets the pepper or frees the file (or disk).
        raise dg.Failure(description=str(err), allow_retries=False) from err
    outcomes = run.outcomes
    done = [o for o in outcomes if not o.skipped]
    by_table: dict[str, int] = {}
    for outcome in done:
        for table, rows in outcome.rows_removed_by_table.items():
            by_table[table] = by_table.get(table, 0) + rows
    # Counts, table names and request ids only: never an identifier (hashed or not) in logs.
    for outcome in done:
        context.log.info(
            f"erasure request {outcome.request_id}: {outcome.rows_removed} row(s) removed or blanked "
            f"in {len(outcome.rows_removed_by_table)} table(s)"
        )
    if run.file_rewrite is not None:
        context.log.info(run.file_rewrite.summary)
    metadata = {
        "dagster/row_count": len(done),
        "request_files": len(files),
        "requests_carried_out": len(done),
        "requests_already_done": len(outcomes) - len(done),
        "rows_removed": sum(by_table.values()),
        "rows_removed_by_table": dg.MetadataValue.json(dict(sorted(by_table.items()))),
        "bad_request_lines": len(problems),
        "warehouse_file_rewritten": run.file_rewrite is not None,
    }
    if problems:
        # Fail closed: the good lines are done, but a request we could not read may be someone
        # who must not be mailed today. A person fixes the file; the next run picks it up.
        for line in problems:
            context.log.error(line)
        raise dg.Failure(
            description=f"{len(problems)} erasure request line(s) unreadable:\n" + "\n".join(problems[:20]),
            metadata=metadata,
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)
