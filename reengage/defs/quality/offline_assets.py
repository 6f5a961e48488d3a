"""Make the Data Docs pages render with no network: local copies of the CSS, scripts and fonts they load.

Great Expectations' page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and
a few more from public CDNs; offline (a locked-down server, a laptop on a train) the pages render
unstyled and the index, which bootstrap-table fills from JavaScript, is empty. The same files are
kept in `vendor/` beside this module (each with its licence; `vendor/README.md` lists them), copied
into the site's `static/vendor/`, and every page's reference is rewritten to its local copy.

A reference the table below does not know is left as it is; the offline browser test fails on it
(a Great Expectations upgrade that adds an asset shows up there, not in front of a user).
"""

from __future__ import annotations

import filecmp
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"

_V = "static/vendor"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_JSDELIVR = "https://cdn.jsdelivr.net/npm"
_TABLE = "https://unpkg.com/bootstrap-table"
_FILTER_CONTROL = "dist/extensions/filter-control/bootstrap-table-filter-control"
# Each remote address in Great Expectations' templates, and the site's own copy (vendor/ is copied
# to static/vendor; static/images is Great Expectations' own).
LOCAL_COPIES: dict[str, str] = {
    f"{_JSDELIVR}/vega@5": f"{_V}/vega/vega.min.js",
    f"{_JSDELIVR}/vega-lite@5": f"{_V}/vega-lite/vega-lite.min.js",
    f"{_JSDELIVR}/vega-embed@6": f"{_V}/vega-embed/vega-embed.min.js",
    f"{_JSDELIVR}/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        f"{_V}/bootstrap-dark/bootstrap-prefers-dark.css"
    ),
    f"{_CDNJS}/font-awesome/6.6.0/css/all.min.css": f"{_V}/fontawesome/css/all.min.css",
    f"{_CDNJS}/popper.js/1.12.9/umd/popper.min.js": f"{_V}/popper.js/popper.min.js",
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        f"{_V}/bootstrap-datepicker/css/bootstrap-datepicker.min.css"
    ),
    f"{_CDNJS}/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        f"{_V}/bootstrap-datepicker/js/bootstrap-datepicker.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": f"{_V}/jquery/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        f"{_V}/bootstrap/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        f"{_V}/bootstrap/js/bootstrap.min.js"
    ),
    f"{_TABLE}@1.19.1/dist/bootstrap-table.min.css": f"{_V}/bootstrap-table/bootstrap-table.min.css",
    f"{_TABLE}@1.19.1/dist/bootstrap-table.min.js": f"{_V}/bootstrap-table/bootstrap-table.min.js",
    f"{_TABLE}@1.19.1/{_FILTER_CONTROL}.min.js": (
        f"{_V}/bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    # The pages ask for 1.19.0's filter-control styles (minified or not); 1.19.1's are the same rules.
    **{
        f"{_TABLE}@1.19.0/{_FILTER_CONTROL}{suffix}": (
            f"{_V}/bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css"
        )
        for suffix in (".css", ".min.css")
    },
    # Great Expectations' logo, fetched from its web-assets bucket with the site's id: its own copy.
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": (
        "static/images/logo-long.png"
    ),
}
# A <script>, <link> or <img> tag that loads a remote address (query string apart).
_TAG = re.compile(r"<(?:script|link|img)\b[^>]*?(?:src|href)=\"(https://[^\"?]+)(\?[^\"]*)?\"[^>]*>")
# Subresource integrity and CORS mode only apply to another origin; on a file:// page Chromium
# treats the local copy as one and refuses it, so both go with the CDN address.
_CROSS_ORIGIN_ATTRIBUTES = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"")


def make_pages_offline(site: Path, pages: Iterable[Path]) -> None:
    """Copy the vendored files into `site` and point `pages` (just written by Great Expectations) at them."""
    _copy_vendor(site / _V)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        rewritten = rewrite_page(text, _relative_root(page, site))
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")


def rewrite_page(html: str, root: str) -> str:
    """`html` with each known remote tag pointing at the site's copy (root: "../" per folder level)."""

    def local(match: re.Match[str]) -> str:
        address, query = match.group(1), match.group(2) or ""
        if address not in LOCAL_COPIES:
            return match.group(0)
        tag = match.group(0).replace(address + query, root + LOCAL_COPIES[address])
        return _CROSS_ORIGIN_ATTRIBUTES.sub("", tag)

    return _TAG.sub(local, html)


def _relative_root(page: Path, site: Path) -> str:
    return "../" * (len(page.relative_to(site).parts) - 1)


def _copy_vendor(target: Path) -> None:
    """Copy what is missing or changed (a product upgrade); an unchanged site copies nothing."""
    for source in VENDOR_DIR.rglob("*"):
        if source.is_dir() or source.name == "README.md":
            continue
        copy = target / source.relative_to(VENDOR_DIR)
        if copy.exists() and filecmp.cmp(source, copy, shallow=True):
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
