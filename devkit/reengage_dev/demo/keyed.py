"""Random draws keyed by what they are about, so one row's numbers never depend on another row.

A ``numpy.random.Generator`` hands out numbers in sequence: draw one more
value for customer A and every later value (customer B's) shifts. The
responding world must not work that way, because a message to A must never
change what B or a held-out user does. Here every value is a hash of
``(seed, stream, key, call, column)``: the key names the row (a message, a
visit, an event, a customer on a day), the call counts the draws made so far
through one ``KeyedDraws`` and the column indexes a row's several values.
Adding or removing rows changes nothing for the others.

The hash is SplitMix64's finaliser chained over the words (vectorised numpy
``uint64`` arithmetic, wrapping like the C original), so a million keys cost
a few milliseconds. ``KeyedDraws`` offers the few ``Generator`` methods the
demo's drawing code calls (``random``, ``integers``, ``lognormal``,
``poisson``), so the same code runs on either kind of draws.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_UNIT = 2.0**-53

STREAMS = {
    "messages": 1,  # a message's webhook events and ids
    "events": 2,  # a webhook event's id
    "visits": 3,  # how many extra visits a message brings, and when each starts
    "visit_shape": 4,  # an extra visit's products and quantity
    "visit_events": 5,  # an extra visit's event gaps, products viewed and ids
    "thinning": 6,  # whether a put-off user's session survives
    "dirt": 7,  # whether and how a row is damaged
    "texts": 8,  # a text's delivery, timing and STOP reply
    "text_ids": 9,  # a text's and its reply's SIDs
}


def mix(x: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64: one step of the counter and its finaliser (a bijection of 64-bit words)."""
    with np.errstate(over="ignore"):  # wrapping is the algorithm, not an accident
        z = np.asarray(x, dtype=np.uint64) + _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def combine(*words: np.ndarray | int) -> np.ndarray:
    """One 64-bit key from several words (arrays broadcast), order-sensitive."""
    h = np.zeros((), dtype=np.uint64)
    for word in words:
        h = mix(h ^ np.asarray(word).astype(np.uint64))
    return h


def codes_key(codes: np.ndarray) -> np.ndarray:
    """A 64-bit key per row of an ASCII code matrix (an id such as an event id or a send id)."""
    rows, width = codes.shape
    padded = np.zeros((rows, -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = codes
    words = padded.view("<u8")
    h = np.zeros(rows, dtype=np.uint64)
    for column in range(words.shape[1]):
        h = mix(h ^ words[:, column])
    return h


class KeyedDraws:
    """Draws for a set of rows, each row's values a function of its key alone."""

    def __init__(self, seed: int, stream: str, keys: np.ndarray) -> None:
        self.base = combine(seed, STREAMS[stream])
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.calls = 0

    def __len__(self) -> int:
        return len(self.keys)

    def _bits(self, shape: int | tuple[int, ...]) -> np.ndarray:
        shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
        if not shape or shape[0] != len(self.keys):
            raise ValueError(f"keyed draws give one row per key ({len(self.keys)}), asked for {shape}")
        columns = int(np.prod(shape[1:], dtype=np.int64))
        call = combine(self.base, self.calls)
        self.calls += 1
        row = mix(call ^ self.keys)
        if not shape[1:]:
            return row
        return mix(row[:, None] ^ np.arange(columns, dtype=np.uint64)[None, :]).reshape(shape)

    def random(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform in the open interval (0, 1)."""
        return ((self._bits(shape) >> np.uint64(11)).astype(np.float64) + 0.5) * _UNIT

    def integers(self, low: int, high: int, size: int | tuple[int, ...], dtype=np.int64) -> np.ndarray:
        return (low + np.floor(self.random(size) * (high - low))).astype(dtype)

    def lognormal(self, mean: float, sigma: float, size: int) -> np.ndarray:
        return np.exp(mean + sigma * special.ndtri(self.random(size)))

    def poisson(self, lam: np.ndarray, size: int | None = None) -> np.ndarray:
        lam = np.asarray(lam, dtype=np.float64)
        u = self.random(len(self.keys))
        return np.where(lam > 0, stats.poisson.ppf(u, np.maximum(lam, 1e-300)), 0).astype(np.int64)

    def choice(self, options: int, size: int, p: np.ndarray) -> np.ndarray:
        edges = np.cumsum(p) / np.sum(p)
        return np.minimum(np.searchsorted(edges, self.random(size), side="right"), options - 1)
