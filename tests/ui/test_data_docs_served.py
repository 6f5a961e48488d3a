"""A quality check's Data Docs link opens from the Dagster UI: `reengage docs` serves the site at the URL the
check links, and the page behind the link renders in a browser.

Runs a real check (Great Expectations on a temporary DuckDB file) through `dg.materialize`, starts
the real `reengage docs` command on a free port named only by the data_docs.url setting, and opens
the check's `data_docs` and `data_docs_index` links in headless Chromium. Fails, never skips, when
chromium is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from reengage.defs.quality import checks
from reengage.partitions import daily_partitions
from reengage.warehouse import WarehouseResource
from tests.quality.quality_world import DAY, create_raw_tables, good_row, insert_rows

from .devtools import Page, open_page
from .test_data_docs_offline import _shot
from .webserver import ROOT, free_port


@pytest.fixture
def docs_url(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("REENGAGE_DATA_DOCS_URL", url)
    return url


@pytest.fixture
def docs_server(docs_url: str, isolated_home: Path) -> Iterator[subprocess.Popen]:
    """`reengage docs` as a user starts it: no flags, the address from the setting (the environment)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "reengage.cli", "docs"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith(f"Data Docs at {docs_url}/"), line + (
            process.stderr.read() if process.stderr else ""
        )
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: the server is not under test here
            process.kill()
            process.wait()


def _check_metadata(warehouse: Path) -> dict[str, str]:
    """Materialize a stand-in for raw/events (same key), one row without an event_id, and the real check."""

    @dg.asset(key=["raw", "events"], partitions_def=daily_partitions)
    def raw_events(warehouse: WarehouseResource) -> None:
        with warehouse.connect() as con:
            create_raw_tables(con)
            insert_rows(con, "events", [good_row("events", n) for n in range(4)])
            insert_rows(con, "events", [good_row("events", 9, event_id=None)])

    result = dg.materialize(
        [raw_events, checks.raw_events_expectations],
        partition_key=DAY.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return {key: getattr(value, "value", value) for key, value in evaluation.metadata.items()}


def test_a_checks_data_docs_link_is_served_over_http_and_renders(
    docs_url: str, docs_server: subprocess.Popen, tmp_path: Path
) -> None:
    # Guards the file:// links: a browser does not follow one from the UI's http:// page, so every
    # check's "data_docs" link did nothing when clicked in the Dagster UI.
    metadata = _check_metadata(tmp_path / "warehouse.duckdb")
    link, index = metadata["data_docs"], metadata["data_docs_index"]
    assert link.startswith(f"{docs_url}/validations/raw_events/") and link.endswith(".html"), link
    assert index == f"{docs_url}/index.html"
    for url in (link, index):
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and "text/html" in response.headers["Content-Type"]

    with open_page(tmp_path / "profile", width=1400, height=1000) as page:
        _open_url(page, link)
        text = page.text()
        assert "event_id" in text and "Failed" in text
        assert page.evaluate("getComputedStyle(document.querySelector('.row')).display") == "flex"
        _shot(page, tmp_path, "data-docs-check-link-served.png")
        _open_url(page, index)
        rows = page.evaluate("[...document.querySelectorAll('table tbody tr')].map(r => r.innerText)")
        assert any("raw_events" in row for row in rows), rows
        _shot(page, tmp_path, "data-docs-index-served.png")


def test_without_a_docs_url_a_check_links_its_page_as_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Guards a deployment that reads the pages from a shell (or publishes them elsewhere): an empty
    # data_docs.url keeps the file:// link to the page that exists.
    settings_file = tmp_path / "reengage.toml"
    settings_file.write_text('[data_docs]\nurl = ""\n')
    monkeypatch.setenv("REENGAGE_SETTINGS", str(settings_file))
    monkeypatch.delenv("REENGAGE_DATA_DOCS_URL", raising=False)
    metadata = _check_metadata(tmp_path / "warehouse.duckdb")
    assert metadata["data_docs"] == Path(metadata["data_docs_path"]).as_uri()
    assert Path(metadata["data_docs_path"]).is_file()


def _open_url(page: Page, url: str) -> None:
    page.navigate(url)
    deadline = time.monotonic() + 30
    while page.evaluate("document.URL") != url and time.monotonic() < deadline:
        time.sleep(0.2)
    page.wait_for(lambda text: len(text) > 100, 60, "the page's text")
    page.evaluate("new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r))")


def test_docs_refuses_a_docs_url_it_cannot_serve_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards a deployment whose data_docs.url is its own https host: the command must say why it
    # does not serve (and how to), not start listening somewhere the links do not point.
    monkeypatch.setenv("REENGAGE_DATA_DOCS_URL", "https://docs.example.com/quality")
    done = subprocess.run(
        [sys.executable, "-m", "reengage.cli", "docs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "reengage docs: data_docs.url='https://docs.example.com/quality' is not an http:// address to "
        "serve at; give --host and --port"
    ]
