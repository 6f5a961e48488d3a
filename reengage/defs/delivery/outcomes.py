"""What one HTTP exchange with SendGrid tells the sender about its request's fate.

ok            2xx: accepted
rate_limited  429: not accepted; come back after `wait` seconds (Retry-After / X-RateLimit-Reset)
rejected      other 4xx: not accepted, and sending it again will not help
config        401/403/404/405: our key or host is wrong; stop the whole run
server_error  500/503/...: documented as not accepted; retry
ambiguous     timeout, dropped connection, 502/504: the provider may have it
unreachable   connection refused / unknown host: the request never left

Reasons carry the provider's words with any address redacted; never a key or a body.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError

from reengage.emails import mask_addresses

AMBIGUOUS_STATUSES = frozenset({502, 504})
# Worth another try later: the provider did not say no for good.
TRANSIENT = frozenset({"rate_limited", "server_error", "ambiguous", "unreachable"})
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)(\.|$)")


def redact(text: str, limit: int = 500) -> str:
    """Provider reasons may quote an address (SendGrid's duplicate error does); strip it."""
    return mask_addresses(text, "<address>")[:limit]


@dataclass(frozen=True)
class Outcome:
    """One HTTP exchange, classified (see the module docstring for the kinds)."""

    kind: str
    status: int | None
    reason: str
    body: Any = None
    wait: float = 0.0
    errors: tuple[dict[str, Any], ...] = ()


def call(request: Callable[[], Any], clock: Callable[[], float]) -> Outcome:
    """Make one request with the official client and classify what came back."""
    try:
        response = request()
    except HTTPError as exc:
        return classify_error(exc, clock)
    except URLError as exc:
        reason = redact(f"transport error: {exc.reason}")
        if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
            return Outcome("unreachable", None, reason)
        return Outcome("ambiguous", None, reason)
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, closed sockets
        return Outcome("ambiguous", None, redact(f"transport error: {type(exc).__name__}: {exc}"))
    body = None
    if response.body:
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
    return Outcome("ok", response.status_code, "", body)


def classify_error(exc: HTTPError, clock: Callable[[], float]) -> Outcome:
    status = int(exc.status_code)
    errors: tuple[dict[str, Any], ...] = ()
    try:
        errors = tuple(json.loads(exc.body or b"{}").get("errors") or ())
    except (ValueError, AttributeError):
        pass
    detail = "; ".join(
        f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message")) for e in errors
    )
    reason = redact(f"HTTP {status}: {detail or exc.reason}")
    if status == 429:
        return Outcome("rate_limited", status, reason, wait=rate_limit_wait(exc.headers, clock()))
    if status in (401, 403, 404, 405):
        return Outcome("config", status, reason)
    if status in AMBIGUOUS_STATUSES:
        return Outcome("ambiguous", status, reason)
    if status >= 500:
        return Outcome("server_error", status, reason)
    return Outcome("rejected", status, reason, errors=errors)


def rate_limit_wait(headers: Mapping[str, str] | None, now: float, default: float = 1.0) -> float:
    """Seconds until the provider wants us back: the later of Retry-After and X-RateLimit-Reset.

    Retry-After is seconds or an HTTP date; X-RateLimit-Reset is a unix time. Without
    either, `default`.
    """
    headers = headers or {}
    waits: list[float] = []
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            waits.append(float(retry_after))
        except ValueError:
            try:
                waits.append(parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            waits.append(float(reset) - now)
        except ValueError:
            pass
    return max([0.0, *waits]) if waits else default


def refused_personalizations(outcome: Outcome, count: int) -> dict[int, list[str]]:
    """{index: reasons} of the personalizations a rejection names, when it names only those.

    Empty when any error is about the request as a whole (or names an index the request
    of `count` personalizations does not have): then the whole request is refused.
    """
    refused: dict[int, list[str]] = {}
    for error in outcome.errors:
        match = _PERSONALIZATION_FIELD.match(str(error.get("field") or ""))
        if match is None or int(match[1]) >= count:
            return {}
        refused.setdefault(int(match[1]), []).append(
            redact(f"HTTP {outcome.status}: {error.get('field')}: {error.get('message')}")
        )
    return refused
