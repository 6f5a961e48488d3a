"""Volume and freshness circuit breakers: blocking checks on raw/events and raw/customers.

A day's decisions are only as good as the day's exports. When today's export is
missing (late or lost), empty, or its row count is far from the trailing average of
the previous loaded days, the check fails with severity ERROR; the check is blocking,
so nothing downstream of the raw table runs in that run (dbt, scoring, the
intervention list, delivery) and the run says which day, how many rows and what range
was expected. Counts only: no value of any row reaches the logs or the UI.

Thresholds (environment variables; a per-source variable wins over the global one):

| variable | default | meaning |
|---|---|---|
| `REENGAGE_VOLUME_LOOKBACK_DAYS` | 7 | how many previous loaded days make the baseline |
| `REENGAGE_VOLUME_MIN_HISTORY_DAYS` | 3 | fewer loaded days than this: volume is not judged yet |
| `REENGAGE_VOLUME_MIN_RATIO` / `_MAX_RATIO` | 0.5 / 2.0 | allowed range, as multiples of the baseline |
| `REENGAGE_VOLUME_STATISTIC` | mean (customers: median) | `mean` or `median` of the previous days |
| `REENGAGE_VOLUME_MIN_BASELINE_ROWS` | 50 | below this baseline only emptiness is judged (noisy) |
| `REENGAGE_VOLUME_ALLOW_EMPTY` | false | whether a day with zero rows passes |

Per source: `REENGAGE_VOLUME_EVENTS_MIN_RATIO`, `REENGAGE_VOLUME_CUSTOMERS_STATISTIC`, ...
Customers default to the median because the first CRM snapshot holds everyone and later
ones only the day's changes: one full snapshot in the window would drag a mean far up.

No `from __future__ import annotations` here: Dagster reads the check function's
annotations at definition time to recognise the context and the resource.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import duckdb

from orchestration import settings
from orchestration.defs.ingest.reader import IngestError, find_export
from orchestration.defs.quality.checks import partition_dates
from orchestration.warehouse import WarehouseResource

ENV_PREFIX = "REENGAGE_VOLUME_"


@dataclass(frozen=True)
class VolumeRule:
    lookback_days: int = 7
    min_history_days: int = 3
    min_ratio: float = 0.5
    max_ratio: float = 2.0
    statistic: str = "mean"
    min_baseline_rows: int = 50
    allow_empty: bool = False

    @classmethod
    def from_env(cls, source: str, env: Mapping[str, str] | None = None, **defaults: Any) -> "VolumeRule":
        """Defaults, then `REENGAGE_VOLUME_<NAME>`, then `REENGAGE_VOLUME_<SOURCE>_<NAME>`."""
        env = settings.environment() if env is None else env
        rule = replace(cls(), **defaults)
        values: dict[str, Any] = {}
        for f in fields(cls):
            for name in (f"{ENV_PREFIX}{f.name.upper()}", f"{ENV_PREFIX}{source.upper()}_{f.name.upper()}"):
                if name in env:
                    values[f.name] = _convert(name, env[name], type(getattr(rule, f.name)))
        rule = replace(rule, **values)
        if rule.statistic not in ("mean", "median"):
            raise ValueError(f"{ENV_PREFIX}STATISTIC must be mean or median, not {rule.statistic!r}")
        if not 0 <= rule.min_ratio <= 1 <= rule.max_ratio:
            raise ValueError(
                f"volume ratios must satisfy 0 <= min <= 1 <= max (got {rule.min_ratio}, {rule.max_ratio})"
            )
        return rule


def _convert(name: str, text: str, kind: type) -> Any:
    try:
        if kind is bool:
            if text.strip().lower() not in {"1", "true", "yes", "0", "false", "no"}:
                raise ValueError(text)
            return text.strip().lower() in {"1", "true", "yes"}
        return kind(text.strip())
    except ValueError as err:
        raise ValueError(f"{name}={text!r} is not a valid {kind.__name__}") from err


SOURCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "events": {},
    "customers": {"statistic": "median"},
}


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


def evaluate_volume(
    con: duckdb.DuckDBPyConnection, landing: str, source: str, day: date, rule: VolumeRule
) -> VolumeVerdict:
    """Judge one day's export of `source` against its file, its row count and the previous days."""
    try:
        path = find_export(landing, source, day)
    except IngestError as err:
        return VolumeVerdict(source, day, False, str(err))
    rows, quarantined = _day_counts(con, source, day)
    base = VolumeVerdict(source, day, True, "", rows=rows, quarantined=quarantined, file=path)
    expected_name = f"{source}_{day.isoformat()}.csv|jsonl|parquet"
    if path is None and rows == 0:
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
    history = _history(con, source, day, rule.lookback_days)
    base = replace(base, history=history)
    if len(history) < rule.min_history_days:
        return replace(
            base,
            reason=f"{source} for {day}: {rows:,} rows loaded; only {len(history)} earlier loaded day(s) "
            f"(need {rule.min_history_days}), so the volume is not judged yet",
        )
    counts = [n for _, n in history]
    baseline = statistics.fmean(counts) if rule.statistic == "mean" else float(statistics.median(counts))
    low, high = baseline * rule.min_ratio, baseline * rule.max_ratio
    base = replace(base, baseline=baseline, expected=(low, high))
    window = f"{history[-1][0]}..{history[0][0]}"
    explained = (
        f"{rule.min_ratio:g}x-{rule.max_ratio:g}x the {rule.statistic} of {baseline:,.1f} rows/day "
        f"over the {len(history)} loaded days {window}"
    )
    if baseline < rule.min_baseline_rows:
        return replace(
            base,
            expected=None,
            reason=f"{source} for {day}: {rows:,} rows loaded; the baseline ({baseline:,.1f} rows/day) is "
            f"below {rule.min_baseline_rows}, so only emptiness is judged",
        )
    if low <= rows <= high:
        return replace(
            base,
            reason=f"{source} for {day}: {rows:,} rows loaded, within the expected "
            f"{low:,.0f}-{high:,.0f} ({explained})",
        )
    direction = "fewer" if rows < low else "more"
    return replace(
        base,
        passed=False,
        reason=f"{source} for {day}: {rows:,} rows loaded, {direction} than the expected "
        f"{low:,.0f}-{high:,.0f} ({explained}); a partial or duplicated export is not decided on",
    )


def _day_counts(con: duckdb.DuckDBPyConnection, source: str, day: date) -> tuple[int, int]:
    # Both tables exist in every migrated warehouse (orchestration.schema), empty before a first load.
    (rows,) = con.execute(f"select count(*) from raw.{source} where _partition_date = ?", [day]).fetchone()
    (quarantined,) = con.execute(
        "select count(*) from raw.quarantine where source = ? and _partition_date = ? and not row_kept",
        [source, day],
    ).fetchone()
    return int(rows), int(quarantined)


def _history(
    con: duckdb.DuckDBPyConnection, source: str, day: date, days: int
) -> tuple[tuple[date, int], ...]:
    """The `days` most recent loaded days before `day`, newest first."""
    rows = con.execute(
        f"select _partition_date, count(*) from raw.{source} where _partition_date < ? "
        "group by 1 order by 1 desc limit ?",
        [day, days],
    ).fetchall()
    return tuple((d, int(n)) for d, n in rows)


def build_volume_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source]),
        name=f"{source}_volume_and_freshness",
        blocking=True,
        description=f"Circuit breaker: today's {source} export must exist, be non-empty and have a row count "
        "near the trailing average of the previous loaded days (REENGAGE_VOLUME_* settings); otherwise "
        "nothing downstream, delivery included, runs.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        rule = VolumeRule.from_env(source, **SOURCE_DEFAULTS[source])
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
    metadata["rule"] = (
        f"{rule.min_ratio:g}x-{rule.max_ratio:g}x {rule.statistic} of {rule.lookback_days} days "
        f"(min history {rule.min_history_days}, min baseline {rule.min_baseline_rows}, "
        f"empty {'allowed' if rule.allow_empty else 'blocks'})"
    )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="\n".join(v.reason for v in shown)[:4000],
        metadata=metadata,
    )


events_volume_and_freshness = build_volume_check("events")
customers_volume_and_freshness = build_volume_check("customers")
