"""One persistent Data Docs site: every suite validated keeps its page, the index lists every suite and
links only pages that exist, and results older than the retention setting go with their pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import time_machine
from quality_world import DAY, good_row

from reengage import settings
from reengage.defs.quality.data_docs import site_dir, store_dir
from reengage.defs.quality.validation import validate_table

Load = Callable[..., None]
SUITES = {"customers": "raw_customers", "events": "raw_events", "email_events": "raw_email_events"}
# A validation page's link in the index: validations/<suite>/<run name>/<run time>/<batch>.html
PAGE_LINK = re.compile(r"validations/[^\"'\s]+?\.html")


def _validate(warehouse: Path, table: str, root: Path, **kwargs: object) -> Path:
    outcome = validate_table(warehouse, f"raw.{table}", SUITES[table], DAY, data_docs_dir=root, **kwargs)
    assert outcome.data_docs_path is not None, "no page was written"
    return outcome.data_docs_path


def _index_links(root: Path) -> set[str]:
    return {unquote(link) for link in PAGE_LINK.findall((site_dir(root) / "index.html").read_text())}


def test_every_suite_validated_keeps_its_page_and_the_index_lists_each_suite(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    # Guards the site built from one ephemeral context per suite: the index builder deleted every
    # page whose result was not in that context, so only the last suite kept its HTML and every other
    # check's link opened a missing file.
    root = tmp_path / "docs"
    for table in SUITES:
        load(table, [good_row(table, n) for n in range(3)])
    pages = [_validate(warehouse, table, root) for table in SUITES]

    assert all(page.is_file() for page in pages), [str(p) for p in pages if not p.is_file()]
    links = _index_links(root)
    assert {link.split("/")[1] for link in links} == set(SUITES.values())
    assert {str(page.relative_to(site_dir(root))) for page in pages} <= links
    assert all((site_dir(root) / link).is_file() for link in links)
    # The suites' own pages stay too, and no run folder is left empty.
    assert {p.stem for p in (site_dir(root) / "expectations").glob("*.html")} == set(SUITES.values())
    folders = [p for p in (site_dir(root) / "validations").rglob("*") if p.is_dir()]
    assert all(any(folder.iterdir()) for folder in folders)


def test_a_day_validated_again_keeps_the_earlier_runs_page(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    # Guards the check's link of an earlier run (a rerun of the day, a check launched from the UI):
    # it must still open the page that run wrote.
    root = tmp_path / "docs"
    load("events", [good_row("events", n) for n in range(3)])
    first = _validate(warehouse, "events", root)
    second = _validate(warehouse, "events", root)
    assert first != second and first.is_file() and second.is_file()
    assert {str(p.relative_to(site_dir(root))) for p in (first, second)} <= _index_links(root)


def test_results_older_than_the_retention_are_pruned_with_their_pages(
    warehouse: Path, load: Load, tmp_path: Path
) -> None:
    # Guards a site that grows without end (a page per suite per day, for years) and a pruned result
    # whose page or empty folders stay behind in the index or on disk.
    root = tmp_path / "docs"
    for table in ("events", "customers"):
        load(table, [good_row(table, n) for n in range(3)])
    now = datetime.now(UTC)
    with time_machine.travel(now - timedelta(days=40), tick=True):
        old_events = _validate(warehouse, "events", root, data_docs_retention_days=30)
        only_customers = _validate(warehouse, "customers", root, data_docs_retention_days=30)
    with time_machine.travel(now - timedelta(days=20), tick=True):
        recent_events = _validate(warehouse, "events", root, data_docs_retention_days=30)
    latest_events = _validate(warehouse, "events", root, data_docs_retention_days=30)

    assert not old_events.exists() and not old_events.parent.exists()
    assert recent_events.is_file() and latest_events.is_file()
    # The newest result of a suite stays whatever its age, so the index still lists every suite.
    assert only_customers.is_file()
    links = _index_links(root)
    assert links == {
        str(p.relative_to(site_dir(root))) for p in (recent_events, latest_events, only_customers)
    }
    results = store_dir(root) / "validations"
    kept = {str(p.relative_to(results).with_suffix(".html")) for p in results.rglob("*.json")}
    assert kept == {link.removeprefix("validations/") for link in links}


def test_a_retention_of_zero_keeps_every_result(warehouse: Path, load: Load, tmp_path: Path) -> None:
    # Guards a deployment that archives the site itself: 0 means "never prune", not "prune everything".
    root = tmp_path / "docs"
    load("events", [good_row("events", n) for n in range(3)])
    with time_machine.travel(datetime.now(UTC) - timedelta(days=400), tick=True):
        old = _validate(warehouse, "events", root, data_docs_retention_days=0)
    _validate(warehouse, "events", root, data_docs_retention_days=0)
    assert old.is_file()


def test_the_retention_setting_is_read_from_the_environment_and_a_negative_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Guards the setting being declared but never read, and a typo (-30) silently pruning everything.
    assert settings.data_docs_retention_days() == 30
    monkeypatch.setenv("REENGAGE_DATA_DOCS_RETENTION_DAYS", "90")
    assert settings.data_docs_retention_days() == 90
    monkeypatch.setenv("REENGAGE_DATA_DOCS_RETENTION_DAYS", "-1")
    with pytest.raises(settings.SettingsError, match="REENGAGE_DATA_DOCS_RETENTION_DAYS='-1'|0 or more"):
        settings.data_docs_retention_days()
