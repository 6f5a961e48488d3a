"""The demo's calendar: the window of days, UTC day boundaries and local time in each timezone.

Time inside the generator is epoch milliseconds (int64) so every step is plain
numpy arithmetic; offsets come from zoneinfo once per timezone per day, which
keeps daylight-saving changes right without any per-row work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from scipy import special

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# (IANA timezone, ISO country, share of customers): a plausible global B2C mix.
TIMEZONES: tuple[tuple[str, str, float], ...] = (
    ("America/New_York", "US", 0.20),
    ("America/Chicago", "US", 0.07),
    ("America/Los_Angeles", "US", 0.11),
    ("America/Sao_Paulo", "BR", 0.07),
    ("Europe/London", "GB", 0.12),
    ("Europe/Berlin", "DE", 0.10),
    ("Europe/Paris", "FR", 0.06),
    ("Asia/Kolkata", "IN", 0.09),
    ("Asia/Tokyo", "JP", 0.07),
    ("Australia/Sydney", "AU", 0.06),
    ("Asia/Singapore", "SG", 0.05),
)
TZ_NAMES = tuple(name for name, _, _ in TIMEZONES)
TZ_COUNTRIES = tuple(country for _, country, _ in TIMEZONES)
TZ_WEIGHTS = np.array([share for _, _, share in TIMEZONES]) / sum(share for _, _, share in TIMEZONES)


def day_start_ms(day: date) -> int:
    """Epoch milliseconds of 00:00 UTC on ``day``."""
    return (day - date(1970, 1, 1)).days * DAY_MS


@dataclass(frozen=True)
class Window:
    """The generated days: ``start .. end`` inclusive, indexed 0 .. days-1."""

    end: date
    days: int

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    @property
    def start_ms(self) -> int:
        return day_start_ms(self.start)

    @property
    def end_ms(self) -> int:
        """Exclusive: midnight after the last day."""
        return day_start_ms(self.end) + DAY_MS

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def day_ms(self, index: int) -> int:
        return self.start_ms + index * DAY_MS


def utc_offsets_ms(day: date) -> np.ndarray:
    """UTC offset of every demo timezone on ``day`` (taken at noon UTC), indexed like TZ_NAMES."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return np.array(
        [int(noon.astimezone(ZoneInfo(name)).utcoffset().total_seconds()) * 1000 for name in TZ_NAMES],
        dtype=np.int64,
    )


def weekday_factor(day: date, weekend: float) -> float:
    """Shoppers browse a little more at weekends (`weekend` is the world's weekend factor)."""
    return weekend if day.weekday() >= 5 else 1.0


# When sessions start, in local hours: (share, kind, a, b) with kind "normal" (mean a, sd b, wrapped
# around midnight) or "uniform" (from a to b): an evening peak, a lunch bump and a thin spread.
SESSION_HOURS = ((0.6, "normal", 20.5, 1.8), (0.25, "normal", 12.5, 1.5), (0.15, "uniform", 6.0, 24.0))


def sample_local_ms_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Local time of day for session starts, drawn from SESSION_HOURS."""
    (p0, _, m0, s0), (p1, _, m1, s1), (p2, _, lo, hi) = SESSION_HOURS
    kind = rng.choice(3, size=n, p=[p0, p1, p2])
    hours = np.where(
        kind == 0,
        rng.normal(m0, s0, n),
        np.where(kind == 1, rng.normal(m1, s1, n), rng.uniform(lo, hi, n)),
    )
    return (np.mod(hours, 24.0) * HOUR_MS).astype(np.int64)


def local_hour_cdf(hours: np.ndarray) -> np.ndarray:
    """P(a session starts before `hours` local time), for hours in [0, 24]: the CDF of SESSION_HOURS."""
    h = np.asarray(hours, dtype=np.float64)
    total = np.zeros_like(h)
    for share, kind, a, b in SESSION_HOURS:
        if kind == "uniform":
            total += share * (np.clip(h, a, b) - a) / (b - a)
            continue
        # mod 24 folds the normal onto the day: sum the pieces that land in [0, h)
        for wrap in range(-2, 3):
            total += share * (special.ndtr((h + 24 * wrap - a) / b) - special.ndtr((24 * wrap - a) / b))
    return total


def start_share(offset_ms: np.ndarray, from_ms: np.ndarray, to_ms: np.ndarray) -> np.ndarray:
    """Share of a day's session starts in [from_ms, to_ms) (ms after 00:00 UTC, 0 <= from <= to <= a day).

    A start at local time L falls at UTC time (L - offset) mod 24 h, so the UTC interval is the local
    interval shifted by the offset; an interval crossing local midnight counts both ends.
    """
    lo = (np.asarray(from_ms) + offset_ms) / HOUR_MS
    hi = (np.asarray(to_ms) + offset_ms) / HOUR_MS

    def unwrapped(x: np.ndarray) -> np.ndarray:
        return np.floor(x / 24.0) + local_hour_cdf(np.mod(x, 24.0))

    return np.where(hi > lo, unwrapped(hi) - unwrapped(lo), 0.0)
