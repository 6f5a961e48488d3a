"""The products source: a catalog export whose prices and links go into messages, checked at ingest,
and a source that is absent for a team without a catalog export until its first file lands."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from reengage.defs.ingest.contracts import (
    CONTRACTS,
    expected_sources,
    is_absent,
    missing_file_rule,
)
from reengage.defs.ingest.loader import load_day
from reengage.defs.quality.validation import validate_table

DAY = date(2026, 3, 10)
HEADER = list(CONTRACTS["products"].names)
GOOD = {
    "name": "Trail Running Shoe",
    "category": "shoes",
    "price": "89.90",
    "currency": "EUR",
    "image_url": "https://shop.example.com/images/sku-1.jpg",
    "product_url": "https://shop.example.com/product/sku-1",
    "in_stock": "true",
    "updated_at": "2026-03-10T06:00:00Z",
}


def _write(landing: Path, day: date, rows: list[dict[str, str]]) -> Path:
    path = landing / "products" / f"products_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.mark.parametrize("duckdb_reads_csv", [True, False], ids=["duckdb reader", "python reader"])
def test_a_bad_price_or_link_refuses_its_row_naming_file_row_and_column_and_the_rest_loads(
    tmp_path: Path, warehouse: Path, duckdb_reads_csv: bool
) -> None:
    # Guards what a message would show: a negative price, a price that is no number, a link without
    # its scheme or one that runs script were loaded as they came; each is refused with its place.
    landing = tmp_path / "landing"
    rows = [
        {**GOOD, "product_id": "sku-1"},
        {**GOOD, "product_id": "sku-2", "price": "-5", "currency": "usd"},
        {**GOOD, "product_id": "sku-3", "price": "twelve"},
        {**GOOD, "product_id": "sku-4", "product_url": "shop.example.com/product/sku-4"},
        {**GOOD, "product_id": "sku-5", "image_url": "javascript:alert(1)"},
        {**GOOD, "product_id": "sku-6", "currency": "euro"},
        {**GOOD, "product_id": "sku-7", "currency": "gbp", "image_url": "", "in_stock": "no", "price": "0"},
        # the same product twice in one file: the later updated_at wins, the other is superseded
        {**GOOD, "product_id": "sku-8", "price": "10", "updated_at": "2026-03-10T05:00:00Z"},
        {**GOOD, "product_id": "sku-8", "price": "12", "updated_at": "2026-03-10T07:00:00Z"},
    ]
    path = _write(landing, DAY, rows)
    with duckdb.connect(str(warehouse)) as con:
        report = load_day(con, str(landing), "products", DAY, duckdb_reads_csv=duckdb_reads_csv)
        loaded = con.execute(
            "select product_id, price, currency, image_url, in_stock from raw.products order by product_id"
        ).fetchall()
        refused = con.execute(
            'select file, "row", "column", reason from raw.quarantine '
            "where source = 'products' order by \"row\""
        ).fetchall()
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (9, 3, 6)
    assert loaded == [
        ("sku-1", 89.9, "EUR", "https://shop.example.com/images/sku-1.jpg", True),
        ("sku-7", 0.0, "GBP", None, False),
        ("sku-8", 12.0, "EUR", "https://shop.example.com/images/sku-1.jpg", True),
    ]
    assert refused == [
        (str(path), 2, "price", "below the allowed minimum 0"),
        (str(path), 3, "price", "not a number"),
        (str(path), 4, "product_url", "not an http or https URL"),
        (str(path), 5, "image_url", "not an http or https URL"),
        (str(path), 6, "currency", "not an ISO 4217 currency code"),
        (
            str(path),
            8,
            "product_id",
            "superseded by a later updated_at for the same product_id in this file (row 9)",
        ),
    ]


def test_the_loaded_catalog_passes_its_great_expectations_gate(tmp_path: Path, warehouse: Path) -> None:
    # Guards the suite against the contract it checks: rows ingest loads never fail it (its URL and
    # currency patterns are reengage/catalog_values.py's).
    landing = tmp_path / "landing"
    _write(landing, DAY, [{**GOOD, "product_id": f"sku-{i}", "in_stock": str(i % 2 == 0)} for i in range(5)])
    with duckdb.connect(str(warehouse)) as con:
        assert load_day(con, str(landing), "products", DAY).rows_loaded == 5
    outcome = validate_table(warehouse, "raw.products", "raw_products", DAY)
    assert outcome.success, outcome.summary
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update raw.products set price = -1 where product_id = 'sku-0'")
    assert not validate_table(warehouse, "raw.products", "raw_products", DAY).success


def test_products_are_absent_until_a_first_catalog_export_lands_then_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards a team without a catalog export: it needs no empty files (nothing waits for the source);
    # from the first export on, a day without one is late, so no message shows yesterday's price.
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("REENGAGE_LANDING", str(landing))
    assert is_absent("products", str(landing))
    assert "products" not in expected_sources(str(landing))
    assert missing_file_rule("products", str(landing)) == "no_activity"
    _write(landing, DAY, [{**GOOD, "product_id": "sku-1"}])
    assert not is_absent("products", str(landing))
    assert missing_file_rule("products", str(landing)) == "required"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        report = load_day(con, str(landing), "products", date(2026, 3, 11))
    assert report.missing and report.rows_loaded == 0


def test_a_jsonl_catalog_export_reads_prices_and_stock_as_typed_values(
    tmp_path: Path, warehouse: Path
) -> None:
    landing = tmp_path / "landing"
    path = landing / "products" / f"products_{DAY.isoformat()}.jsonl"
    path.parent.mkdir(parents=True)
    record = {**GOOD, "product_id": "sku-1", "price": 19.5, "in_stock": False}
    path.write_text(json.dumps(record) + "\n")
    with duckdb.connect(str(warehouse)) as con:
        report = load_day(con, str(landing), "products", DAY)
        row = con.execute("select price, in_stock, updated_at from raw.products").fetchone()
    assert report.rows_loaded == 1
    assert row[0] == 19.5 and row[1] is False and row[2].isoformat().startswith("2026-03-10T06:00:00")
