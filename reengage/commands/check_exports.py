"""`reengage check-exports PATH [--date D]`: would these exports load, and what would be refused?

Each export is read and judged by ingest itself (`loader.load_day`: the same reader, vendor
formats, contracts and parser as a run, so there is one definition of every rule), but into a
scratch DuckDB file in a temporary folder that is removed afterwards, with ingest's staging
moved there too: the warehouse, its quarantine and everything under the product home stay as
they were. Printed per file: rows read, rows that would load, rows that would be refused with
the first few (row, column, reason: never a value), event names outside the event catalog with
their counts, and events naming a customer no customers file checked with them holds.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from reengage.commands.common import FAILED, CommandError, existing_landing, run_date
from reengage.defs.ingest.contracts import SOURCES, required_sources
from reengage.defs.ingest.loader import LoadReport, load_day, unknown_values_phrases
from reengage.defs.ingest.reader import IngestError, export_name_pattern, list_landing
from reengage.defs.ingest.staging import staging_under
from reengage.defs.quality.quarantine import unknown_references

# Refused rows named per file; the rest are counted.
ROWS_SHOWN = 5
# An export's name in a landing folder: `<source>_<YYYY-MM-DD>.<format>`.


@dataclass
class FileCheck:
    """One export's verdict: its load report, or the reason the whole file would be refused."""

    source: str
    day: date
    label: str  # the file's path inside the landing folder
    report: LoadReport | None = None
    refused: str = ""  # why the whole file would be refused
    refused_rows: list[str] = field(default_factory=list)  # the first few, "row R, column C: reason"
    unknown_references: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and self.report is not None and self.report.rows_quarantined == 0


@dataclass
class ExportsCheck:
    landing: str
    days: list[date]
    files: list[FileCheck] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # required exports with no file for a checked day
    misnamed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and all(f.ok for f in self.files)


def add_check_exports_parser(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check-exports",
        help="validate export files against the input contracts without loading anything",
        description="Read and judge every export in a landing folder (or one file) exactly as ingest "
        "would, without writing anything; exit 1 when anything would be refused.",
    )
    check.add_argument(
        "path", help="a landing folder (<source>/<source>_YYYY-MM-DD.<ext> inside) or one export file"
    )
    check.add_argument(
        "--date", type=run_date, default=None, help="check only this day's files (default: every day found)"
    )


def run_check_exports(args: argparse.Namespace) -> int:
    landing, sources, days = _what_to_check(args.path, args.date)
    result = check_exports(landing, sources, days)
    print(render(result))
    return 0 if result.ok else FAILED


def _what_to_check(path: str, day: date | None) -> tuple[str, tuple[str, ...], list[date] | None]:
    """(landing folder, sources, days) for PATH: a landing folder, or one export file inside one."""
    if Path(path).is_file():
        named = _export_of(Path(path).name)
        if named is None:
            raise CommandError(
                f"{path}: an export is named <source>_YYYY-MM-DD.csv|jsonl|parquet, with a source among "
                f"{', '.join(SOURCES)}; rename it (its day is read from its name)"
            )
        source, file_day = named
        if Path(path).resolve().parent.name != source:
            raise CommandError(
                f"{path}: put it in a folder named {source}/ inside a landing folder (where a declared "
                "vendor format applies), or check that landing folder"
            )
        if day is not None and day != file_day:
            raise CommandError(f"{path} is the export of {file_day}, not of --date {day}")
        return str(Path(path).resolve().parent.parent), (source,), [file_day]
    local = "://" not in path
    return existing_landing(str(Path(path).resolve()) if local else path), SOURCES, [day] if day else None


def check_exports(landing: str, sources: tuple[str, ...], days: list[date] | None) -> ExportsCheck:
    """Judge each source's export of each day (`days` None: every day a file is named for)."""
    listed = {source: list_landing(landing, source, date.min) for source in sources}
    found = sorted({_day_of(name) for listing in listed.values() for name in listing.later_files})
    result = ExportsCheck(landing, days if days is not None else found)
    result.misnamed = [f"{s}/{name}" for s, listing in listed.items() for name in listing.misnamed]
    required = required_sources()
    with _scratch() as con:
        for day in result.days:
            day_files = []
            for source in sources:
                check = _check_file(con, landing, source, day)
                if check is None:
                    if source in required:
                        result.missing.append(f"{source}/{source}_{day}.csv|jsonl|parquet")
                    continue
                day_files.append(check)
            if days is None and len(sources) == len(SOURCES):  # every file a reference may name was checked
                _note_unknown_references(con, day, day_files)
            result.files += day_files
    return result


def _export_of(name: str) -> tuple[str, date] | None:
    """(source, day) of an export's file name, by the reader's own naming rule; None for any other."""
    for source in SOURCES:
        if match := export_name_pattern(source).fullmatch(name):
            try:
                return source, date.fromisoformat(match.group(1))
            except ValueError:
                return None
    return None


def _day_of(name: str) -> date:
    """The day of a file the landing listing already took for an export."""
    return _export_of(name)[1]  # type: ignore[index]


@contextmanager
def _scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A throwaway DuckDB file, and ingest's staging, in a temporary folder removed on exit."""
    with tempfile.TemporaryDirectory(prefix="reengage-check-") as folder:
        con = duckdb.connect(str(Path(folder) / "check.duckdb"))
        try:
            with staging_under(Path(folder) / "staging"):
                yield con
        finally:
            con.close()


def _check_file(con: duckdb.DuckDBPyConnection, landing: str, source: str, day: date) -> FileCheck | None:
    label = f"{source}/{source}_{day}"
    try:
        report = load_day(con, landing, source, day)
    except IngestError as err:
        # The message starts with the file's path when it is about one file.
        named, _, reason = _relative(str(err), landing).partition(": ")
        if named.startswith(f"{label}."):
            return FileCheck(source, day, named, refused=reason)
        return FileCheck(source, day, label, refused=_relative(str(err), landing))
    if report.missing:
        return None
    check = FileCheck(source, day, _relative(report.file or label, landing).lstrip("/"), report=report)
    rows = con.execute(
        'select row, "column", reason from raw.quarantine '
        "where source = ? and _partition_date = ? and not row_kept order by row limit ?",
        [source, day, ROWS_SHOWN],
    ).fetchall()
    check.refused_rows = [
        f"row {row}, {f'column {col}' if col else 'whole row'}: {why}" for row, col, why in rows
    ]
    return check


def _note_unknown_references(con: duckdb.DuckDBPyConnection, day: date, files: list[FileCheck]) -> None:
    by_source = {f.source: f for f in files if f.report is not None}
    for source, column, target, rows, values in unknown_references(con, day):
        if rows and source in by_source:
            by_source[source].unknown_references.append(
                f"{rows:,} rows name in {column} a {target.split('.')[0]} row that no {target.split('.')[0]} "
                f"file checked here (up to {day}) holds ({values:,} distinct); loaded, counted"
            )


def _relative(text: str, landing: str) -> str:
    return text.replace(landing.rstrip("/") + "/", "")


def render(result: ExportsCheck) -> str:
    lines = [f"Checking {result.landing} ({_days_phrase(result.days)}); nothing is loaded or written"]
    for check in result.files:
        lines += _file_lines(check)
    for name in result.misnamed:
        lines.append(f"{name}: ignored (not named <source>_YYYY-MM-DD.csv|jsonl|parquet)")
    for name in result.missing:
        lines.append(f"{name}: MISSING (a required export: the day's run would stop)")
    refused = [c for c in result.files if not c.ok]
    lines.append("")
    if result.ok:
        lines.append(f"All {len(result.files)} files would load without a refused row.")
    else:
        lines.append(
            f"{len(refused)} of {len(result.files)} files would have rows or the whole file refused"
            + (f", {len(result.missing)} required exports missing" if result.missing else "")
            + ". Fix the exports (or accept the refusals) and check again."
        )
    lines.append(
        "Next: reengage backfill --from A --to B loads past days, reengage run --date D runs the daily job."
    )
    return "\n".join(lines)


def _days_phrase(days: list[date]) -> str:
    if not days:
        return "no dated export found"
    return f"{days[0]}" if len(days) == 1 else f"{len(days)} days, {days[0]} to {days[-1]}"


def _file_lines(check: FileCheck) -> list[str]:
    if check.refused:
        return [f"{check.label}: REFUSED whole: {check.refused}"]
    report = check.report
    assert report is not None
    lines = [
        f"{check.label}: {report.rows_read:,} rows read, {report.rows_loaded:,} would load, "
        f"{report.rows_quarantined:,} would be refused"
    ]
    lines += [f"  {row}" for row in check.refused_rows]
    if report.rows_quarantined > len(check.refused_rows):
        reasons = sorted(report.quarantine_reasons.items(), key=lambda item: (-item[1], item[0]))
        lines.append("  refused by reason: " + "; ".join(f"{why}: {n:,}" for why, n in reasons))
    lines += [f"  {phrase}" for phrase in unknown_values_phrases(check.source, report.unknown_values)]
    lines += [f"  {line}" for line in check.unknown_references]
    # The file's own warnings (the landing's other files are told once, above the files).
    path = report.file or check.label
    lines += [f"  note: {w.removeprefix(path + ': ')}" for w in report.warnings if w.startswith(path)]
    return lines
