"""The input contracts in docs/architecture.md are generated from the code, and what they show is true."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage import contract_doc
from reengage.defs.ingest import contracts
from reengage.defs.ingest.contracts import CONTRACTS, Column, Contract
from reengage.defs.ingest.loader import load_day
from reengage.defs.ingest.parse import ACCEPTED_SAMPLES, parse_export
from reengage.defs.ingest.reader import READ_COLUMNS

DAY = date(2026, 3, 10)


def test_the_contract_tables_in_the_architecture_doc_are_what_the_code_defines() -> None:
    # Guards against a contract or a parser rule changing while the docs keep describing the old one.
    assert contract_doc.BLOCK.current() == contract_doc.render().strip(), (
        "docs/architecture.md is stale: run python -m reengage.contract_doc --write"
    )


def test_a_column_added_to_a_contract_shows_in_the_generated_docs(monkeypatch) -> None:
    # Guards against the docs being written from a copy of the contracts rather than from them: only
    # then would the staleness check above catch a contract that changed.
    customers = CONTRACTS["customers"]
    grown = dataclasses.replace(
        customers, columns=(*customers.columns, Column("loyalty_tier", "text", example="gold"))
    )
    monkeypatch.setitem(contracts.CONTRACTS, "customers", grown)
    assert "| `loyalty_tier` | optional | text |  | refuses the row | `gold` |" in contract_doc.render()
    assert contract_doc.render().strip() != contract_doc.BLOCK.current()


@pytest.mark.parametrize("source", list(CONTRACTS))
def test_every_documented_example_loads_as_a_good_row_with_every_value_kept(
    source: str, tmp_path: Path
) -> None:
    # Guards against an example in the docs that ingest would refuse, null or warn about.
    contract = CONTRACTS[source]
    assert all(column.example for column in contract.columns), "every column needs an example"
    folder = tmp_path / "landing" / source
    folder.mkdir(parents=True)
    with (folder / f"{source}_{DAY}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(contract.names)
        writer.writerow([column.example for column in contract.columns])
    with duckdb.connect() as con:
        report = load_day(con, str(tmp_path / "landing"), source, DAY)
        row = con.execute(f"select {', '.join(contract.names)} from raw.{source}").fetchall()
    assert (report.rows_loaded, report.rows_quarantined, report.warnings) == (1, 0, [])
    assert None not in row[0]


@pytest.mark.parametrize("column_type", list(ACCEPTED_SAMPLES))
def test_every_sample_a_type_is_documented_with_is_accepted_by_the_parser(column_type: str) -> None:
    # Guards against the docs' list of accepted formats claiming a format the parser refuses.
    samples = ACCEPTED_SAMPLES[column_type]
    contract = Contract(source="samples", columns=(Column("value", column_type),))  # type: ignore[arg-type]
    frame = pd.DataFrame({"value": pd.Series(samples, dtype=object)})
    frame.insert(0, "_source_row", range(1, len(samples) + 1))
    for name in READ_COLUMNS[1:]:
        frame[name] = pd.Series([None] * len(samples), dtype=object)
    parsed = parse_export(frame, contract, "samples.csv", DAY)
    assert parsed.quarantine.empty, parsed.quarantine[["row", "reason"]].to_dict("records")
    assert parsed.good["value"].notna().all()
