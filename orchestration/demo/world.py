"""Generate a whole demo world: landing exports for every day plus the ground-truth file.

``generate_world`` streams day by day: it draws that UTC day's sessions and
events (``activity``), sends the legacy newsletter on Tuesdays
(``newsletter``), applies the day's CRM changes (``crm``), sprinkles a few
documented bad rows (``dirty``) and writes one file per source
(``exports``). Only the customer traits, the CRM state and a few days of
pending email events stay in memory, so a million customers and fifty
million events fit in a few GiB.

Determinism: every random draw comes from a numpy Generator seeded by
(seed, stream, day), no wall-clock value is written (``end_date`` must be
given for reproducible output; it defaults to today in UTC), rows are
written in a fixed order and the writers are deterministic, so the same
arguments give byte-identical files.

What is where: traits and lifecycles in ``population``, session shapes and
identity stitching in ``activity``, the ground truth in ``truth``, the dirty
row kinds in ``dirty``, file contracts in ``exports``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.demo import dirty, exports
from orchestration.demo.activity import ActivitySimulator, EventBatch
from orchestration.demo.catalog import PURCHASE, build_catalog
from orchestration.demo.clock import Window
from orchestration.demo.crm import CrmState
from orchestration.demo.newsletter import Newsletter
from orchestration.demo.population import anonymous_ids, build_population, build_visitors
from orchestration.demo.truth import truth_table

_STREAMS = {
    "population": 1,
    "visitors": 2,
    "catalog": 3,
    "anonymous_ids": 4,
    "activity": 10,
    "newsletter": 11,
    "crm": 12,
    "dirty": 13,
}


def _rng(seed: int, stream: str, k: int = 0) -> np.random.Generator:
    """An independent, reproducible stream per purpose and day, so changing one knob moves nothing else."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream], k]))


@dataclass(frozen=True)
class WorldSummary:
    """What was written: row and file counts per source, bad rows per kind, dates and paths."""

    home: Path
    landing_dir: Path
    truth_path: Path
    start_date: date
    end_date: date
    customers: int
    anonymous_visitors: int
    formats: dict[str, str]
    rows: dict[str, int]
    files: dict[str, int]
    dirty_rows: dict[str, dict[str, int]]
    newsletter_messages: int = 0

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("home", "landing_dir", "truth_path"):
            out[key] = str(out[key])
        out["start_date"] = self.start_date.isoformat()
        out["end_date"] = self.end_date.isoformat()
        return out

    def describe(self) -> str:
        lines = [
            f"demo world {self.start_date} .. {self.end_date}: {self.customers:,} customers, "
            f"{self.anonymous_visitors:,} anonymous-only visitors",
            f"landing: {self.landing_dir}",
            f"truth:   {self.truth_path}",
        ]
        for source in exports.SOURCES:
            lines.append(
                f"  {source:<13} {self.rows[source]:>12,} rows in {self.files[source]} "
                f"{self.formats[source]} files"
            )
        lines.append(f"  legacy newsletter messages: {self.newsletter_messages:,}")
        for source, kinds in self.dirty_rows.items():
            shown = ", ".join(f"{kind} {count:,}" for kind, count in kinds.items())
            lines.append(f"  dirty {source}: {shown}")
        return "\n".join(lines)


def _formats(formats: dict[str, str] | None) -> dict[str, str]:
    chosen = dict(exports.DEFAULT_FORMATS)
    for source, fmt in (formats or {}).items():
        if source not in exports.SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {exports.SOURCES}")
        if fmt not in exports.FORMATS:
            raise ValueError(f"unknown format {fmt!r} for {source}; expected one of {exports.FORMATS}")
        chosen[source] = fmt
    return chosen


def _foreign_landing_files(landing: Path, fmt: dict[str, str], window: Window) -> list[Path]:
    """Landing files of the demo's naming pattern that this world would not overwrite."""
    found = []
    for source in exports.SOURCES:
        ours = {
            exports.landing_path(landing, source, window.day(k).isoformat(), fmt[source])
            for k in range(window.days)
        }
        pattern = re.compile(rf"{source}_\d{{4}}-\d\d-\d\d\.({'|'.join(exports.FORMATS)})")
        folder = landing / source
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p not in ours)
    return found


def _purchases(batch: EventBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bought = np.flatnonzero((batch.name == PURCHASE) & batch.identified & (batch.cust >= 0))
    return batch.cust[bought], batch.value[bought], batch.ts[bought]


def generate_world(
    home: Path,
    *,
    customers: int = 20_000,
    days: int = 60,
    end_date: date | None = None,
    seed: int = 7,
    dirty_share: float = 0.002,
    formats: dict[str, str] | None = None,
    replace: bool = False,
) -> WorldSummary:
    """Write one landing file per source per day and the truth file; return what was written.

    Files: ``home/landing/{source}/{source}_{YYYY-MM-DD}.{ext}`` for each day and
    ``home/truth/user_truth.parquet``. Files of the same names are overwritten; landing
    files of another world (other days or formats) would silently mix with this one, so
    they raise ``FileExistsError`` unless ``replace=True``, which deletes them first.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    if not 0.0 <= dirty_share <= 0.5:
        raise ValueError("dirty_share must be between 0 and 0.5")
    fmt = _formats(formats)
    home = Path(home)
    landing = home / "landing"
    window = Window(end=end_date or datetime.now(UTC).date(), days=days)
    foreign = _foreign_landing_files(landing, fmt, window)
    if foreign and not replace:
        raise FileExistsError(
            f"{landing} already holds {len(foreign)} landing files of another world "
            f"(e.g. {foreign[0].name}); pass replace=True (--replace) to delete them first"
        )
    for path in foreign:
        path.unlink()

    pop = build_population(_rng(seed, "population"), customers, window)
    visitors = build_visitors(_rng(seed, "visitors"), customers, window)
    catalog = build_catalog(_rng(seed, "catalog"))
    anon_ids = anonymous_ids(_rng(seed, "anonymous_ids"), pop, visitors)
    activity = ActivitySimulator(pop, visitors, window, catalog)
    newsletter = Newsletter(pop, window)
    crm = CrmState(pop, window)

    rows = dict.fromkeys(exports.SOURCES, 0)
    dirty_rows = {source: dict.fromkeys(kinds, 0) for source, kinds in dirty.KINDS.items()}

    def write(source: str, table: pa.Table, day_text: str) -> None:
        exports.write_table(table, exports.landing_path(landing, source, day_text, fmt[source]), fmt[source])
        rows[source] += table.num_rows

    def count(source: str, found: dict[str, int]) -> None:
        for kind, n in found.items():
            dirty_rows[source][kind] += n

    for k in range(days):
        day_text = window.day(k).isoformat()
        dirt = _rng(seed, "dirty", k)

        events = activity.day(_rng(seed, "activity", k), k)
        if newsletter.is_send_day(k):
            newsletter.send(_rng(seed, "newsletter", k), k, crm.consent)
        snapshot = crm.day(_rng(seed, "crm", k), k, _purchases(events), newsletter.withdrawals_on(k))

        customers_table = exports.render_customers(pop, snapshot, fmt["customers"])
        customers_table, found = dirty.dirty_customers(dirt, customers_table, dirty_share)
        count("customers", found)
        write("customers", customers_table, day_text)

        events, found = dirty.dirty_events(dirt, events, dirty_share, window.day_ms(k))
        count("events", found)
        write("events", exports.render_events(events, pop, anon_ids, catalog, fmt["events"]), day_text)

        emails, found = dirty.dirty_email_events(dirt, newsletter.events_on(k), dirty_share)
        count("email_events", found)
        write("email_events", exports.render_email_events(emails, pop, window), day_text)

    truth_path = home / "truth" / "user_truth.parquet"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = truth_path.with_name(f".{truth_path.name}.tmp")
    pq.write_table(truth_table(pop, window), tmp, compression="zstd")
    tmp.replace(truth_path)

    return WorldSummary(
        home=home,
        landing_dir=landing,
        truth_path=truth_path,
        start_date=window.start,
        end_date=window.end,
        customers=customers,
        anonymous_visitors=visitors.n,
        formats=fmt,
        rows=rows,
        files=dict.fromkeys(exports.SOURCES, days),
        dirty_rows=dirty_rows,
        newsletter_messages=newsletter.messages,
    )
