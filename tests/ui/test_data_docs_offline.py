"""The Data Docs site as a person sees it with no network: styled pages, icons, an index row per run.

Builds a real site (three suites validated by Great Expectations, one with a failed expectation),
opens its pages from disk in headless Chromium with networking switched off over the DevTools
protocol, and asserts on what renders: computed styles of Bootstrap's and the project's classes,
Font Awesome's glyph font, the rows bootstrap-table draws into the index from its data. Screenshots
go to the test's tmp dir and to `.data/ui/`. Fails, never skips, when chromium is missing.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from PIL import Image

from reengage.defs.quality.data_docs import site_dir
from reengage.defs.quality.offline_assets import LOCAL_COPIES, VENDOR_DIR
from reengage.defs.quality.validation import validate_table
from tests.quality.quality_world import DAY, create_raw_tables, good_row, insert_rows

from .devtools import Page, open_page
from .webserver import ROOT

SUITES = {"customers": "raw_customers", "events": "raw_events", "email_events": "raw_email_events"}
SCREENSHOTS = ROOT / ".data" / "ui"


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A site with every raw suite's run; the events day has a row without an event_id (critical)."""
    folder = tmp_path_factory.mktemp("data_docs_site")
    warehouse = folder / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        create_raw_tables(con)
        for table in SUITES:
            insert_rows(con, table, [good_row(table, n) for n in range(4)])
        insert_rows(con, "events", [good_row("events", 9, event_id=None)])
    finally:
        con.close()
    pages = {}
    for table, suite in SUITES.items():
        outcome = validate_table(warehouse, f"raw.{table}", suite, DAY, data_docs_dir=folder / "docs")
        assert outcome.data_docs_path is not None
        pages[suite] = outcome.data_docs_path
    return {"index": site_dir(folder / "docs") / "index.html", **pages}


def _offline(page: Page) -> None:
    """No request leaves the browser: every http(s) load fails, as on a machine without a network."""
    page.call("Network.enable")
    page.call(
        "Network.emulateNetworkConditions",
        offline=True,
        latency=0,
        downloadThroughput=-1,
        uploadThroughput=-1,
    )
    page.call("Network.setBlockedURLs", urls=["http://*", "https://*"])


def _open(page: Page, path: Path) -> None:
    page.navigate(path.as_uri())
    page.wait_for(lambda text: "Great Expectations" in text or len(text) > 200, 60, "the page's text")
    # Scripts and fonts finish after the text shows; the page is what it will be once all loaded.
    page.evaluate("new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r))")
    page.evaluate("document.fonts.ready.then(() => true)")


def _remote_loads(page: Page) -> list[str]:
    return page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('file:'))"
    )


def _shot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = page.screenshot(tmp_path / name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / name)
    image = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert image.std() > 10, f"{name} is blank"
    print(f"screenshot: {shot} (copied to {SCREENSHOTS / name})")
    return shot


def test_the_index_renders_styled_with_a_row_per_suite_and_no_network(
    data_docs: dict[str, Path], tmp_path: Path
) -> None:
    # Guards the pages' 13 CDN assets: offline the index rendered unstyled and empty, because
    # bootstrap-table (loaded from a CDN) is what draws its rows from the page's data.
    with open_page(tmp_path / "profile", width=1400, height=900) as page:
        _offline(page)
        _open(page, data_docs["index"])
        rows = page.evaluate(
            "[...document.querySelectorAll('table tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' '))"
        )
        for suite in SUITES.values():
            assert any(suite in row for row in rows), f"no index row for {suite}: {rows}"
        style = page.evaluate(
            "(() => { const nav = document.querySelector('nav.navbar');"
            " const table = document.querySelector('.bootstrap-table');"
            " return {navDisplay: nav && getComputedStyle(nav).display,"
            " tableWrapper: !!table, bodyMargin: getComputedStyle(document.body).margin}; })()"
        )
        # Bootstrap's .navbar is a flex box and its reboot zeroes the body's margin (8px unstyled);
        # bootstrap-table wraps the table it drew in .bootstrap-table.
        assert style == {"navDisplay": "flex", "tableWrapper": True, "bodyMargin": "0px"}, style
        assert _remote_loads(page) == []
        _shot(page, tmp_path, "data-docs-index-offline.png")


def test_a_failed_validation_page_renders_styled_with_its_icons_and_no_network(
    data_docs: dict[str, Path], tmp_path: Path
) -> None:
    # Guards the validation page a check links to: offline it lost its layout and Font Awesome's
    # icons (the failed and passed marks), which are the page's whole point.
    with open_page(tmp_path / "profile", width=1400, height=1100) as page:
        _offline(page)
        _open(page, data_docs["raw_events"])
        text = page.text()
        assert "expect_column_values_to_not_be_null" in text or "values must never be null" in text
        assert "event_id" in text
        icons = page.evaluate(
            "(() => { const icons = [...document.querySelectorAll('i.fas, i.far, i.fa')];"
            " return {count: icons.length,"
            " fonts: [...new Set(icons.map(i => getComputedStyle(i, '::before').fontFamily))],"
            " loaded: [...document.fonts].some(f => f.family.includes('Font Awesome')"
            " && f.status === 'loaded')}; })()"
        )
        assert icons["count"] > 0 and icons["loaded"], icons
        assert all("Font Awesome" in font for font in icons["fonts"]), icons
        columns = page.evaluate("getComputedStyle(document.querySelector('.row')).display")
        assert columns == "flex"  # Bootstrap's grid: the table of contents beside the results
        assert _remote_loads(page) == []
        _shot(page, tmp_path, "data-docs-failed-validation-offline.png")


def test_no_page_loads_anything_from_another_host(data_docs: dict[str, Path]) -> None:
    # Guards a Great Expectations upgrade adding an asset the rewrite does not know: it would load
    # from the network again (or not at all offline) without anyone noticing.
    site = data_docs["index"].parent
    remote = re.compile(r"<(?:script|link|img)\b[^>]*?(?:src|href)=\"(https?://[^\"]+)\"")
    for page in site.rglob("*.html"):
        assert remote.findall(page.read_text()) == [], page


def test_the_local_copies_are_the_files_great_expectations_pins() -> None:
    # Guards a vendored file that is not the one the pages were written against: Great Expectations
    # pins popper.js and Bootstrap's script by hash, and those hashes must match the local copies.
    template = Path(__import__("great_expectations").__file__).parent / "render/view/templates"
    pinned = re.findall(
        r'src="(https://[^"]+)" integrity="sha384-([^"]+)"', (template / "js_script_imports.j2").read_text()
    )
    assert len(pinned) == 2
    for address, digest in pinned:
        copy = VENDOR_DIR / LOCAL_COPIES[address].removeprefix("static/vendor/")
        assert base64.b64encode(hashlib.sha384(copy.read_bytes()).digest()).decode() == digest, address
    # Every vendored package keeps its licence beside it.
    for package in (p for p in VENDOR_DIR.iterdir() if p.is_dir()):
        assert list(package.glob("LICENSE*")), f"{package.name} has no licence file"
