"""Run one suite in an ephemeral Great Expectations context.

Nothing is written: the context, its stores and the validation result live in memory (the Data
Docs site keeps what it renders in stores of its own, `data_docs.py`). The suite is pushed down to
the warehouse as SQL over the connection `ge_connections.py` describes (the table is never loaded
into pandas), and every engine GE made is disposed before returning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import great_expectations as gx
from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from reengage.defs.quality.findings import QualityGateError
from reengage.defs.quality.ge_connections import dispose_engines
from reengage.defs.quality.masking import scrub


def ephemeral_context() -> Any:
    """An in-memory context: nothing written, no analytics, no progress bars."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_suite(
    context: Any,
    suite: gx.ExpectationSuite,
    *,
    url: str,
    connect_args: Mapping[str, Any],
    where: str,
    asset_name: str,
    query: str,
    batch_name: str,
    definition_name: str,
    parameters: Mapping[str, str],
    partial_unexpected_count: int,
) -> tuple[ExpectationSuiteValidationResult, RunIdentifier]:
    """Validate the rows `query` selects with `suite`; `where` names the warehouse in errors.

    The run is named after `parameters["partition_date"]`, the day it validates.
    """
    try:
        datasource = context.data_sources.add_sql(
            name="warehouse", connection_string=url, kwargs={"connect_args": connect_args}
        )
    except Exception as exc:  # GE wraps the driver's error (a lock held by a writer, a bad setting)
        raise QualityGateError(f"cannot connect to {where} read-only: {scrub(str(exc))[:500]}") from exc
    try:
        asset = datasource.add_query_asset(name=asset_name, query=query)
        batch = asset.add_batch_definition_whole_table(name=batch_name)
        suite = context.suites.add(suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=definition_name, data=batch, suite=suite)
        )
        # run_time explicitly: given only a date-like run_name, GE parses it into the run time.
        run_id = RunIdentifier(run_name=parameters["partition_date"], run_time=datetime.now(UTC))
        result = definition.run(
            expectation_parameters=dict(parameters),
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": partial_unexpected_count,
            },
            run_id=run_id,
        )
    finally:
        dispose_engines(datasource)
    return result, run_id
