"""Dry-run preview: what day D would send, and how that differs from the day before.

    python -m reengage.defs.interventions.preview --date 2025-03-10 [--warehouse PATH]

Decisions for D are computed with `policy.decide` into session temp tables on
a read-only connection, so a preview can never send, write `interventions.*`
or touch the ledger. Day D-1 comes from the stored `interventions.decisions`
when that run exists (what really happened), else from a dry run of D-1 as
well. Only campaign ids, reasons and counts are printed: no address, no body (unless
`--samples N` asks for a few rendered messages per campaign to review: samples.py). Below them, each
campaign's latest judgement of its candidate targetings (measurement.targeting_estimates:
what uplift, churn-risk or random targeting at a budget would have brought, estimated from
its logged decisions) shows what a change of targeting would do before it goes live.

Caveats the output states when they apply: a dry run renders no templates (so
it shows no `render_error`), and a dry run of D cannot count messages of a D-1
run that was never stored when it applies caps and cooldowns.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy import PolicyConfig, decide
from reengage.defs.interventions.policy.decisions import BASE_TABLE, DECISIONS_WORK_TABLE
from reengage.defs.interventions.policy.inputs import FEATURES_TABLE
from reengage.defs.interventions.policy.persistence import DECISIONS_TABLE, LIST_TABLE
from reengage.defs.interventions.summary import REASON_ORDER
from reengage.tables import as_frame

Previous = Literal["auto", "stored", "dry_run"]
COLUMNS = ["campaign_id", "reason", "count", "previous_count", "change"]
ALL = "(all campaigns)"


@dataclass(frozen=True)
class PreviewDiff:
    """Counts by campaign and reason for D and D-1 (no personal data)."""

    run_date: date
    previous_date: date
    previous_source: str  # "stored run" or "dry run"
    table: pd.DataFrame  # campaign_id, reason, count, previous_count, change
    notes: list[str] = field(default_factory=list)

    def count(self, campaign_id: str, reason: str, previous: bool = False) -> int:
        rows = self.table[(self.table["campaign_id"] == campaign_id) & (self.table["reason"] == reason)]
        return int(rows["previous_count" if previous else "count"].sum())

    def would_send(self) -> int:
        """Messages D would send (treatment arm), over all campaigns."""
        return self.count(ALL, "chosen")

    def text(self) -> str:
        d, p = self.run_date.isoformat(), self.previous_date.isoformat()
        header = ["campaign", "reason", d, f"{p} ({self.previous_source})", "change"]
        rows = [
            [r.campaign_id, r.reason, str(r.count), str(r.previous_count), _signed(r.change)]
            for r in self.table.itertuples(index=False)
        ]
        widths = [max(len(x) for x in column) for column in zip(header, *rows, strict=True)]
        numeric = {2, 3, 4}

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        out = [
            f"Dry run for {d}: {self.would_send()} message(s) would be sent,"
            f" {self.count(ALL, 'campaign_holdout')} held out (nothing was sent or written).",
            "",
            line(header),
            line(["-" * w for w in widths]),
            *(line(r) for r in rows),
        ]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self) -> str:
        if self.table.empty:
            return "_No candidates on either day._"
        d, p = self.run_date.isoformat(), self.previous_date.isoformat()
        lines = [
            f"| campaign | reason | {d} | {p} ({self.previous_source}) | change |",
            "|---|---|---:|---:|---:|",
        ]
        for r in self.table.itertuples(index=False):
            lines.append(
                f"| {r.campaign_id} | {r.reason} | {r.count} | {r.previous_count} | {_signed(r.change)} |"
            )
        lines += [f"\n_{n}_" for n in self.notes]
        return "\n".join(lines)


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


def _reason_rank(reason: str) -> int:
    head = reason.split(":", 1)[0]
    return REASON_ORDER.index(head) if head in REASON_ORDER else len(REASON_ORDER)


def work_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Counts by campaign and reason of the decisions `decide` left in its temp table."""
    return as_frame(
        con.execute(f"select campaign_id, reason, count(*) as n from {DECISIONS_WORK_TABLE} group by all")
    )


def stored_counts(con: duckdb.DuckDBPyConnection, run_date: date) -> pd.DataFrame | None:
    """Counts of a stored run, or None when no decisions were stored for that date."""
    counts = as_frame(
        con.execute(
            f"select campaign_id, reason, count(*) as n from {DECISIONS_TABLE} "
            "where run_date = ? group by all",
            [run_date],
        )
    )
    return counts if len(counts) else None


def diff_counts(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Outer join of two (campaign_id, reason, n) frames, with totals over all campaigns."""
    frames = []
    for frame, name in ((current, "count"), (previous, "previous_count")):
        part = frame[["campaign_id", "reason", "n"]].rename(columns={"n": name})
        frames.append(part.astype({"campaign_id": str, "reason": str}))
    merged = frames[0].merge(frames[1], on=["campaign_id", "reason"], how="outer")
    merged[["count", "previous_count"]] = merged[["count", "previous_count"]].fillna(0).astype(int)
    if len(merged):
        totals = merged.groupby("reason", as_index=False)[["count", "previous_count"]].sum()
        merged = pd.concat([merged, totals.assign(campaign_id=ALL)], ignore_index=True)
    merged["change"] = merged["count"] - merged["previous_count"]
    merged["_all"] = merged["campaign_id"] == ALL
    merged["_rank"] = merged["reason"].map(_reason_rank)
    merged = merged.sort_values(["_all", "campaign_id", "_rank", "reason"]).reset_index(drop=True)
    return merged[COLUMNS].astype({"count": int, "previous_count": int, "change": int})


def preview_diff(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig | None = None,
    *,
    previous: Previous = "auto",
) -> PreviewDiff:
    """Dry-run D and compare with D-1 (stored run when present and `previous` allows, else a dry run).

    Writes only session temp tables; safe on a read-only connection.
    """
    config = config or PolicyConfig()
    day_before = run_date - timedelta(days=1)
    notes: list[str] = []
    decide(con, run_date, campaigns, config, notes)
    _note_missing_features(con, run_date, notes)
    current = work_counts(con)

    stored = stored_counts(con, day_before) if previous != "dry_run" else None
    if stored is None and previous == "stored":
        notes.append(f"no stored decisions for {day_before}: its counts are shown as 0")
        stored = current.iloc[0:0]
    if stored is not None:
        source, before = "stored run", stored
    else:
        source = "dry run"
        decide(con, day_before, campaigns, config, [])
        _note_missing_features(con, day_before, notes)
        before = work_counts(con)
    if not _stored_list_exists(con, day_before):
        notes.append(
            f"no stored list for {day_before}: caps and cooldowns on {run_date} cannot count its messages"
        )
    notes.append("a dry run renders no templates, so render errors show only in stored runs")
    return PreviewDiff(run_date, day_before, source, diff_counts(current, before), notes)


def diff_with_stored(con: duckdb.DuckDBPyConnection, run_date: date, counts: pd.DataFrame) -> PreviewDiff:
    """Compare a finished run's counts (campaign_id, reason, n) with the stored run of D-1."""
    day_before = run_date - timedelta(days=1)
    stored = stored_counts(con, day_before)
    notes = [] if stored is not None else [f"no stored decisions for {day_before}: its counts are shown as 0"]
    before = stored if stored is not None else counts.iloc[0:0]
    return PreviewDiff(run_date, day_before, "stored run", diff_counts(counts, before), notes)


def _note_missing_features(con: duckdb.DuckDBPyConnection, run_date: date, notes: list[str]) -> None:
    row = con.execute(f"select count(*) from {BASE_TABLE}").fetchone()
    if not row or not row[0]:
        notes.append(f"{FEATURES_TABLE} has no rows for {run_date}: build the models for that date first")


def _stored_list_exists(con: duckdb.DuckDBPyConnection, run_date: date) -> bool:
    row = con.execute(f"select count(*) from {LIST_TABLE} where run_date = ?", [run_date]).fetchone()
    return bool(row and row[0])


def main(argv: Sequence[str] | None = None) -> int:
    from reengage import settings
    from reengage.defs.interventions.campaigns import CampaignError, load_campaigns
    from reengage.defs.interventions.policy import PolicyError
    from reengage.defs.interventions.samples import sample_messages
    from reengage.defs.measurement.targeting import estimates_markdown, latest_estimates
    from reengage.schema.migrations import MissingTable

    parser = argparse.ArgumentParser(
        prog="python -m reengage.defs.interventions.preview",
        description="Dry run of the intervention engine for one date, compared with the day before. "
        "Opens the warehouse read-only: nothing is sent or written.",
    )
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="run date D (YYYY-MM-DD)")
    parser.add_argument(
        "--warehouse", type=Path, help="a DuckDB file (default: the configured warehouse, file or PostgreSQL)"
    )
    parser.add_argument("--campaigns", type=Path, help="campaign folder (default: campaigns/)")
    parser.add_argument(
        "--previous",
        choices=["auto", "stored", "dry_run"],
        default="auto",
        help="where D-1 comes from: its stored run when present (auto), only that, or always a dry run",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table instead")
    parser.add_argument(
        "--samples",
        type=int,
        default=0,
        metavar="N",
        help="also render the first N messages of each campaign with their blocks, for review "
        "(prints message content: first names, carts; never the address)",
    )
    args = parser.parse_args(argv)

    from reengage.warehouse import connect

    # A file given on the command line is a DuckDB file, whatever REENGAGE_WAREHOUSE_KIND says.
    kind = "duckdb" if args.warehouse else settings.warehouse_kind()
    warehouse = args.warehouse or settings.warehouse_path()
    if kind != "postgres" and not warehouse.exists():
        print(f"error: no warehouse at {warehouse}", file=sys.stderr)
        return 2
    try:
        campaigns = load_campaigns(args.campaigns or settings.campaigns_dir())
    except CampaignError as error:
        print(f"error: invalid campaign files:\n{error}", file=sys.stderr)
        return 2
    try:
        with connect(warehouse, read_only=True, kind=kind) as con:
            diff = preview_diff(con, args.date, campaigns, previous=args.previous)
            try:
                judged = estimates_markdown(latest_estimates(con, args.date))
            except MissingTable as missing:  # a warehouse no writer has opened since an upgrade
                judged = f"not available: {missing}"
            samples = sample_messages(con, args.date, campaigns, args.samples) if args.samples > 0 else []
    except PolicyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(diff.markdown() if args.markdown else diff.text())
    print()
    print("Targeting judged on past decisions (the latest judgement of each campaign, on or before D):")
    print(judged or "nothing judged yet: no campaign has enough matured decisions")
    if args.samples > 0:
        print()
        print(f"Sample messages of {args.date} (at most {args.samples} per campaign), as they would be sent:")
        print("\n\n".join(sample.text() for sample in samples) or "no campaign would send a message")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
