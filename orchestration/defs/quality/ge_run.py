"""Run one suite in an ephemeral Great Expectations context, and render a run into Data Docs.

Nothing is written except Data Docs (when asked for): the context, its stores and the
validation result live in memory. The suite is pushed down to the warehouse as SQL over
the connection `ge_connections.py` describes (the table is never loaded into pandas), and
every engine GE made is disposed before returning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import great_expectations as gx
from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from orchestration.defs.quality.findings import QualityGateError
from orchestration.defs.quality.ge_connections import dispose_engines
from orchestration.defs.quality.masking import scrub

logger = logging.getLogger(__name__)


def ephemeral_context(data_docs_dir: Path | None) -> Any:
    """An in-memory context: nothing written except Data Docs, no analytics, no progress bars."""
    sites = {}
    if data_docs_dir is not None:
        sites["local"] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites=sites,
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


def write_data_docs(
    context: Any, result: ExpectationSuiteValidationResult, suite_name: str, run_id: RunIdentifier
) -> Path | None:
    """Render this run into the Data Docs site; optional, so a rendering problem only warns.

    The validation already stored the unmasked result in the in-memory store; it is
    overwritten with the masked one first, so the HTML never shows an address.
    """
    try:
        suite_id = ExpectationSuiteIdentifier(name=suite_name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=result.batch_id
        )
        context.validation_results_store.set(key, result)
        context.build_data_docs(site_names=["local"], resource_identifiers=[key, suite_id])
        url = context.get_docs_sites_urls(resource_identifier=key, site_names=["local"])[0]["site_url"]
        return Path(unquote(url.removeprefix("file://"))) if url else None
    except Exception:
        logger.warning("could not write Data Docs for %s", suite_name, exc_info=True)
        return None
