"""Vectorised builders for the fixed-width strings the demo writes by the million.

Ids and timestamps are laid out as (rows, width) ASCII code matrices in numpy and
handed to Arrow as one buffer, so 50 million event ids cost a few numpy ops
instead of 50 million Python string objects.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ALNUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_ZERO = ord("0")
# Two ASCII hex digits per byte value, so one lookup formats a whole byte.
_BYTE_HEX = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint16)


def from_codes(codes: np.ndarray) -> pa.StringArray:
    """Turn a (rows, width) uint8 ASCII matrix into an Arrow string array without copying per row."""
    rows, width = codes.shape
    if rows * width >= 2**31:
        raise ValueError("batch too large for 32-bit string offsets; generate it in smaller batches")
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))


def uuid4_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random RFC 4122 version-4 UUIDs as a (n, 36) code matrix (kept as codes so rows can be copied)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _BYTE_HEX[raw].view(np.uint8).reshape(n, 32)
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    return out


def token_codes(
    rng: np.random.Generator, n: int, length: int, prefix: bytes = b"", suffix: bytes = b""
) -> np.ndarray:
    """Random alphanumeric tokens (SendGrid-style ids) with a fixed prefix and suffix."""
    body = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, length))]
    parts = [np.broadcast_to(np.frombuffer(prefix, np.uint8), (n, len(prefix))), body]
    parts.append(np.broadcast_to(np.frombuffer(suffix, np.uint8), (n, len(suffix))))
    return np.concatenate(parts, axis=1)


def digits_codes(numbers: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a (n, width) code matrix."""
    values = np.asarray(numbers, dtype=np.int64)
    out = np.empty((len(values), width), dtype=np.uint8)
    for position in range(width - 1, -1, -1):  # loops over digit positions, not rows
        out[:, position] = values % 10 + _ZERO
        values = values // 10
    return out


def numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """Ids like ``cus_0000042``: a fixed prefix and a zero-padded number."""
    digits = digits_codes(numbers, width)
    head = np.broadcast_to(np.frombuffer(prefix.encode(), np.uint8), (len(digits), len(prefix)))
    return from_codes(np.concatenate([head, digits], axis=1))


def _civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proleptic Gregorian (year, month, day) from days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = year + (month <= 2)
    return year, month, day


def iso_utc(epoch_ms: np.ndarray, *, millis: bool) -> pa.StringArray:
    """ISO-8601 UTC strings with a ``Z`` (``2024-05-01T20:15:03Z`` or ``...03.250Z``) for years 0-9999."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    days, ms_of_day = np.divmod(ms, 86_400_000)
    year, month, day = _civil_from_days(days)
    secs, milli = np.divmod(ms_of_day, 1000)
    hour, rest = np.divmod(secs, 3600)
    minute, second = np.divmod(rest, 60)
    width = 24 if millis else 20
    out = np.empty((len(ms), width), dtype=np.uint8)
    out[:, 0:4] = digits_codes(year, 4)
    out[:, 4] = ord("-")
    out[:, 5:7] = digits_codes(month, 2)
    out[:, 7] = ord("-")
    out[:, 8:10] = digits_codes(day, 2)
    out[:, 10] = ord("T")
    out[:, 11:13] = digits_codes(hour, 2)
    out[:, 13] = ord(":")
    out[:, 14:16] = digits_codes(minute, 2)
    out[:, 16] = ord(":")
    out[:, 17:19] = digits_codes(second, 2)
    if millis:
        out[:, 19] = ord(".")
        out[:, 20:23] = digits_codes(milli, 3)
    out[:, width - 1] = ord("Z")
    return from_codes(out)
