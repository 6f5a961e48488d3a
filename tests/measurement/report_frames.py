"""Small hand-made measurement tables for the report's words and figures (no warehouse needed)."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import pandas as pd

from reengage.defs.measurement.analysis import TABLE_OF_FRAME, CampaignPlan, MeasurementTables
from reengage.defs.measurement.report import ReportData

DAY = date(2026, 3, 10)
PLAN = CampaignPlan("win_back", 0.2, {"control": 1.0}, "control", "Win back", "purchase", 7)


def tables(**rows: list[dict]) -> MeasurementTables:
    """The day's tables with `rows` per frame (e.g. summary=[...]); a column a row leaves out is null."""
    frames = {
        frame: pd.DataFrame(
            [
                {**dict.fromkeys(table.names, float("nan")), "run_date": DAY, **row}
                for row in rows.get(frame, [])
            ],
            columns=table.names,
        )
        for frame, table in TABLE_OF_FRAME.items()
    }
    return MeasurementTables(run_date=DAY, **frames)


def no_report_data() -> ReportData:
    return ReportData(
        curves=pd.DataFrame(columns=["arm", "day", "share", "users"]),
        cohorts=pd.DataFrame(columns=["cohort", "week", "share"]),
        dormancy=pd.DataFrame(columns=["dormancy_stage", "customers"]),
    )


def summary_row(arm: str, **figures: float) -> dict:
    zero = dict.fromkeys(("assigned", "matured", "sent", "delivered", "opened", "clicked", "bounced",
                          "spam_reported", "unsubscribed", "converted", "converted_matured"), 0)  # fmt: skip
    nan = float("nan")
    return {
        **zero,
        "campaign_id": "win_back",
        "variant": "control",
        "arm": arm,
        "click_through_rate": nan,
        "conversion_rate": nan,
        "revenue": 0.0,
        "revenue_per_user": nan,
        "median_hours_to_convert": nan,
        "median_hours_to_click": nan,
        **figures,
    }


def html_tables(page: str) -> dict[str, list[dict[str, str]]]:
    """The page's tables by the heading above them, each row as {header: cell}."""
    tables: dict[str, list[dict[str, str]]] = {}
    for block in page.split("<h2>")[1:]:
        heading, _, rest = block.partition("</h2>")
        if "<table" not in rest.split("<h2>")[0]:
            continue
        parser = _Rows()
        parser.feed(rest.split("</table>")[0])
        header, *body = parser.rows
        tables[heading] = [dict(zip(header, row, strict=True)) for row in body]
    return tables


class _Rows(HTMLParser):
    """The cells of one table, row by row (header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag == "tr":
            self.rows.append([])
        elif tag in ("th", "td"):
            self._cell = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
