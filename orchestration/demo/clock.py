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


def weekday_factor(day: date) -> float:
    """Shoppers browse a little more at weekends."""
    return 1.15 if day.weekday() >= 5 else 1.0


def sample_local_ms_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Local time of day for session starts: an evening peak, a lunch bump and a thin night."""
    kind = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])
    hours = np.where(
        kind == 0,
        rng.normal(20.5, 1.8, n),
        np.where(kind == 1, rng.normal(12.5, 1.5, n), rng.uniform(6.0, 24.0, n)),
    )
    return (np.mod(hours, 24.0) * HOUR_MS).astype(np.int64)
