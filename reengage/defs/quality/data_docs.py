"""The Data Docs site: one persistent Great Expectations site, every suite's validations rendered into it.

A validation runs in an ephemeral context (`ge_run.py`), so its stores hold only that run. Great
Expectations' index builder removes every page whose result is not in the context's stores, so a
site built from ephemeral contexts keeps the last suite rendered and nothing else. Here the masked
results and the suites are kept in filesystem stores beside the site, and each page is built from
a context over those stores: every suite's pages stay, and the index lists them all.

    <root>/site/    the HTML site (index.html, expectations/, validations/, static/): what is served
    <root>/store/   the masked validation results and the suites the site is built from

Every page loads its CSS, scripts and fonts from the site itself (`offline_assets.py`), so the
site renders with no network. Results validated more than `retention_days` ago are pruned with
their pages (the newest of each suite always stays, so the index lists every suite); Great
Expectations removes a pruned result's page when it rebuilds the index. One writer at a time,
under a file lock: checks of one run validate in parallel processes, and an index written from a
stale list of results would drop a page.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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

from reengage.defs.quality.offline_assets import make_pages_offline

SITE_NAME = "local"


def site_dir(root: Path) -> Path:
    """The HTML site under a Data Docs root: the folder `reengage docs` serves."""
    return root / "site"


def store_dir(root: Path) -> Path:
    return root / "store"


def publish(
    root: Path,
    result: ExpectationSuiteValidationResult,
    suite: gx.ExpectationSuite,
    run_id: RunIdentifier,
    *,
    retention_days: int,
    now: datetime | None = None,
) -> Path:
    """Keep this (already masked) result, render its page and the suite's, prune old results, rebuild
    the index; the page's path. `retention_days` 0 keeps every result."""
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / ".lock"):
        context = _site_context(root)
        suite_id = ExpectationSuiteIdentifier(name=suite.name)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=result.batch_id
        )
        context.expectations_store.add_or_update(suite_id, suite)
        context.validation_results_store.set(key, result)
        if retention_days > 0:
            _prune(context, keep=key, before=(now or datetime.now(UTC)) - timedelta(days=retention_days))
        # Renders the two pages named; the index lists every result still stored and deletes the
        # pages of results that are not (the pruned ones).
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[key, suite_id])
        _remove_empty_folders(site_dir(root) / "validations")
        _remove_empty_folders(store_dir(root) / "validations")
        page, suite_page, index = (_page(context, resource) for resource in (key, suite_id, None))
        make_pages_offline(site_dir(root), [page, suite_page, index])
    return page


def _page(context: Any, resource: Any) -> Path:
    """Where the site keeps the page of `resource` (None: the index)."""
    url = context.get_docs_sites_urls(resource_identifier=resource, site_names=[SITE_NAME])[0]["site_url"]
    return Path(unquote(url.removeprefix("file://")))


def _site_context(root: Path) -> Any:
    """A context whose suites and results are files under `root/store`, its site under `root/site`."""
    stores = InMemoryStoreBackendDefaults()
    for name, folder in (
        (stores.expectations_store_name, "expectations"),
        (stores.validation_results_store_name, "validations"),
    ):
        stores.stores[name]["store_backend"] = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(store_dir(root) / folder),
        }
    config = DataContextConfig(
        store_backend_defaults=stores,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(site_dir(root)),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _prune(context: Any, keep: ValidationResultIdentifier, before: datetime) -> None:
    """Remove the results validated before `before`, except the newest of each suite."""
    store = context.validation_results_store
    keys: list[ValidationResultIdentifier] = store.list_keys()
    newest: dict[str, ValidationResultIdentifier] = {}
    for key in keys:
        suite = key.expectation_suite_identifier.name
        if suite not in newest or _run_time(key) > _run_time(newest[suite]):
            newest[suite] = key
    for key in keys:
        if key != keep and key not in newest.values() and _run_time(key) < before:
            store.remove_key(key)


def _run_time(key: ValidationResultIdentifier) -> datetime:
    run_time = key.run_id.run_time
    return run_time if run_time.tzinfo else run_time.replace(tzinfo=UTC)


def _remove_empty_folders(top: Path) -> None:
    """Great Expectations deletes a page's file but not its run folders; an empty folder is a dead end."""
    if not top.is_dir():
        return
    for folder, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
        path = Path(folder)
        if path != top and not any(path.iterdir()):
            path.rmdir()


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
