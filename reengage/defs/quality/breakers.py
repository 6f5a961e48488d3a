"""Volume and freshness circuit breakers: blocking checks on raw/events and raw/customers.

A day's decisions are only as good as the day's exports. When today's export is
missing and the source's rule says a missing file is an error (`missing_file = "required"`), when
it is empty, or when its row count is far from the baseline of earlier days, the check fails with
severity ERROR; the check is blocking, so nothing downstream of the raw table runs in that run
(dbt, scoring, the intervention list, delivery) and the run says which day, how many rows and what
range was expected. Counts only: no value of any row reaches the logs or the UI.

The baseline is the mean or median of earlier days' row counts: the loaded days just before
(`compare = "recent_days"`) or the same weekday's earlier days (`"same_weekday"`, for exports whose
size follows the weekday, such as a CRM export of the day's changes, small on Sundays). A day
without a file counts as zero rows only where the source's rule says a missing file means no
activity; under "no change" such days are left out of the baseline (nothing was measured).

Every threshold and rule is a setting ([volume] in reengage.toml, REENGAGE_VOLUME_* variables; a
per-source value wins over the general one, and each source's own defaults are in its contract):
reengage/settings.py declares them and docs/operations.md lists them.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time to recognise the context and the resource.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb

from reengage import settings
from reengage.defs.ingest.contracts import CONTRACTS, missing_file_rule
from reengage.defs.ingest.reader import IngestError, find_export
from reengage.defs.operations.landed_exports import export_days
from reengage.defs.quality.checks import partition_dates
from reengage.warehouse import WarehouseResource
from reengage.wording import counted


def _default(name: str):  # noqa: ANN202 - the declared default, whatever its type
    return settings.BY_KEY[f"volume.{name}"].default


@dataclass(frozen=True)
class VolumeRule:
    compare: str = _default("compare")
    lookback_days: int = _default("lookback_days")
    min_history_days: int = _default("min_history_days")
    min_ratio: float = _default("min_ratio")
    max_ratio: float = _default("max_ratio")
    statistic: str = _default("statistic")
    min_baseline_rows: int = _default("min_baseline_rows")
    allow_empty: bool = _default("allow_empty")

    @classmethod
    def for_source(cls, source: str, env: Mapping[str, str] | None = None) -> "VolumeRule":
        """The source's rule from the settings ([volume.<source>], then [volume]), else its contract's."""
        own = CONTRACTS[source].volume
        rule = cls(
            **{
                f.name: settings.value(
                    f"volume.{f.name}", source=source, source_default=own.get(f.name), env=env
                )
                for f in fields(cls)
            }
        )
        if not 0 <= rule.min_ratio <= 1 <= rule.max_ratio:
            raise settings.SettingsError(
                f"volume ratios for {source} must satisfy 0 <= min_ratio <= 1 <= max_ratio "
                f"(got {rule.min_ratio}, {rule.max_ratio})"
            )
        return rule

    def describe(self) -> str:
        days = (
            f"{self.lookback_days} same weekdays"
            if self.compare == "same_weekday"
            else f"{self.lookback_days} days"
        )
        return (
            f"{self.min_ratio:g}x-{self.max_ratio:g}x {self.statistic} of {days} "
            f"(min history {self.min_history_days}, min baseline {self.min_baseline_rows}, "
            f"empty {'allowed' if self.allow_empty else 'blocks'})"
        )


@dataclass(frozen=True)
class VolumeVerdict:
    source: str
    day: date
    passed: bool
    reason: str  # one line naming the day, the count and the expected range
    rows: int = 0
    quarantined: int = 0
    file: str | None = None
    history: tuple[tuple[date, int], ...] = ()
    baseline: float | None = None
    expected: tuple[float, float] | None = None

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "day": self.day.isoformat(),
            "rows_loaded": self.rows,
            "rows_quarantined": self.quarantined,
            "export_file": self.file.rsplit("/", 1)[-1] if self.file else "missing",
            "history_days": len(self.history),
        }
        if self.baseline is not None:
            meta["baseline_rows"] = round(self.baseline, 1)
        if self.expected is not None:
            meta["expected_min_rows"] = round(self.expected[0], 1)
            meta["expected_max_rows"] = round(self.expected[1], 1)
        return meta


# What a day without a file means, as a verdict says it.
MISSING_FILE_MEANS = {"no_activity": "no activity", "no_change": "no change"}


def evaluate_volume(
    con: duckdb.DuckDBPyConnection,
    landing: str,
    source: str,
    day: date,
    rule: VolumeRule,
    missing_file: str | None = None,
) -> VolumeVerdict:
    """Judge one day's export of `source` against its file, its row count and the earlier days.

    `missing_file` is the source's rule for a day without a file (default: its setting)."""
    missing_file = missing_file or missing_file_rule(source)
    try:
        path = find_export(landing, source, day)
    except IngestError as err:
        return VolumeVerdict(source, day, False, str(err))
    rows, quarantined = _day_counts(con, source, day)
    base = VolumeVerdict(source, day, True, "", rows=rows, quarantined=quarantined, file=path)
    expected_name = f"{source}_{day.isoformat()}.csv|jsonl|parquet"
    if path is None and rows == 0:
        if missing_file in MISSING_FILE_MEANS:
            return replace(
                base,
                reason=f"{source} for {day}: no export, which means {MISSING_FILE_MEANS[missing_file]} "
                f"(missing_file = {missing_file}): the day is loaded as empty",
            )
        return replace(
            base,
            passed=False,
            reason=f"{source} for {day}: no export in the landing folder (expected {expected_name}): "
            "the export is late or lost, so the day is not decided on stale data",
        )
    if rows == 0:
        if rule.allow_empty:
            return replace(base, reason=f"{source} for {day}: 0 rows loaded (empty days are allowed)")
        return replace(
            base,
            passed=False,
            reason=f"{source} for {day}: the export is empty: 0 rows loaded ({quarantined} quarantined); "
            "expected at least 1",
        )
    without_file = export_days(landing, source) if missing_file == "no_activity" else None
    history = _history(con, source, day, rule, without_file)
    base = replace(base, history=history)
    weekday = f"earlier {day.strftime('%A')}s" if rule.compare == "same_weekday" else ""
    if len(history) < rule.min_history_days:
        return replace(
            base,
            reason=f"{source} for {day}: {counted(rows, 'row')} loaded; only {len(history)} "
            f"{weekday or 'earlier loaded day(s)'} "
            f"(need {rule.min_history_days}), so the volume is not judged yet",
        )
    counts = [n for _, n in history]
    baseline = statistics.fmean(counts) if rule.statistic == "mean" else float(statistics.median(counts))
    low, high = baseline * rule.min_ratio, baseline * rule.max_ratio
    base = replace(base, baseline=baseline, expected=(low, high))
    window = f"{history[-1][0]}..{history[0][0]}"
    zeros = sum(1 for _, n in history if n == 0)  # a loaded day has rows: these had no file
    zero_days = f", {zeros} without a file counted as 0" if zeros else ""
    explained = (
        f"{rule.min_ratio:g}x-{rule.max_ratio:g}x the {rule.statistic} of {baseline:,.1f} rows/day "
        f"over the {len(history)} {weekday or 'loaded days'} {window}{zero_days}"
    )
    if baseline < rule.min_baseline_rows:
        return replace(
            base,
            expected=None,
            reason=f"{source} for {day}: {counted(rows, 'row')} loaded; the baseline "
            f"({baseline:,.1f} rows/day) is "
            f"below {rule.min_baseline_rows}, so only emptiness is judged",
        )
    if low <= rows <= high:
        return replace(
            base,
            reason=f"{source} for {day}: {counted(rows, 'row')} loaded, within the expected "
            f"{low:,.0f}-{high:,.0f} ({explained})",
        )
    direction = "fewer" if rows < low else "more"
    return replace(
        base,
        passed=False,
        reason=f"{source} for {day}: {counted(rows, 'row')} loaded, {direction} than the expected "
        f"{low:,.0f}-{high:,.0f} ({explained}); a partial or duplicated export is not decided on",
    )


def _day_counts(con: duckdb.DuckDBPyConnection, source: str, day: date) -> tuple[int, int]:
    # Both tables exist in every migrated warehouse (reengage.schema), empty before a first load.
    (rows,) = con.execute(f"select count(*) from raw.{source} where _partition_date = ?", [day]).fetchone()
    (quarantined,) = con.execute(
        "select count(*) from raw.quarantine where source = ? and _partition_date = ? and not row_kept",
        [source, day],
    ).fetchone()
    return int(rows), int(quarantined)


def _history(
    con: duckdb.DuckDBPyConnection, source: str, day: date, rule: VolumeRule, export_days: set[date] | None
) -> tuple[tuple[date, int], ...]:
    """The baseline's days before `day`, newest first, with their row counts: the `lookback_days` most
    recent loaded days (with same_weekday, of the same weekday). With `export_days` (the source's rule
    is no_activity), a day since the first loaded one that has no file counts too, as 0 rows."""
    loaded = dict(
        con.execute(
            f"select _partition_date, count(*) from raw.{source} where _partition_date < ? group by 1",
            [day],
        ).fetchall()
    )
    if not loaded:
        return ()
    step = timedelta(days=7 if rule.compare == "same_weekday" else 1)
    history: list[tuple[date, int]] = []
    candidate, first = day - step, min(loaded)
    while candidate >= first and len(history) < rule.lookback_days:
        if candidate in loaded:
            history.append((candidate, int(loaded[candidate])))
        elif export_days is not None and candidate not in export_days:
            history.append((candidate, 0))
        candidate -= step
    return tuple(history)


def build_volume_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source]),
        name=f"{source}_volume_and_freshness",
        blocking=True,
        description=f"Circuit breaker: today's {source} export must be non-empty, have a row count near the "
        "baseline of earlier days (or of the same weekday's) and, where its missing_file rule is required, "
        "exist ([volume] settings, REENGAGE_VOLUME_*); otherwise nothing downstream, delivery included, "
        "runs.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        rule = VolumeRule.for_source(source)
        days = [d or datetime.now(UTC).date() for d in partition_dates(context)]
        try:
            with warehouse.connect(read_only=True) as con:
                verdicts = [evaluate_volume(con, settings.landing_dir(), source, day, rule) for day in days]
        except duckdb.Error as err:
            message = (
                f"{source}: the volume breaker could not read the warehouse ({str(err).splitlines()[0]})"
            )
            context.log.error(message)
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.ERROR, description=message
            )
        result = volume_result(verdicts, rule)
        for verdict in verdicts:
            (context.log.info if verdict.passed else context.log.error)(verdict.reason)
        return result

    return _check


def volume_result(verdicts: Sequence[VolumeVerdict], rule: VolumeRule) -> dg.AssetCheckResult:
    failed = [v for v in verdicts if not v.passed]
    shown = failed or list(verdicts)
    metadata: dict[str, Any] = dict(shown[-1].metadata()) if shown else {}
    metadata["days_checked"] = len(verdicts)
    metadata["days_failed"] = len(failed)
    metadata["rule"] = rule.describe()
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="\n".join(v.reason for v in shown)[:4000],
        metadata=metadata,
    )


events_volume_and_freshness = build_volume_check("events")
customers_volume_and_freshness = build_volume_check("customers")
